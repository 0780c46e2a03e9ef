/**
 * The gateway in-process for tests: a free port, the emulator for every provider, a SQLite file in
 * a temp folder, the test dev server (TEST_TEMPORAL_ADDRESS) and a private task queue.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnv } from '../../src/config/env';
import type { Config } from '../../src/config/schema';
import { createLogger, type Logger } from '../../src/logger';
import { startGateway, type RunningGateway, type StartGatewayOptions } from '../../src/gateway/start';
import { repoConfig } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { WORKFLOWS_PATH } from '../helpers/temporal';

export interface GatewayTestStack {
  gateway: RunningGateway;
  /** http://127.0.0.1:<port>/v1 */
  baseURL: string;
  taskQueue: string;
  databaseUrl: string;
  close(): Promise<void>;
}

export interface GatewayStackOptions extends Partial<Pick<StartGatewayOptions, 'worker' | 'waitTimeoutMs' | 'eagerStart'>> {
  configure?: (c: Config) => Config;
  /** Share a task queue and database with separate workers (worker: false). */
  taskQueue?: string;
  databaseUrl?: string;
  /** The gateway's (and its in-process worker's) logger; default warnings only. */
  logger?: Logger;
}

export async function startGatewayStack(label: string, options: GatewayStackOptions = {}): Promise<GatewayTestStack> {
  const dir = mkdtempSync(join(tmpdir(), `orch-gateway-${label}-`));
  const databaseUrl = options.databaseUrl ?? `file:${join(dir, 'test.db')}`;
  const taskQueue = options.taskQueue ?? `test-gateway-${label}-${randomUUID().slice(0, 8)}`;
  const env = loadEnv({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'warn', METRICS_PORT: '0' });
  const base = repoConfig();
  const config = (options.configure ?? ((c) => c))({ ...base, emulator: { ...base.emulator, mode: 'always', latency_ms: 5 } });
  const gateway = await startGateway({
    env,
    config,
    logger: options.logger ?? createLogger('warn', `gateway-${label}`),
    taskQueue,
    port: 0,
    host: '127.0.0.1',
    runtime: { secrets: {}, emulatorPort: 0, routingPolicyWorkflowId: `routing-policy-${taskQueue}` },
    workflowSource: { kind: 'sources', workflowsPath: WORKFLOWS_PATH, reason: 'test' },
    ensureSchedule: false,
    installLogger: false,
    ...(options.worker !== undefined && { worker: options.worker }),
    ...(options.waitTimeoutMs !== undefined && { waitTimeoutMs: options.waitTimeoutMs }),
    ...(options.eagerStart !== undefined && { eagerStart: options.eagerStart }),
  });
  return {
    gateway,
    baseURL: `${gateway.url}/v1`,
    taskQueue,
    databaseUrl,
    async close() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
