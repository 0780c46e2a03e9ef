/**
 * A worker's start never waits on a query to the routing-policy workflow. When no worker polls
 * the workflow's task queue (this worker is the first, or the last one was killed), a query has
 * nobody to answer it: start-up used to wait for it (~30 s). Now the runtime starts from the
 * stored version, and the cache's bounded query falls back to the database in the background.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRoutingPolicyWorkflow, setRule, showRouting, type RoutingClientOptions } from '../../client/routing';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import { createWorkerRuntime, type WorkerRuntime } from '../../src/runtime';
import { repoConfig } from '../helpers/config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH, type TemporalTestContext } from '../helpers/temporal';

let t: TemporalTestContext;
let dir: string;
let databaseUrl: string;
let o: RoutingClientOptions;
const runtimes: WorkerRuntime[] = [];
const config = { ...repoConfig(), emulator: { ...repoConfig().emulator, mode: 'always' as const } };

async function runtime(): Promise<WorkerRuntime> {
  const r = await createWorkerRuntime({
    config,
    env: loadEnv({ DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: t.address, LOG_LEVEL: 'warn' }),
    logger: createLogger('warn', 'test'),
    secrets: {},
    emulatorPort: 0,
    temporalClient: t.client,
    routingPolicyWorkflowId: o.workflowId!,
    policyRefreshMs: 60_000,
    policyQueryTimeoutMs: 1_000,
  });
  runtimes.push(r);
  return r;
}

beforeAll(async () => {
  t = await connectTestTemporal('startup');
  dir = mkdtempSync(join(tmpdir(), 'orch-startup-'));
  databaseUrl = `file:${join(dir, 'startup.db')}`;
  o = { client: t.client, taskQueue: t.taskQueue, workflowId: `routing-policy-startup-${randomUUID().slice(0, 8)}`, workflowInput: { statsRefreshMs: 0 }, waitMs: 20_000 };
  // A routing-policy workflow that ran on a worker which is gone now: nobody polls its task queue.
  const seeding = await runtime();
  const worker = await Worker.create({ connection: t.nativeConnection, taskQueue: t.taskQueue, workflowsPath: WORKFLOWS_PATH, dataConverter: testDataConverter(), activities: seeding.activities });
  await worker.runUntil(async () => {
    await ensureRoutingPolicyWorkflow(o);
    await showRouting(o);
    expect(await setRule(o, { rule: { id: 'startup-probe', task_type: 'startup_probe', providers: ['google'] }, reason: 'a version the database holds' })).toMatchObject({ status: 'accepted' });
  });
  await seeding.close();
}, 120_000);

afterAll(async () => {
  for (const r of runtimes) await r.close().catch(() => undefined);
  await t?.client.workflow.getHandle(o.workflowId!).terminate('test over').catch(() => undefined);
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('worker start with nobody to answer the routing-policy workflow', () => {
  it('the runtime is ready without waiting on the query, planning with the latest stored version; the cache falls back to the database within its query timeout', async () => {
    const started = Date.now();
    const r = await runtime();
    const tookMs = Date.now() - started;
    // Without a query the runtime needs well under a second here; a query with nobody to answer waited ~30 s.
    expect(tookMs).toBeLessThan(10_000);
    const stored = (await r.memory.latestPolicyVersion())!;
    expect(r.routingPolicyVersion).toBe(stored.version);
    expect(r.policyCache.current().rules.some((rule) => rule.id === 'startup-probe')).toBe(true);

    const refreshStarted = Date.now();
    await r.policyCache.refresh();
    expect(Date.now() - refreshStarted).toBeLessThan(1_000 + 5_000);
    expect(r.policyCache.origin).toBe('database');
    expect(r.policyCache.current().version).toBe(stored.version);
  }, 60_000);
});
