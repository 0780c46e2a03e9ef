/**
 * The retention sweep activity on SQLite and PostgreSQL: batched (never more than batch_size rows
 * per call), idempotent (a second pass deletes nothing), counts per table; old rows go, recent
 * rows and the current quota period stay. The response cache honours its TTL in the database:
 * an expired row is never served, and the sweep deletes it. Owners of cache entries are recorded
 * and erasable by owner (database and Redis).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResilienceActivities } from '../../activities/resilience';
import { createRetentionActivities, type SweepTableInput } from '../../activities/retention';
import type { DatabaseClient } from '../../src/memory/client';
import { createResilience } from '../../src/resilience';
import { createRedisCacheStore } from '../../src/resilience/response-cache';
import { RETENTION_TABLES, type RetentionTable } from '../../src/retention/constants';
import { startOfUtcMonth } from '../../src/retention/sweep';
import { testConfig } from '../helpers/config';
import { DATABASES, openTestDatabase, requiredRedisUrl, type TestDatabase } from '../resilience/databases';

const DAY = 86_400_000;
const NOW = new Date('2026-11-25T12:00:00.000Z');
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

async function interaction(db: DatabaseClient, createdAt: Date, label: string, calls: number, feedback: number): Promise<string> {
  const row = await db.interaction.create({
    data: {
      workflowId: `llm-request-${label}-${randomUUID()}`,
      userId: 'u-retention',
      taskType: 'question_answering',
      complexity: 'simple',
      complexityScore: 0.1,
      prompt: `prompt ${label}`,
      response: `answer ${label}`,
      consensusStrategy: 'none',
      consensusApplied: false,
      status: 'completed',
      routingPolicyVersion: 1,
      providersUsed: ['openai'],
      tokensIn: 1,
      tokensOut: 1,
      costUsd: 0,
      processingTimeMs: 1,
      startedAt: createdAt,
      completedAt: createdAt,
      createdAt,
      providerCalls: { create: Array.from({ length: calls }, (_, i) => ({ callIndex: i, provider: 'openai', model: 'gpt-4o-mini', attempts: 1, status: 'succeeded', tokensIn: 1, tokensOut: 1, costUsd: 0, createdAt })) },
      feedback: { create: Array.from({ length: feedback }, () => ({ score: 1, comment: `comment ${label}`, source: 'test', createdAt })) },
    },
    select: { id: true },
  });
  return row.id;
}

describe.each(DATABASES)('retention sweep ($name)', ({ open }) => {
  let t: TestDatabase;
  let db: DatabaseClient;

  beforeAll(async () => {
    t = await openTestDatabase(open, 'retention');
    db = t.database.client;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Every batch of one table until a short one, as the workflow calls them; the batch sizes seen. */
  async function sweepAll(activities: ReturnType<typeof createRetentionActivities>, table: RetentionTable, input: Omit<SweepTableInput, 'table'>) {
    const sizes: number[] = [];
    const totals: Record<string, number> = {};
    for (;;) {
      const { deleted, ...rows } = await activities.sweepRetentionBatch({ ...input, table });
      sizes.push(deleted);
      for (const [k, v] of Object.entries(rows)) totals[k] = (totals[k] ?? 0) + (v ?? 0);
      if (deleted < input.batchSize) break;
    }
    return { sizes, totals };
  }

  it('deletes old interactions with their calls and feedback in batches, keeps recent ones, and a second pass deletes nothing', async () => {
    const activities = createRetentionActivities({ config: testConfig(), db });
    const old: string[] = [];
    for (let i = 0; i < 5; i++) old.push(await interaction(db, ago(100 + i), `old-${i}`, 2, 1));
    const recent = [await interaction(db, ago(10), 'recent-a', 3, 1), await interaction(db, ago(89), 'recent-b', 1, 0)];

    const input = { now: NOW.toISOString(), days: 90, embeddingDays: 30, batchSize: 2 };
    const first = await sweepAll(activities, 'interactions', input);
    expect(first.sizes).toEqual([2, 2, 1]);
    expect(first.totals).toEqual({ interactions: 5, providerCalls: 10, feedback: 5 });
    expect(await db.interaction.count({ where: { id: { in: old } } })).toBe(0);
    expect(await db.providerCall.count({ where: { interactionId: { in: old } } })).toBe(0);
    expect(await db.feedback.count({ where: { interactionId: { in: old } } })).toBe(0);
    expect(await db.interaction.count({ where: { id: { in: recent } } })).toBe(2);
    expect(await db.providerCall.count({ where: { interactionId: { in: recent } } })).toBe(4);
    expect(await db.feedback.count({ where: { interactionId: { in: recent } } })).toBe(1);

    const second = await sweepAll(activities, 'interactions', input);
    expect(second).toEqual({ sizes: [0], totals: { interactions: 0, providerCalls: 0, feedback: 0 } });
  });

  it('deletes ledger rows of ended periods only: the current month is kept even past the retention', async () => {
    const activities = createRetentionActivities({ config: testConfig(), db });
    const monthStart = startOfUtcMonth(NOW);
    const row = (createdAt: Date, period: string) => ({ scope: 'user:u-ledger', period, workflowId: `wf-${randomUUID()}`, estimatedUsd: 1, status: 'settled', createdAt });
    await db.usageLedger.createMany({
      data: [row(ago(200), '2026-05'), row(ago(120), '2026-07'), row(new Date(monthStart.getTime() + 3_600_000), '2026-11'), row(ago(1), '2026-11-24')],
    });
    // days: 1 would reach into the current month: the month start wins.
    const swept = await sweepAll(activities, 'usageLedger', { now: NOW.toISOString(), days: 1, embeddingDays: 30, batchSize: 500 });
    expect(swept.totals).toEqual({ usageLedger: 2 });
    expect((await db.usageLedger.findMany({ where: { scope: 'user:u-ledger' }, orderBy: { createdAt: 'asc' } })).map((r) => r.period)).toEqual(['2026-11', '2026-11-24']);
  });

  it('the response cache honours its TTL in the database: an expired row is never served, and the sweep deletes expired and too-old rows', async () => {
    const config = testConfig({ resilience: { cache: { enabled: true, ttl_s: 3600 } } });
    const parts = createResilience({ config, database: t.database });
    const resilience = createResilienceActivities({ config, ...parts, now: () => NOW.getTime() });
    // Rows written straight into the table, as a worker that died would leave them.
    await db.responseCache.createMany({
      data: [
        { key: 'expired', value: { response: 'stale' }, expiresAt: new Date(NOW.getTime() - 1), createdAt: ago(1) },
        { key: 'old-but-live', value: { response: 'long ttl' }, expiresAt: new Date(NOW.getTime() + 365 * DAY), createdAt: ago(120) },
        { key: 'live', value: { response: 'fresh' }, expiresAt: new Date(NOW.getTime() + 60_000), createdAt: ago(0) },
      ],
    });
    expect(await resilience.cacheLookup({ key: 'live' })).toMatchObject({ hit: true, value: { response: 'fresh' } });
    // The sweep first, so the lookup below cannot pass only because a lookup deletes what it finds expired.
    const activities = createRetentionActivities({ config, db });
    const swept = await sweepAll(activities, 'responseCache', { now: NOW.toISOString(), days: 90, embeddingDays: 30, batchSize: 1 });
    expect(swept.totals).toEqual({ responseCache: 2 });
    expect(swept.sizes).toEqual([1, 1, 0]);
    expect((await db.responseCache.findMany({ orderBy: { key: 'asc' } })).map((r) => r.key)).toEqual(['live']);

    await db.responseCache.create({ data: { key: 'expired-again', value: { response: 'stale' }, expiresAt: new Date(NOW.getTime() - 1), createdAt: ago(1) } });
    expect(await resilience.cacheLookup({ key: 'expired-again' })).toEqual({ hit: false });
  });

  it('cacheStore records the entry owner; deleteOwnedBy deletes exactly the owners given', async () => {
    const config = testConfig({ resilience: { cache: { enabled: true, ttl_s: 3600 } } });
    const parts = createResilience({ config, database: t.database });
    const { cache } = parts;
    const resilience = createResilienceActivities({ config, ...parts });
    await resilience.cacheStore({ key: 'owned-a', value: { v: 1, workflowId: 'llm-request-a', response: 'A' } });
    await resilience.cacheStore({ key: 'owned-b', value: { v: 1, workflowId: 'llm-request-b', response: 'B' } });
    expect((await db.responseCache.findUniqueOrThrow({ where: { key: 'owned-a' } })).ownerWorkflowId).toBe('llm-request-a');
    expect(await cache.deleteOwnedBy(['llm-request-a', 'llm-request-nobody'])).toBe(1);
    expect((await db.responseCache.findMany({ where: { key: { in: ['owned-a', 'owned-b'] } } })).map((r) => r.key)).toEqual(['owned-b']);
    expect(await cache.deleteOwnedBy(['llm-request-a'])).toBe(0);
  });

  it('deletes embeddings older than embedding_days in batches', async () => {
    const activities = createRetentionActivities({ config: testConfig(), db });
    const vector = new Uint8Array(4);
    await db.embeddingCache.createMany({
      data: [
        ...Array.from({ length: 3 }, (_, i) => ({ hash: `old-${i}`, model: 'm', dims: 1, vector, createdAt: ago(31 + i) })),
        { hash: 'recent', model: 'm', dims: 1, vector, createdAt: ago(29) },
      ],
    });
    const swept = await sweepAll(activities, 'embeddingCache', { now: NOW.toISOString(), days: 90, embeddingDays: 30, batchSize: 2 });
    expect(swept).toEqual({ sizes: [2, 1], totals: { embeddingCache: 3 } });
    expect((await db.embeddingCache.findMany()).map((r) => r.hash)).toEqual(['recent']);
  });

  it('refuses a bad batch size and an unknown table as InvalidRequest', async () => {
    const activities = createRetentionActivities({ config: testConfig(), db });
    await expect(activities.sweepRetentionBatch({ table: 'interactions', now: NOW.toISOString(), days: 90, embeddingDays: 30, batchSize: 0 })).rejects.toMatchObject({ type: 'InvalidRequest', nonRetryable: true });
    await expect(activities.sweepRetentionBatch({ table: 'nope' as RetentionTable, now: NOW.toISOString(), days: 90, embeddingDays: 30, batchSize: 1 })).rejects.toMatchObject({ type: 'InvalidRequest' });
    expect(RETENTION_TABLES).toEqual(['interactions', 'usageLedger', 'responseCache', 'embeddingCache']);
  });
});

describe('response cache owners in Redis (TEST_REDIS_URL)', () => {
  it('deleteOwnedBy deletes the owner entries, not entries another request took over, nor other owners', async () => {
    const prefix = `test-retention:${process.pid}:${Date.now().toString(36)}:`;
    const store = createRedisCacheStore({ url: requiredRedisUrl(), keyPrefix: prefix });
    try {
      await store.set('k-a', { response: 'A' }, 60_000, undefined, 'wf-a');
      await store.set('k-b', { response: 'B' }, 60_000, undefined, 'wf-b');
      await store.set('k-shared', { response: 'first' }, 60_000, undefined, 'wf-a2');
      await store.set('k-shared', { response: 'second' }, 60_000, undefined, 'wf-c');
      expect(await store.deleteOwnedBy(['wf-a', 'wf-a2', 'wf-none'])).toBe(1);
      expect(await store.get('k-a')).toBeNull();
      expect((await store.get('k-b'))?.value).toEqual({ response: 'B' });
      expect((await store.get('k-shared'))?.value).toEqual({ response: 'second' });
      expect(await store.deleteOwnedBy(['wf-a', 'wf-a2'])).toBe(0);
      expect(await store.deleteOwnedBy(['wf-c'])).toBe(1);
    } finally {
      await store.close();
    }
  });
});
