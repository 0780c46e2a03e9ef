/**
 * The stack a benchmark runs on: the real worker runtime (emulator for every provider, a SQLite
 * file in a temp folder), a worker on a private task queue of the bench dev server, and a client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { OrchestratorClient } from '../client/orchestrator-client';
import { loadEnv, type Env } from '../src/config/env';
import type { Config } from '../src/config/schema';
import { createLogger } from '../src/logger';
import { createWorkerRuntime, type WorkerRuntime } from '../src/runtime';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFor } from '../src/temporal/data-converter';
import { startGateway, type RunningGateway } from '../src/gateway/start';

export interface BenchStack {
  env: Env;
  databaseUrl: string;
  runtime: WorkerRuntime;
  client: OrchestratorClient;
  worker: Worker;
  native: NativeConnection;
  taskQueue: string;
  close(): Promise<void>;
}

/** `dataConverter`: default the environment's (payload encryption on, as deployed); `{}` for plain payloads. */
export async function startBenchStack(tag: string, configure: (env: Env) => Config, options: { dataConverter?: DataConverter } = {}): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${tag}-`));
  const databaseUrl = `file:${join(dir, 'bench.db')}`;
  const env = loadEnv({ ...process.env, DATABASE_URL: databaseUrl, EMULATOR_URL: '' });
  const config = configure(env);
  const runtime = await createWorkerRuntime({ config, env, logger: createLogger('error', 'bench'), secrets: {}, emulatorPort: 0 });
  const taskQueue = `bench-${tag}-${Date.now().toString(36)}`;
  const native = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const dataConverter = options.dataConverter ?? dataConverterFor(env);
  const client = new OrchestratorClient({ client: new Client({ connection, dataConverter }), config, env, taskQueue });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    dataConverter,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), ...(dataConverter.failureConverterPath && { failureConverterPath: dataConverter.failureConverterPath }), logger: new DefaultLogger('ERROR') }),
    activities: runtime.activities,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskExecutions: 300,
    maxConcurrentLocalActivityExecutions: 100,
    maxHeartbeatThrottleInterval: '1s',
  });
  return {
    env,
    databaseUrl,
    runtime,
    client,
    worker,
    native,
    taskQueue,
    async close() {
      await native.close();
      await connection.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface BenchGateway {
  gateway: RunningGateway;
  /** An API key of the gateway's own database (user `bench`). */
  key: string;
  /** POST target of chat completions. */
  url: string;
  /** Stops the gateway (and its in-process worker) and removes its database folder. */
  close(): Promise<void>;
}

/**
 * An in-process gateway with its worker on `taskQueue`, its own SQLite file (one writer per file)
 * and its own emulator, on a free port, with an API key: what bench:gateway and bench:overhead
 * measure. The worker uses the environment's data converter.
 */
export async function startBenchGateway(options: { tag: string; taskQueue: string; config: Config; eagerStart: boolean }): Promise<BenchGateway> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${options.tag}-`));
  try {
    const env = loadEnv({ ...process.env, DATABASE_URL: `file:${join(dir, 'bench.db')}`, EMULATOR_URL: '', LOG_LEVEL: 'error', METRICS_PORT: '0' });
    const gateway = await startGateway({
      env,
      config: options.config,
      logger: createLogger('error', 'bench'),
      taskQueue: options.taskQueue,
      port: 0,
      host: '127.0.0.1',
      eagerStart: options.eagerStart,
      runtime: { secrets: {}, emulatorPort: 0, routingPolicyWorkflowId: `routing-policy-${options.taskQueue}` },
      workflowSource: { kind: 'sources', workflowsPath: require.resolve('../workflows'), reason: 'bench' },
      ensureSchedule: false,
      installLogger: false,
    });
    const { key } = await gateway.keys.create({ userId: 'bench' });
    return {
      gateway,
      key,
      url: `${gateway.url}/v1/chat/completions`,
      async close() {
        await gateway.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
