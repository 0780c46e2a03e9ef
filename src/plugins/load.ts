/**
 * Plugin discovery and loading. Plugins come from `plugins.modules` in config.yaml (paths
 * relative to the config file, or npm package names resolved from there), from the `plugins/`
 * folder next to the config file (every .js/.mjs/.cjs/.ts/.mts/.cts file and every folder with a
 * package.json or an index file; unless `plugins.scan_folder` is false), and from code
 * (`startWorker({ plugins })`).
 *
 * All or nothing: every plugin is imported, checked, its settings validated and its `setup` run
 * before anything is registered; any failure closes what was set up and throws (a PluginError
 * naming the plugin and the cause, or a ConfigError naming the key), so a worker never starts with
 * half of its plugins. Registration is src/plugins/register.ts.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { BUILT_IN_CONSENSUS_STRATEGIES } from '../routing/planner';
import { BUILT_IN_PROVIDER_KINDS, type Config } from '../config/schema';
import { ConfigError, PluginError } from '../errors';
import type { Logger } from '../logger';
import { PROJECT_ROOT } from '../project-root';
import type { ConsensusStrategy } from '../consensus/strategy';
import type { ComplexityEvaluator } from '../routing/complexity';
import type { RoutingStrategy } from '../routing/strategies';
import type { HookSubscriptions } from '../hooks/types';
import type { MetricsCollector } from '../metrics';
import type { LoadedPluginInfo, OrchestratorPlugin, PluginConnectorFactory, PluginContributions, PluginOrigin } from './types';

/** Keys of `plugins:` that are not a plugin's settings. */
export const RESERVED_PLUGIN_KEYS: readonly string[] = ['modules', 'scan_folder'];
/** The folder next to the config file that is scanned for plugins. */
export const PLUGIN_FOLDER = 'plugins';
const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];
const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);
/** The consensus strategy names the worker registers itself (judge when configured). */
const RESERVED_STRATEGIES = new Set([...BUILT_IN_CONSENSUS_STRATEGIES, 'judge']);

/** Everything the loaded plugins contribute, with who contributed it; nothing registered yet. */
export interface LoadedPlugins {
  plugins: LoadedPluginInfo[];
  connectors: Map<string, { plugin: string; factory: PluginConnectorFactory }>;
  consensusStrategies: Map<string, { plugin: string; strategy: ConsensusStrategy }>;
  complexityEvaluators: Map<string, { plugin: string; evaluator: ComplexityEvaluator }>;
  routingStrategies: Map<string, { plugin: string; strategy: RoutingStrategy }>;
  hooks: { plugin: string; subscriptions: HookSubscriptions }[];
  metricsCollectors: { plugin: string; collector: MetricsCollector }[];
  /** Each plugin's `close`, last loaded first; errors are logged, not thrown. */
  close(): Promise<void>;
}

export interface LoadPluginsOptions {
  config: Config;
  /** The folder of the config file: module paths and the plugins/ folder are relative to it. */
  configDir: string;
  logger: Logger;
  /** Plugins given in code (after the discovered ones). */
  plugins?: readonly OrchestratorPlugin[];
}

/** No plugins: what a runtime built without any uses. */
export function noPlugins(): LoadedPlugins {
  return { plugins: [], connectors: new Map(), consensusStrategies: new Map(), complexityEvaluators: new Map(), routingStrategies: new Map(), hooks: [], metricsCollectors: [], close: () => Promise.resolve() };
}

interface Found {
  /** How the plugin is named before it is loaded: the entry of plugins.modules, or the folder entry. */
  label: string;
  origin: PluginOrigin;
  /** The resolved module file. */
  file: string;
}

/** The module files config.yaml and the plugins/ folder name, in that order, each once. */
export function discoverPlugins(config: Config, configDir: string): Found[] {
  const found: Found[] = [];
  const seen = new Set<string>();
  const add = (f: Found) => {
    if (seen.has(f.file)) return;
    seen.add(f.file);
    found.push(f);
  };
  for (const spec of config.plugins.modules) add({ label: spec, origin: 'config', file: resolveModule(spec, configDir) });
  const folder = join(configDir, PLUGIN_FOLDER);
  if (config.plugins.scan_folder && existsSync(folder) && statSync(folder).isDirectory()) {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!MODULE_EXTENSIONS.some((e) => existsSync(join(path, `index${e}`))) && !existsSync(join(path, 'package.json'))) continue;
        add({ label: `${PLUGIN_FOLDER}/${entry.name}`, origin: 'folder', file: resolveModule(path, configDir) });
      } else if (entry.isFile() && MODULE_EXTENSIONS.includes(extname(entry.name)) && !/\.d\.[mc]?ts$/.test(entry.name)) {
        add({ label: `${PLUGIN_FOLDER}/${entry.name}`, origin: 'folder', file: path });
      }
    }
  }
  return found;
}

/** A path (relative to the config folder) or a package name, to the module file it means. */
function resolveModule(spec: string, configDir: string): string {
  const isPath = spec.startsWith('.') || spec.startsWith('/');
  const target = isPath ? resolve(configDir, spec) : spec;
  try {
    if (isPath && existsSync(target) && statSync(target).isDirectory()) {
      const index = MODULE_EXTENSIONS.map((e) => join(target, `index${e}`)).find((f) => existsSync(f));
      if (!existsSync(join(target, 'package.json')) && index) return index;
    }
    // Packages resolve from the config's folder first, then from this installation.
    return createRequire(join(configDir, 'noop.js')).resolve(target, { paths: [configDir, PROJECT_ROOT] });
  } catch (err) {
    const index = isPath ? MODULE_EXTENSIONS.map((e) => join(target, `index${e}`)).find((f) => existsSync(f)) : undefined;
    if (index) return index;
    throw new PluginError(`plugin "${spec}": cannot find the module (${isPath ? `no file or folder at ${target}` : `no package "${spec}" from ${configDir}`}): ${(err as Error).message.split('\n')[0]}`, { plugin: spec });
  }
}

/**
 * The module system's own `import()`, which bundlers (esbuild for dist/) leave alone: only for an
 * ES module with top-level await, which `require` cannot load.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- deliberately a native import(): see above
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

/**
 * Load a plugin module with node's own `require` (CommonJS, and ES modules: Node >= 20.19 loads
 * them with require). TypeScript plugins load through tsx's require hook (tsx is a development
 * dependency here: install it where a worker runs .ts plugins, or compile them to .js).
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const requireFrom = createRequire(file);
  if (TS_EXTENSIONS.has(extname(file))) {
    let tsx: { require(id: string, fromFile: string): unknown };
    try {
      tsx = resolveTsx(requireFrom);
    } catch (err) {
      throw new Error(`a TypeScript plugin needs tsx (npm install tsx), or compile it to .js: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    return tsx.require(file, file) as Record<string, unknown>;
  }
  try {
    return requireFrom(file) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
    return nativeImport(pathToFileURL(file).href);
  }
}

/** tsx's CommonJS API, from beside the plugin or from this installation. */
function resolveTsx(requireFrom: NodeJS.Require): { require(id: string, fromFile: string): unknown } {
  try {
    return requireFrom('tsx/cjs/api') as { require(id: string, fromFile: string): unknown };
  } catch {
    return createRequire(join(PROJECT_ROOT, 'noop.js'))('tsx/cjs/api') as { require(id: string, fromFile: string): unknown };
  }
}

/** The plugin object a module exports: `default` (unwrapping a compiled `default`), else `plugin`, else `module.exports` itself. */
function exportedPlugin(mod: Record<string, unknown>): unknown {
  const inner = mod['default'] as Record<string, unknown> | undefined;
  const candidates = [inner?.['default'], inner, mod['plugin'], inner?.['plugin'], mod];
  return candidates.find((c) => typeof c === 'object' && c !== null && 'name' in c);
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'expected a function');
const objectOf = (what: string, check: (v: unknown) => boolean, expected: string) =>
  z.record(z.string().min(1), z.unknown()).superRefine((record, ctx) => {
    for (const [key, value] of Object.entries(record)) if (!check(value)) ctx.addIssue({ code: 'custom', path: [key], message: `${what} "${key}": expected ${expected}` });
  });
const hasMethods = (...names: string[]) => (v: unknown) => typeof v === 'object' && v !== null && names.every((n) => typeof (v as Record<string, unknown>)[n] === 'function');

/** The shape a plugin object must have (contributions are checked by what they must be able to do). */
const ContributionsSchema = z.object({
  connectors: objectOf('connector', (v) => typeof v === 'function', 'a factory function (settings, tools) => connector').optional(),
  consensusStrategies: objectOf('consensus strategy', hasMethods('findConsensus', 'calculateConfidence'), 'an object with findConsensus and calculateConfidence').optional(),
  complexityEvaluators: objectOf('complexity evaluator', hasMethods('evaluate'), 'an object with evaluate(prompt, context)').optional(),
  routingStrategies: objectOf('routing strategy', hasMethods('rank'), 'an object with rank(input)').optional(),
  hooks: objectOf('hook', (v) => typeof v === 'function' || (Array.isArray(v) && v.every((h) => typeof h === 'function')), 'a function or a list of functions').optional(),
  metricsCollectors: z.array(z.custom<MetricsCollector>(hasMethods('collect'), 'expected a collector { name, collect(event) }')).optional(),
});
const PluginShapeSchema = ContributionsSchema.extend({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a plugin name is 1-64 chars of [a-z0-9_-]'),
  version: z.string().min(1, 'a plugin needs a version'),
  configSchema: z.custom<{ safeParse: unknown }>(hasMethods('safeParse'), 'expected a zod schema (with safeParse)').optional(),
  setup: fn.optional(),
  close: fn.optional(),
});

function shapeProblem(value: unknown, schema: z.ZodType): string | null {
  const parsed = schema.safeParse(value);
  if (parsed.success) return null;
  return parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(plugin)'}: ${i.message}`).join('; ');
}

function contributionNames(c: PluginContributions): LoadedPluginInfo['provides'] {
  return {
    connectors: Object.keys(c.connectors ?? {}),
    consensusStrategies: Object.keys(c.consensusStrategies ?? {}),
    complexityEvaluators: Object.keys(c.complexityEvaluators ?? {}),
    routingStrategies: Object.keys(c.routingStrategies ?? {}),
    hooks: Object.keys(c.hooks ?? {}),
    metricsCollectors: (c.metricsCollectors ?? []).map((m) => m.name),
  };
}

function mergeContributions(a: PluginContributions, b: PluginContributions): PluginContributions {
  const out: PluginContributions = {};
  for (const key of ['connectors', 'consensusStrategies', 'complexityEvaluators', 'routingStrategies'] as const) {
    const merged = { ...a[key], ...b[key] };
    if (Object.keys(merged).length > 0) (out as Record<string, unknown>)[key] = merged;
  }
  const hooks: Record<string, unknown[]> = {};
  for (const h of [a.hooks, b.hooks]) for (const [event, list] of Object.entries(h ?? {})) (hooks[event] ??= []).push(...(Array.isArray(list) ? list : [list]));
  if (Object.keys(hooks).length > 0) out.hooks = hooks;
  const collectors = [...(a.metricsCollectors ?? []), ...(b.metricsCollectors ?? [])];
  if (collectors.length > 0) out.metricsCollectors = collectors;
  return out;
}

const CONTRIBUTION_KEYS = ['connectors', 'consensusStrategies', 'complexityEvaluators', 'routingStrategies', 'hooks', 'metricsCollectors'] as const;
function contributionsOf(p: OrchestratorPlugin): PluginContributions {
  const out: PluginContributions = {};
  for (const key of CONTRIBUTION_KEYS) if (p[key] !== undefined) (out as Record<string, unknown>)[key] = p[key];
  return out;
}

/**
 * Load, check and set up every plugin; register nothing. Throws PluginError (a module that cannot
 * be found or imported, no plugin exported, a malformed plugin, a duplicate name, a setup that
 * threw, two plugins providing the same thing) or ConfigError (`plugins.<name>.<key>` invalid,
 * a settings section no plugin reads, a provider kind or routing strategy nobody provides).
 */
export async function loadPlugins(options: LoadPluginsOptions): Promise<LoadedPlugins> {
  const { config, configDir, logger } = options;
  const entries: { plugin: OrchestratorPlugin; origin: PluginOrigin; source?: string; label: string }[] = [];
  for (const found of discoverPlugins(config, configDir)) {
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(found.file);
    } catch (err) {
      throw new PluginError(`plugin "${found.label}": cannot load ${found.file}: ${(err as Error).message.split('\n')[0]}`, { plugin: found.label, source: found.file }, { cause: err });
    }
    const plugin = exportedPlugin(mod);
    if (plugin === undefined) {
      throw new PluginError(`plugin "${found.label}": ${found.file} exports no plugin (export default definePlugin({ name, version, ... }), module.exports = {...}, or a named export "plugin")`, { plugin: found.label, source: found.file });
    }
    entries.push({ plugin: plugin as OrchestratorPlugin, origin: found.origin, source: found.file, label: found.label });
  }
  for (const plugin of options.plugins ?? []) entries.push({ plugin, origin: 'code', label: typeof plugin.name === 'string' ? plugin.name : '(in code)' });

  // The shape of each, then names: unique, and not a reserved key of `plugins:`.
  const byName = new Map<string, (typeof entries)[number]>();
  for (const entry of entries) {
    const problem = shapeProblem(entry.plugin, PluginShapeSchema);
    const name = typeof entry.plugin.name === 'string' ? entry.plugin.name : entry.label;
    if (problem) throw new PluginError(`plugin "${name}"${entry.source ? ` (${entry.source})` : ''} is not a valid plugin: ${problem}`, { plugin: name, ...(entry.source && { source: entry.source }) });
    if (RESERVED_PLUGIN_KEYS.includes(name)) throw new PluginError(`plugin "${name}": the name is reserved (plugins.${name} is a setting)`, { plugin: name });
    const earlier = byName.get(name);
    if (earlier) {
      throw new PluginError(`plugin "${name}" is loaded twice: from ${earlier.source ?? 'code'} and from ${entry.source ?? 'code'} (plugin names must be unique)`, { plugin: name, sources: [earlier.source ?? 'code', entry.source ?? 'code'] });
    }
    byName.set(name, entry);
  }

  // Settings: every section belongs to a loaded plugin and passes its schema.
  const issues: { path: string; message: string }[] = [];
  const settings = new Map<string, unknown>();
  for (const [key, section] of Object.entries(config.plugins)) {
    if (RESERVED_PLUGIN_KEYS.includes(key)) continue;
    if (!byName.has(key)) issues.push({ path: `plugins.${key}`, message: `no loaded plugin is named "${key}" (loaded: ${[...byName.keys()].join(', ') || 'none'})` });
    else settings.set(key, section);
  }
  for (const [name, { plugin }] of byName) {
    const section = settings.get(name) ?? {};
    if (!plugin.configSchema) {
      const empty = typeof section === 'object' && section !== null && Object.keys(section).length === 0;
      if (!empty) issues.push({ path: `plugins.${name}`, message: `plugin "${name}" takes no settings` });
      settings.set(name, {});
      continue;
    }
    const parsed = plugin.configSchema.safeParse(section);
    if (parsed.success) settings.set(name, parsed.data);
    else for (const i of parsed.error.issues) issues.push({ path: ['plugins', name, ...i.path.map(String)].join('.'), message: i.message });
  }
  if (issues.length > 0) throw new ConfigError(`plugin settings are invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);

  // Setup, in order; a failure closes those already set up.
  const setUp: OrchestratorPlugin[] = [];
  const closeAll = async () => {
    for (const plugin of [...setUp].reverse()) {
      try {
        await plugin.close?.();
      } catch (err) {
        logger.warn({ plugin: plugin.name, err: (err as Error).message }, 'plugin close failed');
      }
    }
  };
  const loaded = noPlugins();
  loaded.close = closeAll;
  try {
    for (const [name, entry] of byName) {
      const { plugin } = entry;
      let returned: unknown;
      try {
        returned = await plugin.setup?.({ name, config: settings.get(name), configDir, logger: logger.child({ plugin: name }) });
      } catch (err) {
        throw new PluginError(`plugin "${name}": setup failed: ${(err as Error).message}`, { plugin: name }, { cause: err });
      } finally {
        setUp.push(plugin);
      }
      if (returned !== undefined && returned !== null) {
        const problem = typeof returned === 'object' ? shapeProblem(returned, ContributionsSchema) : 'setup returned a non-object';
        if (problem) throw new PluginError(`plugin "${name}": setup returned invalid contributions: ${problem}`, { plugin: name });
      }
      const contributions = mergeContributions(contributionsOf(plugin), returned ?? {});
      collect(loaded, name, contributions);
      loaded.plugins.push({ name, version: plugin.version, origin: entry.origin, ...(entry.source && { source: entry.source }), provides: contributionNames(contributions) });
    }
    checkConfigAgainstPlugins(config, loaded);
  } catch (err) {
    await closeAll();
    throw err;
  }
  return loaded;
}

/** Add one plugin's contributions; a name another plugin (or the worker) already has is refused. */
function collect(into: LoadedPlugins, plugin: string, c: PluginContributions): void {
  const clash = (what: string, name: string, other: string) => new PluginError(`plugin "${plugin}": ${what} "${name}" is already provided by ${other}`, { plugin });
  for (const [kind, factory] of Object.entries(c.connectors ?? {})) {
    if ((BUILT_IN_PROVIDER_KINDS as readonly string[]).includes(kind)) throw clash('provider kind', kind, 'the worker (a built-in kind)');
    if (!/^[a-z][a-z0-9_-]*$/.test(kind)) throw new PluginError(`plugin "${plugin}": provider kind "${kind}" is not [a-z0-9_-]`, { plugin });
    const other = into.connectors.get(kind);
    if (other) throw clash('provider kind', kind, `plugin "${other.plugin}"`);
    into.connectors.set(kind, { plugin, factory });
  }
  for (const [name, strategy] of Object.entries(c.consensusStrategies ?? {})) {
    if (RESERVED_STRATEGIES.has(name)) throw clash('consensus strategy', name, 'the worker (a built-in strategy)');
    if (!/^[a-z0-9_-]{1,64}$/.test(name)) throw new PluginError(`plugin "${plugin}": consensus strategy "${name}" is not 1-64 chars of [a-z0-9_-] (a request names it)`, { plugin });
    const other = into.consensusStrategies.get(name);
    if (other) throw clash('consensus strategy', name, `plugin "${other.plugin}"`);
    into.consensusStrategies.set(name, { plugin, strategy });
  }
  for (const [taskType, evaluator] of Object.entries(c.complexityEvaluators ?? {})) {
    const other = into.complexityEvaluators.get(taskType);
    if (other) throw clash('complexity evaluator for task type', taskType, `plugin "${other.plugin}"`);
    into.complexityEvaluators.set(taskType, { plugin, evaluator });
  }
  for (const [name, strategy] of Object.entries(c.routingStrategies ?? {})) {
    const other = into.routingStrategies.get(name);
    if (other) throw clash('routing strategy', name, `plugin "${other.plugin}"`);
    into.routingStrategies.set(name, { plugin, strategy });
  }
  if (c.hooks && Object.keys(c.hooks).length > 0) into.hooks.push({ plugin, subscriptions: c.hooks });
  for (const collector of c.metricsCollectors ?? []) into.metricsCollectors.push({ plugin, collector });
}

/**
 * What config.yaml names that only plugins can provide: provider kinds (`models.<name>.kind`) and
 * routing strategies (`routing.custom_strategies`). Without the plugin, a ConfigError naming the key.
 */
export function checkConfigAgainstPlugins(config: Config, loaded: Pick<LoadedPlugins, 'connectors' | 'routingStrategies'>): void {
  const issues: { path: string; message: string }[] = [];
  const kinds = [...BUILT_IN_PROVIDER_KINDS, ...loaded.connectors.keys()];
  for (const [name, provider] of Object.entries(config.models)) {
    if (!kinds.includes(provider.kind)) issues.push({ path: `models.${name}.kind`, message: `unknown provider kind "${provider.kind}" (known: ${kinds.join(', ')}; a plugin may provide more)` });
  }
  const strategies = [...loaded.routingStrategies.keys()];
  for (const [taskType, name] of Object.entries(config.routing.custom_strategies)) {
    if (!strategies.includes(name)) issues.push({ path: `routing.custom_strategies.${taskType}`, message: `unknown routing strategy "${name}" (provided by plugins: ${strategies.join(', ') || 'none'})` });
  }
  if (issues.length > 0) throw new ConfigError(`config is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);
}
