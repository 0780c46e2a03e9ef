/**
 * Start the gateway: by default with a worker in the same process (requests start with eager
 * workflow start, on a Client built on the worker's NativeConnection, and single-provider streams
 * forward tokens from the worker's in-process stream bus); with `worker: false` as a pure client in
 * front of separate workers (streams then send the whole answer as chunks after completion).
 * Shared by `npm run gateway` (main.ts), the tests and the benchmark.
 */
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { createKeyStore, type KeyStore } from '../auth/keys';
import type { Env } from '../config/env';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { TASK_QUEUE } from '../constants';
import { createLogger, type Logger } from '../logger';
import { createPrismaClient, type DatabaseClient } from '../memory/client';
import { applyMigrations } from '../memory/migrate';
import type { RuntimeOptions } from '../runtime';
import { metricsFromConfig, startMetricsServer, type MetricsServer } from '../metrics';
import { createLocalStreamBus } from '../streaming/bus';
import { clientConnectionOptions } from '../temporal/connection';
import type { WorkflowSource } from '../temporal/workflow-bundle';
import { startWorker, type StartedWorker } from '../../worker';
import { dirname, resolve } from 'node:path';
import { loadPlugins, type LoadedPlugins } from '../plugins/load';
import type { OrchestratorPlugin } from '../plugins/types';
import { registerAdminRoutes } from './admin';
import { buildGateway, type GatewayDeps } from './server';
import { dataConverterFor } from '../temporal/data-converter';
import { tracingFor } from '../tracing/tracing';

export interface StartGatewayOptions {
  env: Env;
  /** Default loadConfig(env.CONFIG_PATH). */
  config?: Config;
  logger?: Logger;
  /** Default env.GATEWAY_WORKER === 'on'. */
  worker?: boolean;
  /** Default TASK_QUEUE. */
  taskQueue?: string;
  /** Default env.GATEWAY_PORT / GATEWAY_HOST (0: any free port). */
  port?: number;
  host?: string;
  /** Default env.GATEWAY_WAIT_TIMEOUT_MS, else performance.request_timeout + 10 s. */
  waitTimeoutMs?: number;
  /** Start requests eagerly (default: whenever a worker runs in-process). */
  eagerStart?: boolean;
  /** Co-located worker only: runtime extras (secrets, emulator port, routing-policy workflow id). */
  runtime?: Partial<Omit<RuntimeOptions, 'config' | 'env' | 'logger' | 'temporalClient' | 'streamBus'>>;
  workflowSource?: WorkflowSource;
  /** Co-located worker only: ensure the improvement schedule (default true). */
  ensureSchedule?: boolean;
  /** Co-located worker only: install the Temporal runtime logger (default true). */
  installLogger?: boolean;
  /** Plugins given in code, besides those config.yaml names and the plugins/ folder holds (src/plugins). */
  plugins?: OrchestratorPlugin[];
  /** More routes, given the key store (the admin routes of src/gateway/admin.ts are always registered). */
  register?: (app: FastifyInstance, keys: KeyStore) => void | Promise<void>;
}

export interface RunningGateway {
  app: FastifyInstance;
  /** http://host:port */
  url: string;
  keys: KeyStore;
  orchestrator: OrchestratorClient;
  worker: StartedWorker | null;
  /** GET /metrics of this process (the in-process worker's server, or the gateway's own without one); null when metrics are off. */
  metricsUrl: string | null;
  close(): Promise<void>;
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { env } = options;
  const logger = options.logger ?? createLogger(env.LOG_LEVEL, 'gateway', undefined, { logPrompts: env.LOG_PROMPTS === 'on' });
  const config = options.config ?? loadConfig(env.CONFIG_PATH);
  const taskQueue = options.taskQueue ?? TASK_QUEUE;
  const withWorker = options.worker ?? env.GATEWAY_WORKER === 'on';
  const bus = withWorker ? createLocalStreamBus() : null;
  // One registry for the process: the gateway's HTTP metrics and, with a worker in-process, the worker's.
  const metrics = options.runtime?.metrics ?? metricsFromConfig(config, logger);
  let metricsServer: MetricsServer | null = null;

  let worker: StartedWorker | null = null;
  let running: Promise<void> | null = null;
  let ownConnection: Connection | null = null;
  let plugins: LoadedPlugins | null = null;
  let client: Client;
  if (withWorker) {
    // The in-process worker loads the plugins (and stops the gateway's start when one fails).
    worker = await startWorker({
      env,
      config,
      logger,
      taskQueue,
      ...(options.plugins && { plugins: options.plugins }),
      // The worker's provider calls publish tokens here; the gateway forwards them (single-provider streams).
      runtime: { ...options.runtime, streamBus: bus!, metrics },
      ...(options.workflowSource && { workflowSource: options.workflowSource }),
      ...(options.ensureSchedule !== undefined && { ensureSchedule: options.ensureSchedule }),
      ...(options.installLogger !== undefined && { installLogger: options.installLogger }),
    });
    running = worker.run();
    running.catch((err: unknown) => logger.error({ err: (err as Error).message }, 'in-process worker stopped with an error'));
    // Eager workflow start needs a client on the worker's own connection.
    client = new Client({ connection: worker.nativeConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(env), interceptors: tracingFor(env).clientInterceptors() });
  } else {
    // No worker here, so nothing of a plugin runs; loading them checks config.yaml against them (provider kinds, settings) as a worker would.
    plugins = await loadPlugins({ config, configDir: dirname(resolve(env.CONFIG_PATH)), logger, plugins: options.plugins ?? [] });
    if (plugins.plugins.length > 0) logger.info({ plugins: plugins.plugins.map((p) => `${p.name}@${p.version}`) }, 'plugins loaded');
    // The database is migrated by workers; the key table must exist before the first request.
    await applyMigrations(env.DATABASE_URL);
    // No worker here: the gateway serves /metrics itself (its HTTP metrics), unless metrics are off.
    const listen = options.runtime?.metricsListen ?? { host: env.METRICS_HOST, port: env.METRICS_PORT };
    if (metrics.enabled) metricsServer = await startMetricsServer({ registry: metrics.registry, ...listen });
    // Lazy: the gateway starts (and /readyz says why it is not ready) while Temporal is down; requests then get 503.
    ownConnection = Connection.lazy(clientConnectionOptions(env));
    client = new Client({ connection: ownConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(env), interceptors: tracingFor(env).clientInterceptors() });
  }
  const db: DatabaseClient = createPrismaClient(env.DATABASE_URL);
  const keys = createKeyStore({ client: db, url: env.DATABASE_URL });
  // Requests are validated against config.yaml and the plugins' consensus strategies (the in-process worker's, or those loaded here).
  const pluginStrategies = worker ? worker.runtime.consensus.names() : [...(plugins?.consensusStrategies.keys() ?? [])];
  const orchestrator = new OrchestratorClient({ client, config, env, taskQueue, consensusStrategies: pluginStrategies });
  const deps: GatewayDeps = {
    orchestrator,
    config,
    keys,
    logger,
    eagerStart: options.eagerStart ?? withWorker,
    streamBus: bus,
    metrics,
    waitTimeoutMs: options.waitTimeoutMs ?? env.GATEWAY_WAIT_TIMEOUT_MS ?? (config.performance.request_timeout + 10) * 1000,
    readiness: {
      temporal: () => within(3000, 'temporal', client.workflowService.getSystemInfo({})),
      database: () => within(3000, 'database', db.$queryRawUnsafe('SELECT 1')),
    },
    // The admin endpoints (keys, routing), for admin keys only; then whatever the caller adds.
    register: async (app: FastifyInstance) => {
      registerAdminRoutes(app, {
        keys,
        // Routing changes go to the same routing-policy workflow the workers read.
        routing: { client, taskQueue, ...(options.runtime?.routingPolicyWorkflowId && { workflowId: options.runtime.routingPolicyWorkflowId }) },
      });
      await options.register?.(app, keys);
    },
  };
  const close = async () => {
    // On SIGINT/SIGTERM the SDK's own handler has already begun the shutdown: shut down only a running worker.
    if (worker?.worker.getState() === 'RUNNING') worker.worker.shutdown();
    await running?.catch(() => undefined);
    await ownConnection?.close();
    await db.$disconnect();
    await tracingFor(env).forceFlush().catch(() => undefined);
    await metricsServer?.close();
    await plugins?.close();
  };
  let app: FastifyInstance;
  try {
    app = await buildGateway(deps);
    await app.listen({ port: options.port ?? env.GATEWAY_PORT, host: options.host ?? env.GATEWAY_HOST });
  } catch (err) {
    await close();
    throw err;
  }
  const address = app.server.address();
  const url = typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  logger.info({ url, worker: withWorker, eagerStart: deps.eagerStart, taskQueue }, 'gateway listening');
  return {
    app,
    url,
    keys,
    orchestrator,
    worker,
    metricsUrl: (worker?.runtime.metricsServer ?? metricsServer)?.url ?? null,
    async close() {
      await app.close();
      await close();
    },
  };
}
