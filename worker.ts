/**
 * The worker: runs request workflows and their activities on the task queue.
 *
 *   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE            which cluster (dev server, self-hosted, Cloud)
 *   TEMPORAL_API_KEY or TEMPORAL_TLS_CERT_PATH/KEY  credentials for Cloud / mTLS
 *   DATABASE_URL                                    file:... (SQLite) or postgresql://...
 *   CONFIG_PATH                                     config.yaml
 *
 * Stops gracefully on SIGINT/SIGTERM: in-flight activities finish, then the process exits.
 */
import { Client, Connection } from '@temporalio/client';
import { applyBaseConfig } from './client/routing';
import { ensureImprovementSchedule } from './src/improvement/schedule';
import { ensureRetentionSchedule } from './src/retention/schedule';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadEnv, type Env } from './src/config/env';
import type { Config } from './src/config/schema';
import { loadConfig } from './src/config/load';
import { TASK_QUEUE } from './src/constants';
import { OrchestratorError } from './src/errors';
import { createLogger, type Logger } from './src/logger';
import { createWorkerRuntime, type RuntimeOptions, type WorkerRuntime } from './src/runtime';
import { clientConnectionOptions, ensureSearchAttributes, workerConnectionOptions } from './src/temporal/connection';
import { installTemporalLogger } from './src/temporal/runtime-logger';
import { selectWorkflowSource, type WorkflowSource } from './src/temporal/workflow-bundle';
import { tracedWorkflowWorkerOptions, tracingFor } from './src/tracing/tracing';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFor, payloadEncryptionSummary } from './src/temporal/data-converter';
import type { MetricsCollector } from './src/metrics';
import type { HookSubscriptions } from './src/hooks';
import { dirname, resolve } from 'node:path';
import { loadPlugins } from './src/plugins/load';
import type { OrchestratorPlugin } from './src/plugins/types';

export interface RunWorkerOptions {
  /**
   * Extend the runtime before the worker starts polling: register complexity evaluators per task
   * type (`runtime.evaluators.register`) or consensus strategies (`runtime.consensus.registerStrategy`),
   * subscribe event hooks (`runtime.hooks.on('request.completed', hook)`, README "Event hooks").
   */
  setup?: (runtime: WorkerRuntime) => void | Promise<void>;
}

export interface StartWorkerOptions extends RunWorkerOptions {
  /** Default: loadEnv(). */
  env?: Env;
  /** Default: loadConfig(env.CONFIG_PATH). */
  config?: Config;
  logger?: Logger;
  /** Default TASK_QUEUE. */
  taskQueue?: string;
  /** Extra runtime options (provider secrets, the stream bus, the routing-policy workflow id, ...). */
  runtime?: Partial<Omit<RuntimeOptions, 'config' | 'env' | 'logger' | 'temporalClient'>>;
  /** Default: the prebuilt bundle when current, else the sources (src/temporal/workflow-bundle.ts). */
  workflowSource?: WorkflowSource;
  /** Create or update the improvement and retention schedules (default true; tests on private queues turn it off). */
  ensureSchedule?: boolean;
  /** Route the Temporal SDK's logs into the logger (Runtime.install; default true; with the SDK's metrics on METRICS_SDK_PORT). Off where the runtime is already installed (tests). */
  installLogger?: boolean;
  /** Metric collectors registered before the worker polls (the same as `runtime.metrics.addCollector` in setup). */
  collectors?: MetricsCollector[];
  /** Event hooks subscribed before the worker polls (the same as `runtime.hooks.subscribe(hooks, 'setup')` in setup). */
  hooks?: HookSubscriptions;
  /** Plugins given in code, loaded after those config.yaml names and the plugins/ folder holds (src/plugins). */
  plugins?: OrchestratorPlugin[];
  /** Where `plugins.modules` paths and the plugins/ folder are looked up (default: the folder of env.CONFIG_PATH). */
  pluginDir?: string;
}

/** A worker created and ready to poll, with what it was built from (the gateway runs one in-process). */
export interface StartedWorker {
  env: Env;
  config: Config;
  logger: Logger;
  taskQueue: string;
  runtime: WorkerRuntime;
  worker: Worker;
  /** The worker's connection: a Client built on it can start workflows eagerly (`requestEagerStart`). */
  nativeConnection: NativeConnection;
  /** A client on its own connection (setup, the routing-policy cache). */
  client: Client;
  /** Poll until shutdown (`worker.shutdown()` or a signal), then close everything. */
  run(): Promise<void>;
}

/**
 * Everything runWorker does before polling: search attributes, the runtime, the worker, the
 * routing base announced and the improvement schedule ensured. `run()` polls and closes.
 */
export async function startWorker(options: StartWorkerOptions = {}): Promise<StartedWorker> {
  const env = options.env ?? loadEnv();
  const logger = options.logger ?? createLogger(env.LOG_LEVEL, 'worker', undefined, { logPrompts: env.LOG_PROMPTS === 'on' });
  const config = options.config ?? loadConfig(env.CONFIG_PATH);
  // The Temporal SDK's own metrics beside ours (same interface, neighbouring port), unless metrics are off.
  const sdkMetrics = config.framework.enable_metrics && env.METRICS_SDK_PORT !== 'off' ? `${env.METRICS_HOST.includes(':') ? `[${env.METRICS_HOST}]` : env.METRICS_HOST}:${env.METRICS_SDK_PORT}` : undefined;
  if (options.installLogger !== false) installTemporalLogger(logger, sdkMetrics ? { prometheusBindAddress: sdkMetrics } : {});
  const taskQueue = options.taskQueue ?? TASK_QUEUE;

  // One client connection for setup and for the routing policy cache (it queries the policy workflow).
  const admin = await Connection.connect(clientConnectionOptions(env));
  try {
    const { created } = await ensureSearchAttributes(admin, env.TEMPORAL_NAMESPACE);
    if (created.length > 0) logger.info({ created }, 'registered search attributes');
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not check search attributes (create TaskType, UserId, Complexity, RequestStatus as Keyword in the namespace)');
  }
  // Every payload this worker sends is encrypted (PAYLOAD_KEYS); a bad key fails here, before anything runs.
  let dataConverter: DataConverter;
  try {
    dataConverter = dataConverterFor(env);
  } catch (err) {
    await admin.close();
    throw err;
  }
  logger.info(payloadEncryptionSummary(env), 'payload encryption');
  // OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set (src/tracing/tracing.ts); else nothing.
  const tracing = tracingFor(env);
  if (tracing.enabled) logger.info({ traces: tracing.destination }, 'tracing on');
  // Not traced: it does setup (the routing-policy workflow's signal-with-start would make that long-lived workflow one endless trace).
  const client = new Client({ connection: admin, namespace: env.TEMPORAL_NAMESPACE, dataConverter });

  let runtime: WorkerRuntime;
  try {
    // Plugins (config.yaml plugins.modules, the plugins/ folder, code): all loaded and set up, or the worker does not start.
    const plugins = options.runtime?.plugins ?? (await loadPlugins({ config, configDir: options.pluginDir ?? dirname(resolve(env.CONFIG_PATH)), logger, plugins: options.plugins ?? [] }));
    if (plugins.plugins.length > 0) logger.info({ plugins: plugins.plugins.map((p) => ({ name: p.name, version: p.version, origin: p.origin, source: p.source, provides: p.provides })) }, 'plugins loaded');
    // GET /metrics on METRICS_HOST:METRICS_PORT (not when framework.enable_metrics is false).
    runtime = await createWorkerRuntime({ metricsListen: { host: env.METRICS_HOST, port: env.METRICS_PORT }, ...options.runtime, config, env, logger, temporalClient: client, plugins });
  } catch (err) {
    await admin.close();
    throw err;
  }
  let connection: NativeConnection | null = null;
  let worker: Worker;
  try {
    for (const collector of options.collectors ?? []) runtime.metrics.addCollector(collector);
    if (options.hooks) runtime.hooks.subscribe(options.hooks, 'setup');
    await options.setup?.(runtime);
    connection = await NativeConnection.connect(workerConnectionOptions(env));
    // The bundle npm run build wrote, when it was built from the sources on disk; else bundle them now.
    const workflowSource = options.workflowSource ?? selectWorkflowSource();
    logger.info({ workflows: workflowSource.kind === 'bundle' ? workflowSource.codePath : workflowSource.workflowsPath, reason: workflowSource.reason }, 'workflow code');
    worker = await Worker.create({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue,
      dataConverter,
      ...tracedWorkflowWorkerOptions(tracing, workflowSource),
      activities: runtime.activities,
      maxConcurrentActivityTaskExecutions: config.performance.max_concurrent_requests * 4,
      maxConcurrentWorkflowTaskExecutions: config.performance.max_concurrent_requests,
      // Cancellation reaches a running provider call on its next heartbeat: keep that within 2 s.
      maxHeartbeatThrottleInterval: '2s',
      shutdownGraceTime: '10s',
      // A workflow task queued for a worker that died (SIGKILL, OOM) goes to any worker after this
      // long (default 10 s), which bounds crash recovery; a busy live worker only loses its cache.
      stickyQueueScheduleToStartTimeout: '2s',
    });
  } catch (err) {
    await connection?.close().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
    throw err;
  }
  // The long-lived routing-policy workflow (started by whichever worker comes first) hears this
  // worker's config.yaml base: a different one becomes a new version once a worker polls. No waiting.
  try {
    await applyBaseConfig({ client, taskQueue, ...(options.runtime?.routingPolicyWorkflowId && { workflowId: options.runtime.routingPolicyWorkflowId }) }, runtime.routingBase);
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not reach the routing-policy workflow; planning uses the stored policy');
  }
  // The scheduled self-improvement run (created or updated idempotently; paused when improvement.enable is false).
  if (options.ensureSchedule !== false) {
    try {
      const schedule = await ensureImprovementSchedule({ client, config });
      logger.info({ scheduleId: schedule.scheduleId, paused: schedule.paused, everyHours: config.improvement.analysis_interval }, 'improvement schedule ensured');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not create or update the improvement schedule');
    }
    // The scheduled retention sweep (same way; paused when retention.enable is false).
    try {
      const schedule = await ensureRetentionSchedule({ client, config });
      logger.info({ scheduleId: schedule.scheduleId, paused: schedule.paused, everyHours: config.retention.interval_hours, days: config.retention.days }, 'retention schedule ensured');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not create or update the retention schedule');
    }
  }
  const nativeConnection = connection;
  return {
    env,
    config,
    logger,
    taskQueue,
    runtime,
    worker,
    nativeConnection,
    client,
    async run() {
      try {
        await worker.run();
      } finally {
        await nativeConnection.close();
        await runtime.close();
        await admin.close();
        await tracing.forceFlush().catch(() => undefined);
        logger.info('worker stopped');
      }
    },
  };
}

export async function runWorker(options: RunWorkerOptions = {}): Promise<void> {
  const started = await startWorker(options);
  const { env, runtime, logger, taskQueue } = started;
  logger.info(
    { taskQueue, namespace: env.TEMPORAL_NAMESPACE, address: env.TEMPORAL_ADDRESS, emulated: runtime.emulatedProviders, plugins: runtime.plugins.map((p) => `${p.name}@${p.version}`), policyVersion: runtime.routingPolicyVersion, routingBase: runtime.routingBase.hash, startupMs: Math.round(process.uptime() * 1000) },
    'worker started',
  );
  // Worker.run() installs SIGINT/SIGTERM handlers that call worker.shutdown().
  await started.run();
}

if (require.main === module) {
  runWorker().catch((err: unknown) => {
    if (err instanceof OrchestratorError) {
      console.error(`worker: ${err.message}`);
    } else {
      console.error('worker failed:', err);
    }
    process.exit(1);
  });
}
