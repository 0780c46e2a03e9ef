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
