/**
 * Everything a worker process needs besides its Temporal connection: configuration, the
 * provider connectors (with the local emulator for providers that have no key), the database
 * (migrated), the registries, and the routing policy cache. Shared by worker.ts, the tests
 * and the benchmarks so they all run the same wiring.
 *
 * Nothing here waits on the routing-policy workflow: the first policy is the latest stored version
 * (or config.yaml's base when none is stored), and the cache asks the workflow in the background,
 * each query bounded, so a worker that is the only one able to answer it never stalls its own start.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import { createActivities, type Activities } from '../activities';
import { createConsensusActivities, type ConsensusActivities } from '../activities/consensus';
import { createImprovementActivities, type ImprovementActivities } from '../activities/improvement';
import { createResilienceActivities, type ResilienceActivities } from '../activities/resilience';
import { createRetentionActivities, type RetentionActivities } from '../activities/retention';
import { createRoutingActivities, type RoutingActivities } from '../activities/routing';
import { createKeyStore } from './auth/keys';
import { createPrismaEmbeddingCache, defaultConsensusRegistry, embeddingModelFromConfig } from './consensus';
import type { EmbeddingModel } from './consensus/embeddings';
import type { ConsensusRegistry } from './consensus/strategy';
import { EMULATED_PROVIDER_KINDS, type Config } from './config/schema';
import type { Env } from './config/env';
import { startEmulator, type RunningEmulator } from './emulator/server';
import type { Logger } from './logger';
import { applyMigrations } from './memory/migrate';
import { createMemoryStore, type MemoryStore } from './memory/repository';
import { createPrismaClient, databaseProviderOf } from './memory/client';
import { RunningExperiments } from './improvement/live';
import { createImprovementStore } from './improvement/store';
import { createResilience } from './resilience';
import { withClock } from './resilience/clock';
import { createStatsQueries } from './memory/stats-queries';
import { buildConnectors } from './providers/registry';
import { checkConfigAgainstPlugins, noPlugins, type LoadedPlugins } from './plugins/load';
import { registerPlugins } from './plugins/register';
import type { LoadedPluginInfo } from './plugins/types';
import { RoutingStrategyRegistry } from './routing/strategies';
import { ConfigError } from './errors';
import type { ModelConnector } from './providers/types';
import type { StreamBus } from './streaming/bus';
import { ComplexityEvaluatorRegistry } from './routing/complexity';
import { LlmComplexityEvaluator } from './routing/llm-evaluator';
import { ROUTING_POLICY_WORKFLOW_ID } from './routing/constants';
import { baseFromConfig, canonicalBase, knownProvidersFromConfig, policyFromConfig, type RoutingBaseConfig } from './routing/policy';
import { databasePolicySource, RoutingPolicyCache, workflowPolicySource, type PolicySource } from './routing/policy-cache';
import { metricsFromConfig, startMetricsServer, type Metrics, type MetricsServer } from './metrics';
import { EventHooks } from './hooks';

export interface WorkerRuntime {
  config: Config;
  /** Request activities, the routing-policy workflow's, consensus (embeddings) and resilience activities. */
  activities: Activities & RoutingActivities & ConsensusActivities & ResilienceActivities & ImprovementActivities & RetentionActivities;
  memory: MemoryStore;
  evaluators: ComplexityEvaluatorRegistry;
  consensus: ConsensusRegistry;
  /** Providers answered by the local emulator (no API key configured). */
  emulatedProviders: string[];
  emulatorUrl: string | null;
  /** The in-process emulator, when this runtime started one (tests drive its fault settings). */
  emulator: RunningEmulator | null;
  /** The policy version planning started with (the latest stored one; 0 when none is stored yet). */
  routingPolicyVersion: number;
  /** This worker's config.yaml routing base, announced to the routing-policy workflow at start (client/routing.ts applyBaseConfig). */
  routingBase: RoutingBaseConfig;
  /** The routing policy requests are planned with (refreshed from the routing-policy workflow or the database). */
  policyCache: RoutingPolicyCache;
  /** Running A/B experiments requests are assigned to. */
  experiments: RunningExperiments;
  /**
   * This process's metrics (src/metrics): `runtime.metrics.addCollector({ name, collect(event) })`
   * in runWorker's `setup` gets every metric event. Records nothing when framework.enable_metrics is false.
   */
  metrics: Metrics;
  /** GET /metrics of this runtime (metricsListen given and metrics enabled), else null. */
  metricsServer: MetricsServer | null;
  /**
   * The worker's event hooks (src/hooks): `runtime.hooks.on('request.completed', hook)` in
   * runWorker's `setup`, or a plugin's `hooks`. Delivered after the emitting activity's result is
   * decided, each call bounded by hooks.timeout_ms; closed (in-flight calls awaited) on close().
   */
  hooks: EventHooks;
  /** Routing strategies by name (plugins'; `routing.custom_strategies` names which task type uses which). */
  routingStrategies: RoutingStrategyRegistry;
  /** The plugins this runtime registered (src/plugins), in load order. */
  plugins: LoadedPluginInfo[];
  close(): Promise<void>;
}

export interface RuntimeOptions {
  config: Config;
  env: Env;
  logger: Logger;
  /** Environment holding provider API keys (defaults to process.env). */
  secrets?: NodeJS.ProcessEnv;
  /** Start an in-process emulator on this port when providers need one and EMULATOR_URL is unset (0 = any free port). */
  emulatorPort?: number;
  /** Skip applying migrations (when a separate migrate step owns it). */
  skipMigrations?: boolean;
  /**
   * A Temporal client: the policy cache then reads the routing-policy workflow first (with its
   * statistics snapshot) and the database when the workflow cannot answer. Without one, the
   * database only.
   */
  temporalClient?: Client;
  /** Default ROUTING_POLICY_WORKFLOW_ID. */
  routingPolicyWorkflowId?: string;
  /** How often the worker re-reads the policy (default 2000 ms). */
  policyRefreshMs?: number;
  /** How long one query to the routing-policy workflow may take before the database answers instead (default 2000 ms). */
  policyQueryTimeoutMs?: number;
  /** The streaming side channel provider calls of `stream: true` requests publish to (src/streaming/bus.ts); absent: calls are not streamed. */
  streamBus?: StreamBus;
  /** The process's metrics, when another part of the process already made them (the gateway); default: made from config.framework.enable_metrics. */
  metrics?: Metrics;
  /** Serve GET /metrics here (METRICS_HOST / METRICS_PORT; port 0: any free one); absent: no server. Ignored when metrics are off. */
  metricsListen?: { host: string; port: number };
  /**
   * Connectors by provider name that replace the ones config.yaml would build (the testing kit's
   * MockModelConnector, src/testing). Each name must be an enabled provider of `models`; such a
   * provider needs no API key and never the emulator. Routing, resilience, pricing and consensus
   * treat it like any other.
   */
  connectors?: ReadonlyMap<string, ModelConnector> | Readonly<Record<string, ModelConnector>>;
  /**
   * The clock (epoch ms) circuit breakers, rate limits, budgets and the times a refused call may be
   * retried are judged by; default the wall clock. The testing kit's time-skipping environment passes
   * the test server's time, so a cooldown ends when the workflow's skipped timer says it has.
   */
  clock?: () => number;
  /**
   * Loaded plugins (src/plugins/load.ts loadPlugins; startWorker loads them from config.yaml):
   * their connectors serve their provider kinds, the rest is registered before anything runs, and
   * they are closed last on close(). Default: none.
   */
  plugins?: LoadedPlugins;
}

/** The overrides of `RuntimeOptions.connectors`, checked against the configuration. */
function connectorOverrides(config: Config, given: RuntimeOptions['connectors']): Map<string, ModelConnector> {
  const overrides = new Map<string, ModelConnector>(given instanceof Map ? (given as ReadonlyMap<string, ModelConnector>) : Object.entries((given ?? {}) as Readonly<Record<string, ModelConnector>>));
  const issues = [...overrides.keys()]
    .filter((name) => !config.models[name]?.enabled)
    .map((name) => ({ path: `connectors.${name}`, message: config.models[name] ? `provider "${name}" is disabled in models` : `no provider "${name}" in models (known: ${Object.keys(config.models).join(', ')})` }));
  if (issues.length > 0) throw new ConfigError(`connector overrides: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  return overrides;
}

/** The LLM complexity evaluator when `routing.llm_evaluator.enabled`, else null (the default evaluator). */
function llmEvaluator(config: Config, connectors: ReadonlyMap<string, ModelConnector>, logger: Logger): LlmComplexityEvaluator | null {
  const settings = config.routing.llm_evaluator;
  if (!settings?.enabled) return null;
  const connector = connectors.get(settings.provider);
  if (!connector) throw new ConfigError(`routing.llm_evaluator: provider "${settings.provider}" has no connector (is it enabled?)`, [{ path: 'routing.llm_evaluator.provider', message: 'no connector' }]);
  return new LlmComplexityEvaluator({ connector, model: settings.model ?? config.models[settings.provider]!.default_model, timeoutMs: settings.timeout * 1000, logger });
}

/**
 * The routing base of a configuration as a worker announces it: only the fields the policy takes
 * from config.yaml (strategy, rules, default route) are hashed, so a change elsewhere (a base URL,
 * prices, consensus settings) never makes a routing version.
 */
export function routingBaseConfig(config: Config): RoutingBaseConfig {
  const base = baseFromConfig(config);
  return {
    base,
    knownProviders: knownProvidersFromConfig(config),
    hash: createHash('sha256').update(canonicalBase(base)).digest('hex').slice(0, 16),
    source: `worker@${hostname()}:${process.pid}`,
  };
}

export async function createWorkerRuntime(options: RuntimeOptions): Promise<WorkerRuntime> {
  const { config, env, logger } = options;
  const secrets = options.secrets ?? process.env;
  const overrides = connectorOverrides(config, options.connectors);
  // Providers with an override are built by nobody here: no key, no emulator.
  const built = overrides.size === 0 ? config : { ...config, models: Object.fromEntries(Object.entries(config.models).filter(([name]) => !overrides.has(name))) };

  let emulator: RunningEmulator | null = null;
  let emulatorUrl = env.EMULATOR_URL ?? null;
  const plugins = options.plugins ?? noPlugins();
  // Provider kinds nobody provides, and routing strategies nobody registered, fail before anything starts.
  checkConfigAgainstPlugins(config, plugins);
  // Plugin kinds and openai_compatible call their own endpoints; only the built-in SDK kinds are emulated.
  const emulatable = Object.values(built.models).filter((p) => p.enabled && (EMULATED_PROVIDER_KINDS as readonly string[]).includes(p.kind));
  const needsEmulator = config.emulator.mode === 'always' ? emulatable.length > 0 || overrides.size === 0 : config.emulator.mode === 'auto' && emulatable.some((p) => !(p.api_key_env && secrets[p.api_key_env]));
  if (needsEmulator && !emulatorUrl) {
    const port = options.emulatorPort ?? config.emulator.port;
    try {
      emulator = await startEmulator({ host: config.emulator.host, port, settings: config.emulator });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      // Another process (a second worker, a standalone emulator) holds the port: take any free one.
      logger.warn({ port }, 'emulator port in use; starting the in-process emulator on a free port');
      emulator = await startEmulator({ host: config.emulator.host, port: 0, settings: config.emulator });
    }
    emulatorUrl = emulator.url;
  }

  const closers: (() => Promise<void>)[] = [];
  if (emulator) closers.push(() => emulator.close());
  // Last on close: plugins may hold what their connectors and hooks use.
  closers.push(() => plugins.close());
  const metrics = options.metrics ?? metricsFromConfig(config, logger);
  const hooks = new EventHooks({ timeoutMs: config.hooks.timeout_ms, logger, metrics });
  let metricsServer: MetricsServer | null = null;
  try {
    if (options.metricsListen && metrics.enabled) {
      const server = await startMetricsServer({ registry: metrics.registry, ...options.metricsListen });
      metricsServer = server;
      closers.push(() => server.close());
      logger.info({ url: `${server.url}/metrics` }, 'metrics listening');
    }
    const { connectors, emulated } = buildConnectors({ config: built, env: secrets, ...(emulatorUrl && { emulatorUrl }), pluginConnectors: plugins.connectors });
    for (const [name, connector] of overrides) connectors.set(name, connector);
    if (!options.skipMigrations) await applyMigrations(env.DATABASE_URL);
    // One database client for the repository and the statistics queries (one pool, one SQLite handle).
    const db = createPrismaClient(env.DATABASE_URL);
    const memory = createMemoryStore(env.DATABASE_URL, { client: db });
    closers.unshift(() => memory.close());
    const evaluators = new ComplexityEvaluatorRegistry(llmEvaluator(config, connectors, logger) ?? undefined);
    // Embeddings cached by content hash in memory and in the database (shared by every worker).
    const loadEmbeddingModel = embeddingModelFromConfig(config.consensus, { persistentCache: createPrismaEmbeddingCache({ client: db, provider: databaseProviderOf(env.DATABASE_URL) }) });
    let loadedModel: EmbeddingModel | null = null;
    const embeddingModel = async () => (loadedModel ??= await loadEmbeddingModel());
    // Vectors are written to the database in the background: finish before the client closes.
    closers.unshift(async () => {
      await loadedModel?.flushWrites();
    });
    const consensus = defaultConsensusRegistry({ consensus: config.consensus, embeddingModel, connectors });
    const routingStrategies = new RoutingStrategyRegistry();
    // Everything the plugins contribute besides connectors (all were loaded and set up before this).
    registerPlugins(plugins, { evaluators, consensus, routingStrategies, metrics, hooks });
    const created = createResilience({ config, database: { client: db, url: env.DATABASE_URL }, redisUrl: env.REDIS_URL });
    const resilience = options.clock ? withClock(created, options.clock) : created;
    closers.unshift(() => resilience.close());
    const queries = createStatsQueries(db, env.DATABASE_URL);
    const routingActivities = createRoutingActivities({ config, memory, queries, logger });
    // The routing-policy workflow is the one writer of policy versions; the worker only reads them.
    const stored = databasePolicySource(memory);
    const sources: PolicySource[] = [stored];
    if (options.temporalClient) {
      sources.unshift(workflowPolicySource(options.temporalClient, options.routingPolicyWorkflowId ?? ROUTING_POLICY_WORKFLOW_ID, { timeoutMs: options.policyQueryTimeoutMs ?? 2000 }));
    }
    const initial = (await stored.load())?.policy ?? policyFromConfig(config, new Date().toISOString());
    const routingPolicyVersion = initial.version;
    const policyCache = new RoutingPolicyCache({
      sources,
      initial,
      // Statistics for performance-based ranking when the source has none (the database source).
      loadStats: () => routingActivities.loadRoutingStats(),
      ...(options.policyRefreshMs !== undefined && { refreshIntervalMs: options.policyRefreshMs }),
      logger,
      onChange: (policy, previous) => hooks.emit('policy.changed', { version: policy.version, previousVersion: previous.version, strategy: policy.strategy, source: policy.source, at: Date.now() }),
    });
    // In the background: the workflow may be answerable only once this worker polls.
    policyCache.start();
    closers.unshift(() => policyCache.stop());
    metrics.trackPolicyVersion(() => policyCache.current().version);
    // Running A/B experiments, refreshed every few seconds; planning assigns requests to their variants.
    const improvementStore = createImprovementStore(db, env.DATABASE_URL);
    const experiments = new RunningExperiments({ load: () => improvementStore.listExperiments({ status: 'running', limit: 100 }), logger });
    await experiments.refresh();
    experiments.start();
    closers.unshift(() => experiments.stop());
    // First on close: hooks still in flight finish (each up to hooks.timeout_ms) while the rest is up.
    closers.unshift(() => hooks.close());
    // API keys' limits apply to their users at admission (src/auth/keys.ts).
    const keys = createKeyStore({ client: db, url: env.DATABASE_URL });
    const keyLimits = (userId: string, now: Date) => keys.userLimits(userId, now);
    const activities = {
      ...createActivities({
        config,
        connectors,
        memory,
        evaluators,
        consensus,
        routingStrategies,
        routing: () => ({ policy: policyCache.current(), stats: policyCache.stats() }),
        resilience: { circuits: resilience.circuits, rateLimiter: resilience.rateLimiter, concurrency: resilience.concurrency },
        experiments,
        keyLimits,
        ...(options.streamBus && { streamBus: options.streamBus }),
        logger,
        metrics,
        hooks,
        maxRetryAfterMs: config.resilience.max_retry_after_s * 1000,
        ...(options.clock && { now: options.clock }),
      }),
      ...routingActivities,
      ...createConsensusActivities({ embeddingModel, logger }),
      ...createResilienceActivities({ config, circuits: resilience.circuits, rateLimiter: resilience.rateLimiter, ledger: resilience.ledger, cache: resilience.cache, keyLimits, logger, metrics, ...(options.clock && { now: options.clock }) }),
      ...createImprovementActivities({ config, store: improvementStore, connectors, logger, hooks }),
      // Retention sweep and erasure; the worker's client decodes histories (without one: the activity's).
      ...createRetentionActivities({ config, db, databaseUrl: env.DATABASE_URL, cache: resilience.cache, ...(options.temporalClient && { client: options.temporalClient }), logger }),
    };
    if (emulated.length > 0) {
      logger.warn({ emulated, emulatorUrl }, 'providers without API keys are served by the local provider emulator (development answers, not real models)');
    }
    return {
      config,
      activities,
      memory,
      evaluators,
      consensus,
      emulatedProviders: emulated,
      emulatorUrl,
      emulator,
      routingPolicyVersion,
      routingBase: routingBaseConfig(config),
      policyCache,
      experiments,
      metrics,
      metricsServer,
      hooks,
      routingStrategies,
      plugins: plugins.plugins,
      async close() {
        for (const close of closers) await close();
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => undefined);
    throw err;
  }
}
