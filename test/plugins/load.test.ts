/**
 * Plugin discovery and loading (src/plugins/load.ts), no services: plugins from the plugins/
 * folder next to the config, from a package path and an npm package name in plugins.modules, and
 * from code; every failure (missing module, missing export, malformed plugin, bad settings, setup
 * that throws, duplicate names, clashes, unknown provider kinds) refused with the plugin's name or
 * the config key, and nothing set up left open.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import type { Config, ConfigInput } from '../../src/config/schema';
import { ConfigError, PluginError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { checkConfigAgainstPlugins, loadPlugins, noPlugins } from '../../src/plugins/load';
import type { OrchestratorPlugin } from '../../src/plugins/types';
import { buildConnectors } from '../../src/providers/registry';
import { REPO_ROOT } from '../helpers/config';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const logger = createLogger('silent', 'test');

/** A config folder with the given files (paths relative to it). */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'orch-plugins-'));
  roots.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function config(extra: Partial<ConfigInput> = {}, models: ConfigInput['models'] = {}): Config {
  return parseConfig({
    models: { openai: { kind: 'openai', default_model: 'gpt-4o-mini', api_key_env: 'OPENAI_API_KEY' }, ...models },
    pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 }, 'echo-1': { input: 1, output: 2 } },
    routing: { default_providers: ['openai'] },
    ...extra,
  });
}

/** A CommonJS plugin whose setup appends to a global log (so the test sees setup and close order). */
const cjsPlugin = (name: string, body = '') => `
const log = (globalThis.__pluginLog ??= []);
module.exports = {
  name: ${JSON.stringify(name)},
  version: '0.1.0',
  setup() { log.push('setup:${name}'); ${body} },
  close() { log.push('close:${name}'); },
  consensusStrategies: {
    '${name}-first': { name: '${name}-first', findConsensus: (r) => ({ chosenIndex: 0, confidence: 1, agreement: 1, dissenting: [] }), calculateConfidence: () => 1 },
  },
};
`;

/** An ES module plugin with a connector kind and a settings schema written without zod (anything with safeParse). */
const esmConnectorPlugin = `
export default {
  name: 'echo',
  version: '2.0.0',
  configSchema: {
    safeParse(input) {
      const prefix = input.prefix ?? 'echo: ';
      if (typeof prefix !== 'string') return { success: false, error: { issues: [{ path: ['prefix'], message: 'expected a string' }] } };
      return { success: true, data: { prefix } };
    },
  },
  setup({ config }) {
    return {
      connectors: {
        echo: (settings) => ({
          async generate(request) { return { content: config.prefix + request.prompt, tokensIn: 3, tokensOut: 4 }; },
          async validateConnection() { return true; },
          getSupportedModels() { return [settings.defaultModel]; },
        }),
      },
    };
  },
};
`;

function log(): string[] {
  return ((globalThis as { __pluginLog?: string[] }).__pluginLog ??= []);
}

describe('loadPlugins: discovery', () => {
  it('loads plugins from the plugins/ folder, a package path and a package name, in order, and lists what each provides', async () => {
    const dir = folder({
      'plugins/alpha.cjs': cjsPlugin('alpha'),
      'plugins/echo/index.mjs': esmConnectorPlugin,
      'plugins/README.md': 'not a plugin',
      'vendor/beta/package.json': JSON.stringify({ name: 'beta', main: 'main.js' }),
      'vendor/beta/main.js': cjsPlugin('beta'),
      'node_modules/orchestrator-plugin-gamma/package.json': JSON.stringify({ name: 'orchestrator-plugin-gamma', main: 'index.js' }),
      'node_modules/orchestrator-plugin-gamma/index.js': cjsPlugin('gamma'),
    });
    const c = config({ plugins: { modules: ['./vendor/beta', 'orchestrator-plugin-gamma'], echo: { prefix: '>> ' } } }, { echoes: { kind: 'echo', default_model: 'echo-1' } });
    const loaded = await loadPlugins({ config: c, configDir: dir, logger });
    expect(loaded.plugins.map((p) => [p.name, p.version, p.origin])).toEqual([
      ['beta', '0.1.0', 'config'],
      ['gamma', '0.1.0', 'config'],
      ['alpha', '0.1.0', 'folder'],
      ['echo', '2.0.0', 'folder'],
    ]);
    expect(loaded.plugins.find((p) => p.name === 'beta')?.source).toBe(join(dir, 'vendor/beta/main.js'));
    expect(loaded.plugins.find((p) => p.name === 'echo')?.provides.connectors).toEqual(['echo']);
    expect([...loaded.consensusStrategies.keys()]).toEqual(['beta-first', 'gamma-first', 'alpha-first']);

    // The connector kind serves the provider, with the settings the plugin's schema parsed.
    const { connectors, emulated } = buildConnectors({ config: c, env: {}, emulatorUrl: 'http://127.0.0.1:1', pluginConnectors: loaded.connectors });
    expect(emulated).toEqual(['openai']);
    const echo = connectors.get('echoes')!;
    expect(echo.kind).toBe('echo');
    const answer = await echo.generate({ model: 'echo-1', prompt: 'hi' });
    expect(answer).toMatchObject({ content: '>> hi', provider: 'echoes', model: 'echo-1', tokensIn: 3, tokensOut: 4, finishReason: 'stop', providerRequestId: null, confidence: null });
    await loaded.close();
  });

  it('scan_folder: false leaves the plugins/ folder alone; a module listed and also in the folder loads once', async () => {
    const dir = folder({ 'plugins/alpha.cjs': cjsPlugin('alpha') });
    expect((await loadPlugins({ config: config({ plugins: { scan_folder: false } }), configDir: dir, logger })).plugins).toEqual([]);
    const both = await loadPlugins({ config: config({ plugins: { modules: ['./plugins/alpha.cjs'] } }), configDir: dir, logger });
    expect(both.plugins.map((p) => p.name)).toEqual(['alpha']);
  });

  it('loads a TypeScript plugin (the example http-connector) through tsx', async () => {
    const loaded = await loadPlugins({ config: config({ plugins: { modules: ['./examples/plugins/http-connector'] } }), configDir: REPO_ROOT, logger });
    expect(loaded.plugins).toMatchObject([{ name: 'http-connector', version: '1.0.0', origin: 'config', source: join(REPO_ROOT, 'examples/plugins/http-connector/index.ts'), provides: { connectors: ['http_api'] } }]);
  });
});

describe('loadPlugins: failures stop everything, naming the plugin or the key', () => {
  async function refused(files: Record<string, string>, extra: Partial<ConfigInput> = {}, code: OrchestratorPlugin[] = []): Promise<Error> {
    const dir = folder(files);
    log().length = 0;
    const err = await loadPlugins({ config: config(extra), configDir: dir, logger, plugins: code }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err, 'expected loadPlugins to fail').not.toBeNull();
    return err!;
  }

  it('a plugin whose setup throws: PluginError naming it and the cause; those set up before are closed', async () => {
    const err = await refused({ 'plugins/a-good.cjs': cjsPlugin('good'), 'plugins/b-bad.cjs': cjsPlugin('bad', "throw new Error('database unreachable');") });
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toBe('plugin "bad": setup failed: database unreachable');
    expect((err as PluginError).details).toMatchObject({ plugin: 'bad' });
    expect(log()).toEqual(['setup:good', 'setup:bad', 'close:bad', 'close:good']);
  });

  it('a module that exports no plugin, or does not load, or is not there', async () => {
    const none = await refused({ 'plugins/empty.js': 'module.exports = { hello: 1 };' });
    expect(none).toBeInstanceOf(PluginError);
    expect(none.message).toMatch(/^plugin "plugins\/empty\.js": .*empty\.js exports no plugin/);
    const broken = await refused({ 'plugins/broken.cjs': "require('a-package-that-is-not-installed');" });
    expect(broken.message).toMatch(/^plugin "plugins\/broken\.cjs": cannot load .*broken\.cjs: Cannot find module 'a-package-that-is-not-installed'/);
    const missing = await refused({}, { plugins: { modules: ['./nowhere.js', 'no-such-orchestrator-plugin'] } });
    expect(missing.message).toMatch(/^plugin "\.\/nowhere\.js": cannot find the module/);
  });

  it('a malformed plugin object: what is wrong, by field', async () => {
    const err = await refused({ 'plugins/odd.cjs': "module.exports = { name: 'Odd Name', version: '', connectors: { thing: 42 } };" });
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toContain('plugin "Odd Name"');
    expect(err.message).toContain('name: a plugin name is 1-64 chars of [a-z0-9_-]');
    expect(err.message).toContain('version: a plugin needs a version');
    expect(err.message).toContain('connectors.thing: connector "thing": expected a factory function');
  });

  it('duplicate names are refused, naming both sources', async () => {
    const err = await refused({ 'plugins/one.cjs': cjsPlugin('same'), 'plugins/two.cjs': cjsPlugin('same') });
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toMatch(/^plugin "same" is loaded twice: from .*one\.cjs and from .*two\.cjs/);
    expect(log()).toEqual([]);
    const inCode = await refused({ 'plugins/one.cjs': cjsPlugin('same') }, {}, [{ name: 'same', version: '1' }]);
    expect(inCode.message).toMatch(/^plugin "same" is loaded twice: from .*one\.cjs and from code/);
  });

  it('bad settings name plugins.<name>.<key>; a section no plugin reads, and settings for a plugin without a schema, are refused', async () => {
    const bad = await refused({ 'plugins/echo.mjs': esmConnectorPlugin }, { plugins: { echo: { prefix: 7 } } });
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).issues).toEqual([{ path: 'plugins.echo.prefix', message: 'expected a string' }]);
    const orphan = await refused({ 'plugins/alpha.cjs': cjsPlugin('alpha') }, { plugins: { omega: { x: 1 }, alpha: { y: 2 } } });
    expect((orphan as ConfigError).issues).toEqual([
      { path: 'plugins.omega', message: 'no loaded plugin is named "omega" (loaded: alpha)' },
      { path: 'plugins.alpha', message: 'plugin "alpha" takes no settings' },
    ]);
    expect(log()).toEqual([]);
  });

  it('zod schemas work as configSchema: a zod issue names plugins.<name>.<key>', async () => {
    const { z } = await import('zod');
    const plugin: OrchestratorPlugin<{ url: string }> = { name: 'zoddy', version: '1.0.0', configSchema: z.object({ url: z.url() }).strict() };
    const err = await refused({}, { plugins: { zoddy: { url: 'not a url', extra: true } } }, [plugin]);
    expect((err as ConfigError).issues.map((i) => i.path).sort()).toEqual(['plugins.zoddy', 'plugins.zoddy.url']);
    expect(err.message).toMatch(/plugins\.zoddy\.url: /);
  });

  it('clashes: a built-in kind or strategy, or the same kind from two plugins', async () => {
    const builtIn = await refused({}, {}, [{ name: 'x', version: '1', connectors: { openai: () => ({}) as never } }]);
    expect(builtIn.message).toBe('plugin "x": provider kind "openai" is already provided by the worker (a built-in kind)');
    const strategy = await refused({}, {}, [{ name: 'x', version: '1', consensusStrategies: { voting: { name: 'voting', findConsensus: () => ({ chosenIndex: 0, confidence: 1, agreement: 1, dissenting: [] }), calculateConfidence: () => 1 } } }]);
    expect(strategy.message).toBe('plugin "x": consensus strategy "voting" is already provided by the worker (a built-in strategy)');
    const factory = () => ({}) as never;
    const twice = await refused({}, {}, [
      { name: 'x', version: '1', connectors: { mine: factory } },
      { name: 'y', version: '1', connectors: { mine: factory } },
    ]);
    expect(twice.message).toBe('plugin "y": provider kind "mine" is already provided by plugin "x"');
  });
});

describe('provider kinds only plugins provide', () => {
  it('parse accepts any well-formed kind; without the plugin, models.<name>.kind is a ConfigError listing the known kinds', async () => {
    const c = config({}, { mine: { kind: 'http_api', default_model: 'echo-1', base_url: 'http://127.0.0.1:9/' } });
    expect(c.models['mine']!.kind).toBe('http_api');
    let err: unknown = null;
    try {
      checkConfigAgainstPlugins(c, noPlugins());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path: 'models.mine.kind', message: 'unknown provider kind "http_api" (known: openai, anthropic, google, openai_compatible; a plugin may provide more)' }]);
    // Loading plugins checks the same, so a worker never starts with such a provider.
    const dir = folder({ 'plugins/alpha.cjs': cjsPlugin('alpha') });
    await expect(loadPlugins({ config: c, configDir: dir, logger })).rejects.toThrow(/models\.mine\.kind: unknown provider kind "http_api"/);
    expect(log()).toContain('close:alpha');
    expect(() => config({}, { bad: { kind: 'Not A Kind', default_model: 'echo-1' } })).toThrow(/models\.bad\.kind: provider kinds are \[a-z0-9_-\]/);
  });

  it('routing.custom_strategies naming a strategy no plugin provides is a ConfigError naming the key', () => {
    const c = config({ routing: { default_providers: ['openai'], custom_strategies: { code_generation: 'cheapest' } } });
    expect(() => checkConfigAgainstPlugins(c, noPlugins())).toThrow(/routing\.custom_strategies\.code_generation: unknown routing strategy "cheapest"/);
  });
});
