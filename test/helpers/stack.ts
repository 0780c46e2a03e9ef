/**
 * A real stack for integration tests and history recording: the repository's config (emulator
 * for every provider), a SQLite database in a temp folder, the real runtime and activities, and a
 * real worker on the test dev server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientInterceptors } from '@temporalio/client';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { DestinationStream } from 'pino';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { loadEnv } from '../../src/config/env';
import type { Config } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { createPrismaClient } from '../../src/memory/client';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/runtime';
import type { StreamBus } from '../../src/streaming/bus';
import { repoConfig } from './config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH, type TemporalTestContext } from './temporal';

export interface TestStack {
  temporal: TemporalTestContext;
  runtime: WorkerRuntime;
  client: OrchestratorClient;
  config: Config;
  databaseUrl: string;
  /** This stack's routing-policy workflow id (not started unless a test starts it). */
  routingPolicyWorkflowId: string;
  close(): Promise<void>;
}

export interface StackOptions {
  label: string;
  databaseUrl?: string;
  configure?: (config: Config) => Config;
  /** Provider keys the worker sees (default: none, so every provider is emulated). */
  secrets?: NodeJS.ProcessEnv;
  /** Poll this task queue instead of a private one (e.g. the real one, for CLI tests). */
  taskQueue?: string;
  /** Capture the runtime's logs (at debug level, or logLevel) instead of printing warnings. */
  logDestination?: DestinationStream;
  logLevel?: 'debug' | 'trace';
  /** LOG_PROMPTS for the captured logs (default off). */
  logPrompts?: boolean;
  /** How often the worker re-reads the routing policy (default 2000 ms). */
  policyRefreshMs?: number;
  /** The routing-policy workflow this worker reads (default: one private to the stack). */
  routingPolicyWorkflowId?: string;
  /** The stream bus the worker's provider calls publish to (src/streaming/bus.ts). */
  streamBus?: StreamBus;
  /** Serve the runtime's GET /metrics (port 0: a free one; runtime.metricsServer has the URL). Default: no server. */
  metricsListen?: { host: string; port: number };
  /** Extra Worker.create options (tracing: interceptors, workflow interceptor modules, sinks). */
  workerOptions?: Pick<WorkerOptions, 'interceptors' | 'sinks'>;
  /** Interceptors of the stack's client (tracing: the StartWorkflow span and the trace headers). */
  clientInterceptors?: ClientInterceptors;
}

export async function startStack(options: StackOptions): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), `orch-${options.label}-`));
  const databaseUrl = options.databaseUrl ?? `file:${join(dir, 'test.db')}`;
  const connected = await connectTestTemporal(options.label);
  const temporal = options.taskQueue ? { ...connected, taskQueue: options.taskQueue } : connected;
  const base = repoConfig();
  const config = (options.configure ?? ((c) => c))({ ...base, emulator: { ...base.emulator, mode: 'always', latency_ms: 5 } });
  const env = loadEnv({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address, LOG_LEVEL: 'warn' });
  const routingPolicyWorkflowId = options.routingPolicyWorkflowId ?? `routing-policy-${temporal.taskQueue}`;
  const runtime = await createWorkerRuntime({
    config,
    env,
    logger: options.logDestination ? createLogger(options.logLevel ?? 'debug', 'test', options.logDestination, { logPrompts: options.logPrompts ?? false }) : createLogger('warn', 'test'),
    secrets: options.secrets ?? {},
    emulatorPort: 0,
    temporalClient: temporal.client,
    routingPolicyWorkflowId,
    ...(options.policyRefreshMs !== undefined && { policyRefreshMs: options.policyRefreshMs }),
    ...(options.streamBus && { streamBus: options.streamBus }),
    ...(options.metricsListen && { metricsListen: options.metricsListen }),
  });
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    taskQueue: temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    dataConverter: testDataConverter(),
    activities: runtime.activities,
    maxHeartbeatThrottleInterval: '1s',
    ...options.workerOptions,
  });
  const running = worker.run();
  const temporalClient = options.clientInterceptors
    ? new Client({ connection: temporal.client.connection, dataConverter: testDataConverter(), interceptors: options.clientInterceptors })
    : temporal.client;
  const client = new OrchestratorClient({ client: temporalClient, config, env, taskQueue: temporal.taskQueue });
  return {
    temporal,
    runtime,
    client,
    config,
    databaseUrl,
    routingPolicyWorkflowId,
    async close() {
      worker.shutdown();
      await running;
      await runtime.close();
      await temporal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A circuit breaker's stored state (null when the key was never recorded), read with a client of its own. */
export async function circuitState(databaseUrl: string, key: string) {
  const db = createPrismaClient(databaseUrl);
  try {
    return await db.circuitState.findUnique({ where: { key } });
  } finally {
    await db.$disconnect();
  }
}
