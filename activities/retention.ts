/**
 * Activities of the retention and erasure workflows (workflows/retention.ts): read the retention
 * settings, sweep one batch of one table, and the steps of erasing a user (src/retention).
 *
 * Built by a factory from its dependencies; the integrator merges it into the worker's activities:
 *   ...createRetentionActivities({ config, db, databaseUrl: env.DATABASE_URL, cache: resilience.cache, client, logger })
 * Typed errors become non-retryable ApplicationFailures whose type is the error code; an
 * unreachable database or Temporal stays retryable.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Config } from '../src/config/schema';
import type { Logger } from '../src/logger';
import type { DatabaseClient } from '../src/memory/client';
import type { ResponseCacheStore } from '../src/resilience/response-cache';
import type { ErasureCounts, RetentionCounts, RetentionTable } from '../src/retention/constants';
import { createUserErasure, type EraseBatchResult } from '../src/retention/erasure';
import { createRetentionSweep } from '../src/retention/sweep';
import { toFailure } from './resilience';

export interface RetentionActivityDependencies {
  config: Pick<Config, 'retention'>;
  db: DatabaseClient;
  databaseUrl?: string;
  /** The worker's response cache store (Redis entries are erased through it). */
  cache?: ResponseCacheStore;
  /** A Temporal client whose data converter decodes the histories; default: the worker's (Context.current().client). */
  client?: Client;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

/** retention.* as a run uses it. */
export interface RetentionRunSettings {
  enable: boolean;
  days: number;
  embeddingDays: number;
  intervalHours: number;
  batchSize: number;
}

export interface SweepTableInput {
  table: RetentionTable;
  /** ISO-8601: the run's "now" (fixed for the whole run, so every batch uses the same cutoffs). */
  now: string;
  days: number;
  embeddingDays: number;
  batchSize: number;
}

export interface EraseUserInput {
  userId: string;
}

export interface EraseUserBatchInput extends EraseUserInput {
  batchSize: number;
  deletionTimeoutMs?: number;
}

const DAY_MS = 86_400_000;

async function typed<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

function heartbeat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // not in an activity (tests)
  }
}

export function createRetentionActivities(deps: RetentionActivityDependencies) {
  const { config, db } = deps;
  const sweep = createRetentionSweep(db, deps.databaseUrl);
  const erasure = () =>
    createUserErasure({
      db,
      ...(deps.databaseUrl !== undefined && { databaseUrl: deps.databaseUrl }),
      ...(deps.cache && { cache: deps.cache }),
      client: deps.client ?? Context.current().client,
      ...(deps.logger && { logger: deps.logger }),
    });

  return {
    /** The retention settings of this worker's configuration. */
    retentionSettings(): Promise<RetentionRunSettings> {
      const r = config.retention;
      return Promise.resolve({ enable: r.enable, days: r.days, embeddingDays: r.embedding_days, intervalHours: r.interval_hours, batchSize: r.batch_size });
    },

    /** Delete one batch (at most batchSize rows) of what `table` keeps past its retention; counts of what went. */
    sweepRetentionBatch(input: SweepTableInput): Promise<Partial<RetentionCounts> & { deleted: number }> {
      return typed(async () => {
        const now = new Date(input.now);
        if (Number.isNaN(now.getTime())) throw new RangeError(`sweepRetentionBatch: now is not a date: ${JSON.stringify(input.now)}`);
        const before = new Date(now.getTime() - input.days * DAY_MS);
        const { batchSize } = input;
        switch (input.table) {
          case 'interactions': {
            const r = await sweep.interactions({ before, batchSize });
            return { ...r, deleted: r.interactions };
          }
          case 'usageLedger': {
            const n = await sweep.usageLedger({ before, batchSize, now });
            return { usageLedger: n, deleted: n };
          }
          case 'responseCache': {
            const n = await sweep.responseCache({ now, createdBefore: before, batchSize });
            return { responseCache: n, deleted: n };
          }
          case 'embeddingCache': {
            const n = await sweep.embeddingCache({ before: new Date(now.getTime() - input.embeddingDays * DAY_MS), batchSize });
            return { embeddingCache: n, deleted: n };
          }
          default:
            throw new RangeError(`sweepRetentionBatch: unknown table ${JSON.stringify(input.table)}`);
        }
      });
    },

    /** Erasure, step 1: the user's API keys deleted, conversations counted. */
    prepareUserErasure(input: EraseUserInput): Promise<ErasureCounts> {
      return typed(() => erasure().prepare(input.userId));
    },

    /** Erasure, step 2 (repeated until done): one batch of the user's requests. */
    eraseUserBatch(input: EraseUserBatchInput): Promise<EraseBatchResult> {
      return typed(() => erasure().eraseBatch(input.userId, { batchSize: input.batchSize, ...(input.deletionTimeoutMs !== undefined && { deletionTimeoutMs: input.deletionTimeoutMs }), heartbeat }));
    },

    /** Erasure, step 3: what is left in the user's ledger scope. */
    finishUserErasure(input: EraseUserInput): Promise<ErasureCounts> {
      return typed(() => erasure().finish(input.userId));
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
