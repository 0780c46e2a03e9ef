/**
 * `plugins` command for the orchestrator CLI (client/cli.ts calls addPluginsCommands(program)):
 *   plugins [--json]   the plugins a worker started with CONFIG_PATH would load (config.yaml
 *                      plugins.modules and the plugins/ folder next to it), what each provides
 * The plugins are loaded and set up exactly as at worker start (settings validated, kinds checked),
 * then closed; a plugin that fails is reported with its name and the cause, and the exit code is 1.
 */
import type { Command } from 'commander';
import type { LoadedPluginInfo } from '../src/plugins/types';

export interface PluginsCliOptions {
  /** Default: load them from CONFIG_PATH as a worker does. */
  list?: () => Promise<LoadedPluginInfo[]>;
  out?: (line: string) => void;
}

async function listFromConfig(): Promise<LoadedPluginInfo[]> {
  // Loaded on use, not at the top: `--help` needs none of this.
  const [path, { loadEnv }, { loadConfig }, { loadPlugins }, { createLogger }] = await Promise.all([
    import('node:path'),
    import('../src/config/env'),
    import('../src/config/load'),
    import('../src/plugins/load'),
    import('../src/logger'),
  ]);
  const env = loadEnv();
  const config = loadConfig(env.CONFIG_PATH);
  const loaded = await loadPlugins({ config, configDir: path.dirname(path.resolve(env.CONFIG_PATH)), logger: createLogger('warn', 'cli') });
  await loaded.close();
  return loaded.plugins;
}

const PROVIDES: [keyof LoadedPluginInfo['provides'], string][] = [
  ['connectors', 'provider kinds'],
  ['consensusStrategies', 'consensus strategies'],
  ['complexityEvaluators', 'complexity evaluators (task types)'],
  ['routingStrategies', 'routing strategies'],
  ['hooks', 'hooks'],
  ['metricsCollectors', 'metrics collectors'],
];

export function addPluginsCommands(program: Command, cli: PluginsCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const list = cli.list ?? listFromConfig;
  program
    .command('plugins')
    .description('list the plugins a worker would load (config.yaml plugins.modules, the plugins/ folder) and what they provide')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const plugins = await list();
      if (o.json) {
        out(JSON.stringify(plugins, null, 2));
        return;
      }
      if (plugins.length === 0) {
        out('no plugins (list modules under plugins.modules in config.yaml, or put them in a plugins/ folder next to it)');
        return;
      }
      for (const p of plugins) {
        out(`${p.name}@${p.version}  (${p.origin}${p.source ? `: ${p.source}` : ''})`);
        for (const [key, label] of PROVIDES) if (p.provides[key].length > 0) out(`    ${label.padEnd(36)} ${p.provides[key].join(', ')}`);
      }
    });
  return program;
}
