/**
 * Retention and erasure as workflows.
 *
 * retentionWorkflow: one run, on the schedule (src/retention/schedule.ts) or by hand.
 *   1. read retention.* from the worker's configuration; a scheduled run with retention.enable
 *      false stops here;
 *   2. fix the run's "now" (workflow time), so every batch of the run uses the same cutoffs;
 *   3. for each table in turn (interactions with their calls and feedback, past usage-ledger
 *      periods, the response cache, cached embeddings) call the sweep activity, one batch at a
 *      time, until a batch comes back short; a run with very many batches continues as new with
 *      its counts;
 *   4. return the counts per table.
 *
 * eraseUserWorkflow: the right to erasure for one user (client/erasure.ts starts it; the CLI's
 * `users erase`). Deletes the user's API keys first (no new requests), then the user's requests
 * batch by batch (texts' embeddings, cache entries, Temporal histories, rows), then what is left in
 * the user's ledger scope; returns what it removed, per kind. Run again, it reports zeros.
 *
 * Deterministic code only: the database and Temporal's API are reached through activities
 * (activities/retention.ts).
 */
import { ApplicationFailure, continueAsNew, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { RetentionActivities } from '../activities/retention';
import { addCounts, emptyErasureCounts, emptyRetentionCounts, RETENTION_TABLES, type ErasureCounts, type RetentionCounts } from '../src/retention/constants';

// ---------------------------------------------------------------------------------------------
// Types

export interface RetentionWorkflowInput {
  trigger: 'schedule' | 'manual';
  /** Manual runs and tests only: override the configuration for this run. */
  overrides?: { days?: number; embeddingDays?: number; batchSize?: number; /** ISO-8601 "now" of the run. */ now?: string };
  /** Set by continue-as-new: where the previous run stopped. */
  resume?: { now: string; tableIndex: number; counts: RetentionCounts; batches: number };
}

export interface RetentionWorkflowResult {
  /** A scheduled run with retention.enable false does nothing. */
  skipped: boolean;
  now: string | null;
  days: number;
  embeddingDays: number;
  batchSize: number;
  /** Rows deleted, per kind. */
  counts: RetentionCounts;
  /** Sweep activities called. */
  batches: number;
}

export interface EraseUserWorkflowInput {
  userId: string;
  /** Requests per batch (default 100). */
  batchSize?: number;
  /** How long one batch waits for the server to finish deleting its executions (default 60 s). */
  deletionTimeoutMs?: number;
  /** Set by continue-as-new. */
  resume?: { counts: ErasureCounts; batches: number; pendingDeletions: number; undecodablePayloads: number };
}

export interface EraseUserWorkflowResult {
  /** What was removed, per kind. */
  counts: ErasureCounts;
  batches: number;
  /** Executions whose deletion the server had not finished when the batch ended (it finishes them). */
  pendingDeletions: number;
  /** History payloads that could not be decoded (the embeddings of their texts may remain). */
  undecodablePayloads: number;
}

// ---------------------------------------------------------------------------------------------
// Activities, one proxy per profile

/** Reading the configuration: no I/O. */
const local = proxyLocalActivities<RetentionActivities>({ startToCloseTimeout: '10s' });

/** One batch of deletes in the database. */
const sweep = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 10, nonRetryableErrorTypes: ['InvalidRequest', 'ConfigError'] },
});

/** One batch of an erasure: reads histories and waits for their deletion, heartbeating. */
const erase = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 20, nonRetryableErrorTypes: ['InvalidRequest', 'ConfigError'] },
});

// ---------------------------------------------------------------------------------------------
// Workflows

export async function retentionWorkflow(input: RetentionWorkflowInput): Promise<RetentionWorkflowResult> {
  const settings = await local.retentionSettings();
  const o = input.overrides ?? {};
  const days = o.days ?? settings.days;
  const embeddingDays = o.embeddingDays ?? settings.embeddingDays;
  const batchSize = o.batchSize ?? settings.batchSize;
  if (input.trigger === 'schedule' && !settings.enable && !input.resume) {
    return { skipped: true, now: null, days, embeddingDays, batchSize, counts: emptyRetentionCounts(), batches: 0 };
  }
  const now = input.resume?.now ?? o.now ?? new Date().toISOString();
  let counts = input.resume?.counts ?? emptyRetentionCounts();
  let batches = input.resume?.batches ?? 0;
  for (let t = input.resume?.tableIndex ?? 0; t < RETENTION_TABLES.length; t++) {
    const table = RETENTION_TABLES[t]!;
    for (;;) {
      const { deleted, ...rows } = await sweep.sweepRetentionBatch({ table, now, days, embeddingDays, batchSize });
      counts = addCounts(counts, rows);
      batches++;
      if (deleted < batchSize) break;
      if (workflowInfo().continueAsNewSuggested) {
        await continueAsNew<typeof retentionWorkflow>({ ...input, resume: { now, tableIndex: t, counts, batches } });
      }
    }
  }
  return { skipped: false, now, days, embeddingDays, batchSize, counts, batches };
}

export async function eraseUserWorkflow(input: EraseUserWorkflowInput): Promise<EraseUserWorkflowResult> {
  if (typeof input.userId !== 'string' || input.userId.trim().length === 0) {
    throw ApplicationFailure.nonRetryable('invalid erasure: userId: must be a non-empty string', 'InvalidRequest', { issues: [{ path: 'userId', message: 'must be a non-empty string' }] });
  }
  const batchSize = input.batchSize ?? 100;
  let counts = input.resume?.counts ?? emptyErasureCounts();
  let batches = input.resume?.batches ?? 0;
  let pendingDeletions = input.resume?.pendingDeletions ?? 0;
  let undecodablePayloads = input.resume?.undecodablePayloads ?? 0;
  if (!input.resume) counts = addCounts(counts, await sweep.prepareUserErasure({ userId: input.userId }));
  for (;;) {
    const batch = await erase.eraseUserBatch({ userId: input.userId, batchSize, ...(input.deletionTimeoutMs !== undefined && { deletionTimeoutMs: input.deletionTimeoutMs }) });
    counts = addCounts(counts, batch.counts);
    batches++;
    pendingDeletions += batch.pendingDeletions;
    undecodablePayloads += batch.undecodablePayloads;
    if (batch.done) break;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof eraseUserWorkflow>({ ...input, resume: { counts, batches, pendingDeletions, undecodablePayloads } });
    }
  }
  counts = addCounts(counts, await sweep.finishUserErasure({ userId: input.userId }));
  return { counts, batches, pendingDeletions, undecodablePayloads };
}
