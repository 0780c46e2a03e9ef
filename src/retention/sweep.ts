/**
 * The retention sweep over the database: delete, in batches of at most `batchSize` rows, what is
 * older than the configured retention. Each call deletes one batch from one table and says how many
 * rows went; the retention workflow calls again until a batch comes back short. Every call is
 * idempotent (deleting what is already gone deletes nothing), so an activity retried after a crash
 * just goes on.
 *
 *   const sweep = createRetentionSweep(db, env.DATABASE_URL);
 *   await sweep.interactions({ before, batchSize: 500 });   // { interactions, providerCalls, feedback }
 *
 * - interactions: created before `before`, with their provider calls and feedback (one transaction
 *   per batch, so counts and rows agree).
 * - usage ledger: rows created before `before` AND before the start of the current UTC month, so
 *   the period a quota or budget is counting (a day or a month) is never touched.
 * - response cache: past `expiresAt` (the TTL) or created before `createdBefore`.
 * - embedding cache: created before `before`.
 */
import type { DatabaseClient } from '../memory/client';
import { databaseConnectionError, isConnectionError } from '../memory/database-url';

export interface SweepBatch {
  /** Delete rows strictly older than this instant. */
  before: Date;
  batchSize: number;
}

export interface InteractionSweepResult {
  interactions: number;
  providerCalls: number;
  feedback: number;
}

export interface RetentionSweep {
  interactions(batch: SweepBatch): Promise<InteractionSweepResult>;
  /** `now` decides the current month (never deleted). */
  usageLedger(batch: SweepBatch & { now: Date }): Promise<number>;
  responseCache(batch: { now: Date; createdBefore: Date; batchSize: number }): Promise<number>;
  embeddingCache(batch: SweepBatch): Promise<number>;
}

/** The first instant of the UTC month `now` is in. */
export function startOfUtcMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

function checkBatch(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
}

export function createRetentionSweep(db: DatabaseClient, databaseUrl?: string): RetentionSweep {
  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (databaseUrl !== undefined && isConnectionError(error)) throw databaseConnectionError(databaseUrl, error, action);
      throw error;
    }
  }

  return {
    interactions: ({ before, batchSize }) =>
      guard('delete old interactions', async () => {
        checkBatch(batchSize);
        const rows = await db.interaction.findMany({ where: { createdAt: { lt: before } }, select: { id: true }, orderBy: { createdAt: 'asc' }, take: batchSize });
        if (rows.length === 0) return { interactions: 0, providerCalls: 0, feedback: 0 };
        const ids = rows.map((r) => r.id);
        // Children first and explicitly: the counts are what was deleted, not what a cascade took along.
        const [calls, feedback, interactions] = await db.$transaction([
          db.providerCall.deleteMany({ where: { interactionId: { in: ids } } }),
          db.feedback.deleteMany({ where: { interactionId: { in: ids } } }),
          db.interaction.deleteMany({ where: { id: { in: ids } } }),
        ]);
        return { interactions: interactions.count, providerCalls: calls.count, feedback: feedback.count };
      }),

    usageLedger: ({ before, batchSize, now }) =>
      guard('delete old usage ledger rows', async () => {
        checkBatch(batchSize);
        const monthStart = startOfUtcMonth(now);
        const cutoff = before.getTime() < monthStart.getTime() ? before : monthStart;
        const rows = await db.usageLedger.findMany({ where: { createdAt: { lt: cutoff } }, select: { id: true }, orderBy: { createdAt: 'asc' }, take: batchSize });
        if (rows.length === 0) return 0;
        return (await db.usageLedger.deleteMany({ where: { id: { in: rows.map((r) => r.id) } } })).count;
      }),

    responseCache: ({ now, createdBefore, batchSize }) =>
      guard('delete expired response cache entries', async () => {
        checkBatch(batchSize);
        const rows = await db.responseCache.findMany({
          where: { OR: [{ expiresAt: { lte: now } }, { createdAt: { lt: createdBefore } }] },
          select: { key: true },
          take: batchSize,
        });
        if (rows.length === 0) return 0;
        // The same condition again: an entry replaced (new TTL) since it was read is kept.
        return (await db.responseCache.deleteMany({ where: { key: { in: rows.map((r) => r.key) }, OR: [{ expiresAt: { lte: now } }, { createdAt: { lt: createdBefore } }] } })).count;
      }),

    embeddingCache: ({ before, batchSize }) =>
      guard('delete old cached embeddings', async () => {
        checkBatch(batchSize);
        const rows = await db.embeddingCache.findMany({ where: { createdAt: { lt: before } }, select: { hash: true }, take: batchSize });
        if (rows.length === 0) return 0;
        return (await db.embeddingCache.deleteMany({ where: { hash: { in: rows.map((r) => r.hash) } } })).count;
      }),
  };
}
