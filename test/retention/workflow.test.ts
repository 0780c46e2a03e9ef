/**
 * The retention workflow on the real test dev server with its real activities and a SQLite
 * database: a run sweeps every table in batches until nothing is left and reports counts per
 * table; a second run reports zeros; a scheduled run with retention.enable false does nothing;
 * the schedule is created and updated idempotently, paused by configuration, and triggered now.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRetentionActivities } from '../../activities/retention';
import type { Config } from '../../src/config/schema';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { RETENTION_WORKFLOW_TYPE } from '../../src/retention/constants';
import { describeRetentionSchedule, ensureRetentionSchedule, triggerRetentionNow } from '../../src/retention/schedule';
import type { retentionWorkflow, RetentionWorkflowResult } from '../../workflows/retention';
import { testConfig } from '../helpers/config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH, type TemporalTestContext } from '../helpers/temporal';

const DAY = 86_400_000;
const NOW = new Date('2026-11-25T12:00:00.000Z');
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

const enabled: Config = testConfig({ retention: { days: 90, embedding_days: 30, batch_size: 3, interval_hours: 24 } });
const disabled: Config = testConfig({ retention: { enable: false, interval_hours: 12 } });

let t: TemporalTestContext;
let dir: string;
let db: DatabaseClient;
const workers: { worker: Worker; running: Promise<void> }[] = [];
const schedules: string[] = [];
let disabledQueue: string;

beforeAll(async () => {
  t = await connectTestTemporal('retention');
  dir = mkdtempSync(join(tmpdir(), 'orch-retention-'));
  const url = `file:${join(dir, 'retention.db')}`;
  await applyMigrations(url);
  db = createPrismaClient(url);
  const start = async (taskQueue: string, config: Config) => {
    const worker = await Worker.create({
      connection: t.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      dataConverter: testDataConverter(),
      activities: createRetentionActivities({ config, db, databaseUrl: url }),
    });
    workers.push({ worker, running: worker.run() });
  };
  await start(t.taskQueue, enabled);
  disabledQueue = `${t.taskQueue}-disabled`;
  await start(disabledQueue, disabled);
});

afterAll(async () => {
  for (const id of schedules) await t?.client.schedule.getHandle(id).delete().catch(() => undefined);
  for (const w of workers) w.worker.shutdown();
  await Promise.all(workers.map((w) => w.running));
  await db?.$disconnect();
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function seed(): Promise<void> {
  const interaction = (createdAt: Date, label: string) =>
    db.interaction.create({
      data: {
        workflowId: `llm-request-${label}-${randomUUID()}`,
        userId: 'u-sweep',
        taskType: 'question_answering',
        complexity: 'simple',
        complexityScore: 0.1,
        prompt: `prompt ${label}`,
        consensusStrategy: 'none',
        consensusApplied: false,
        status: 'completed',
        routingPolicyVersion: 1,
        providersUsed: [],
        tokensIn: 1,
        tokensOut: 1,
        costUsd: 0,
        processingTimeMs: 1,
        startedAt: createdAt,
        completedAt: createdAt,
        createdAt,
        providerCalls: { create: [{ callIndex: 0, provider: 'openai', model: 'gpt-4o-mini', attempts: 1, status: 'succeeded', tokensIn: 1, tokensOut: 1, costUsd: 0 }] },
        feedback: { create: [{ score: 1, source: 'test' }] },
      },
    });
  for (let i = 0; i < 7; i++) await interaction(ago(91 + i), `old-${i}`);
  await interaction(ago(5), 'recent');
  await db.usageLedger.createMany({ data: [{ scope: 'global', period: '2026-06', workflowId: `wf-${randomUUID()}`, estimatedUsd: 1, status: 'settled', createdAt: ago(150) }] });
  await db.responseCache.createMany({
    data: [
      { key: `expired-${randomUUID()}`, value: { response: 'x' }, expiresAt: ago(1), createdAt: ago(2) },
      { key: `live-${randomUUID()}`, value: { response: 'y' }, expiresAt: new Date(NOW.getTime() + DAY), createdAt: ago(0) },
    ],
  });
  const vector = new Uint8Array(4);
  await db.embeddingCache.createMany({ data: Array.from({ length: 4 }, (_, i) => ({ hash: `h-${randomUUID()}`, model: 'm', dims: 1, vector, createdAt: ago(i < 3 ? 40 : 1) })) });
}

describe('retentionWorkflow', () => {
  it('sweeps every table in batches until nothing is left, reports counts per table, and a second run reports zeros', async () => {
    await seed();
    const run = (id: string) =>
      t.client.workflow.execute<typeof retentionWorkflow>(RETENTION_WORKFLOW_TYPE, { taskQueue: t.taskQueue, workflowId: id, args: [{ trigger: 'manual', overrides: { now: NOW.toISOString() } }] });
    const first: RetentionWorkflowResult = await run(`retention-test-${randomUUID()}`);
    expect(first).toMatchObject({ skipped: false, now: NOW.toISOString(), days: 90, embeddingDays: 30, batchSize: 3 });
    expect(first.counts).toEqual({ interactions: 7, providerCalls: 7, feedback: 7, usageLedger: 1, responseCache: 1, embeddingCache: 3 });
    // interactions 3+3+1, ledger 1, cache 1, embeddings 3 then 0: each table until a short batch.
    expect(first.batches).toBe(3 + 1 + 1 + 2);
    expect(await db.interaction.count()).toBe(1);
    expect(await db.providerCall.count()).toBe(1);
    expect(await db.feedback.count()).toBe(1);
    expect(await db.responseCache.count()).toBe(1);
    expect(await db.embeddingCache.count()).toBe(1);

    const second = await run(`retention-test-${randomUUID()}`);
    expect(second.counts).toEqual({ interactions: 0, providerCalls: 0, feedback: 0, usageLedger: 0, responseCache: 0, embeddingCache: 0 });
    expect(second.batches).toBe(4);
  });

  it('a scheduled run with retention.enable false does nothing', async () => {
    const result = await t.client.workflow.execute<typeof retentionWorkflow>(RETENTION_WORKFLOW_TYPE, { taskQueue: disabledQueue, workflowId: `retention-test-${randomUUID()}`, args: [{ trigger: 'schedule' }] });
    expect(result).toMatchObject({ skipped: true, batches: 0, counts: { interactions: 0 } });
  });
});

describe('retention schedule', () => {
  it('is created, updated idempotently, paused while retention.enable is false, and triggers a run', async () => {
    const scheduleId = `retention-schedule-test-${randomUUID().slice(0, 8)}`;
    schedules.push(scheduleId);
    const workflowId = `retention-scheduled-test-${randomUUID().slice(0, 8)}`;
    const base = { client: t.client, scheduleId, workflowId };

    const created = await ensureRetentionSchedule({ ...base, config: enabled, taskQueue: t.taskQueue });
    expect(created).toMatchObject({ scheduleId, created: true, paused: false, intervalHours: 24 });
    const again = await ensureRetentionSchedule({ ...base, config: enabled, taskQueue: t.taskQueue });
    expect(again).toMatchObject({ created: false, paused: false, intervalHours: 24 });

    const paused = await ensureRetentionSchedule({ ...base, config: disabled, taskQueue: disabledQueue });
    expect(paused).toMatchObject({ created: false, paused: true, intervalHours: 12, note: 'paused: retention.enable is false in the configuration' });
    expect((await describeRetentionSchedule({ client: t.client, scheduleId })).paused).toBe(true);

    const resumed = await ensureRetentionSchedule({ ...base, config: enabled, taskQueue: t.taskQueue });
    expect(resumed).toMatchObject({ paused: false, intervalHours: 24 });

    await triggerRetentionNow({ client: t.client, scheduleId });
    let runId: string | undefined;
    const deadline = Date.now() + 60_000;
    while (!runId && Date.now() < deadline) {
      runId = (await describeRetentionSchedule({ client: t.client, scheduleId })).recentRuns[0]?.workflowId;
      if (!runId) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(runId).toMatch(new RegExp(`^${workflowId}`));
    const result = (await t.client.workflow.getHandle(runId!).result()) as RetentionWorkflowResult;
    expect(result.skipped).toBe(false);
    expect(result.batchSize).toBe(3);
  });
});
