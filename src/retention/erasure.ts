/**
 * Right to erasure: delete or anonymize everything stored for one user, in steps the erasure
 * workflow (workflows/retention.ts eraseUserWorkflow) calls as activities. Every step is
 * idempotent, so a retried or repeated erasure goes on where the last one stopped and a second
 * erasure of the same user reports zeros.
 *
 *   const erasure = createUserErasure({ db, databaseUrl, cache, client });
 *   await erasure.prepare('u1');                  // API keys deleted (no new requests), conversations counted
 *   while (!(await erasure.eraseBatch('u1', { batchSize: 100 })).done);
 *   await erasure.finish('u1');                   // ledger rows left in the user's scope
 *
 * What goes, per batch of the user's requests (found in the database by Interaction.userId and in
 * Temporal by the UserId search attribute, running ones included):
 *   1. every text of the request is read (the stored interaction, and every payload of its
 *      Temporal history: the prompt, each provider's answer) and the cached embeddings of those
 *      texts are deleted: EmbeddingCache is keyed by sha256(model, text), so this is the only
 *      way to find them;
 *   2. response cache entries whose owner is one of the requests (database and Redis);
 *   3. the Temporal executions: each request run and the feedback workflows on it (deleted
 *      through the API; a running one is terminated by the server), waited for until gone;
 *   4. the interactions with their provider calls and feedback; ledger rows of the user's scope;
 *      global-scope ledger rows keep their amounts (the global budget stays right) but their
 *      workflow id is replaced by a random one.
 * Texts are read before anything is deleted, so an erasure interrupted between steps loses no
 * link: the next attempt finds the same rows and histories again.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { embeddingKey } from '../consensus/embeddings';
import { comparableText } from '../consensus/similarity';
import { FEEDBACK_WORKFLOW_PREFIX } from '../constants';
import type { DatabaseClient } from '../memory/client';
import { databaseConnectionError, isConnectionError } from '../memory/database-url';
import { GLOBAL_SCOPE, userScope } from '../resilience/budget';
import type { ResponseCacheStore } from '../resilience/response-cache';
import { emptyErasureCounts, type ErasureCounts } from './constants';
import { checkUserId } from './user-id';
import {
  collectHistoryTexts,
  collectStrings,
  deleteExecution,
  executionsOfWorkflowIds,
  listUserExecutions,
  waitUntilDeleted,
  type ExecutionRef,
} from './temporal-history';

export interface UserErasureOptions {
  db: DatabaseClient;
  databaseUrl?: string;
  /** The worker's response cache store: when it is Redis, entries there are deleted too (database rows always are). */
  cache?: ResponseCacheStore;
  /** A Temporal client with the data converter the histories were written with (it decodes them). */
  client: Client;
  logger?: { warn(obj: object, msg: string): void };
}

export interface EraseBatchOptions {
  batchSize: number;
  /** How long to wait for the server to finish deleting a batch's executions (default 60 s). */
  deletionTimeoutMs?: number;
  /** Called between steps (an activity heartbeats). */
  heartbeat?: () => void;
}

export interface EraseBatchResult {
  counts: ErasureCounts;
  /** Nothing of the user was left for another batch. */
  done: boolean;
  /** Executions the server had not finished deleting within the timeout (they are deleted, later). */
  pendingDeletions: number;
  /** History payloads that could not be decoded (their texts' embeddings may remain). */
  undecodablePayloads: number;
}

/** The cache keys of the embeddings a text may have (as embedded: comparableText; and as it is). */
export function embeddingHashesOf(texts: Iterable<string>): Set<string> {
  const hashes = new Set<string>();
  for (const text of texts) {
    hashes.add(embeddingKey(text));
    hashes.add(embeddingKey(comparableText(text)));
  }
  return hashes;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export { checkUserId };

export function createUserErasure(options: UserErasureOptions) {
  const { db, client } = options;

  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (options.databaseUrl !== undefined && isConnectionError(error)) throw databaseConnectionError(options.databaseUrl, error, action);
      throw error;
    }
  }

  return {
    /**
     * First step: delete the user's gateway API keys (the next request with one gets 401, so no new
     * request starts while the erasure runs) and count the user's conversations.
     */
    prepare: (userIdInput: string) =>
      guard('prepare the erasure', async () => {
        const userId = checkUserId(userIdInput);
        const conversations = await db.interaction.findMany({ where: { userId, conversationId: { not: null } }, distinct: ['conversationId'], select: { conversationId: true } });
        const apiKeys = (await db.apiKey.deleteMany({ where: { userId } })).count;
        return { ...emptyErasureCounts(), conversations: conversations.length, apiKeys };
      }),

    /** One batch of the user's requests: texts read, embeddings, cache entries, histories and rows deleted. */
    eraseBatch: (userIdInput: string, batch: EraseBatchOptions) =>
      guard("erase a user's requests", async (): Promise<EraseBatchResult> => {
        const userId = checkUserId(userIdInput);
        const { batchSize } = batch;
        if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
        const beat = batch.heartbeat ?? (() => undefined);
        const counts = emptyErasureCounts();

        // 1. What this batch covers: stored interactions, and executions Temporal lists for the user.
        const rows = await db.interaction.findMany({
          where: { userId },
          take: batchSize,
          orderBy: { createdAt: 'asc' },
          select: { id: true, workflowId: true, prompt: true, systemPrompt: true, messages: true, response: true, result: true, errorMessage: true, consensusDetails: true, requestId: true, feedback: { select: { id: true, comment: true } } },
        });
        const listed = await listUserExecutions(client, userId, batchSize);
        beat();
        const workflowIds = [...new Set([...rows.map((r) => r.workflowId), ...listed.map((e) => e.workflowId)])];
        const runs = new Map<string, ExecutionRef>();
        for (const ref of listed) runs.set(`${ref.workflowId}/${ref.runId}`, ref);
        const unlisted = rows.map((r) => r.workflowId).filter((id) => !listed.some((e) => e.workflowId === id));
        for (const ref of await executionsOfWorkflowIds(client, unlisted)) runs.set(`${ref.workflowId}/${ref.runId}`, ref);
        const feedbackRuns = await executionsOfWorkflowIds(client, rows.flatMap((r) => r.feedback.map((f) => `${FEEDBACK_WORKFLOW_PREFIX}${f.id}`)));
        beat();

        // 2. Every text, before anything is deleted.
        const texts = new Set<string>();
        for (const row of rows) collectStrings(row, texts);
        let undecodablePayloads = 0;
        const existing: ExecutionRef[] = [];
        for (const ref of [...runs.values(), ...feedbackRuns]) {
          const read = await collectHistoryTexts(client, ref, texts);
          if (read.found) existing.push(ref);
          undecodablePayloads += read.undecodable;
          beat();
        }
        if (undecodablePayloads > 0) options.logger?.warn({ undecodablePayloads }, 'erasure: some history payloads could not be decoded (is the payload key that wrote them missing?); embeddings of their texts may remain');

        // 3. Embeddings of those texts, and the cache entries the requests wrote.
        for (const chunk of chunks([...embeddingHashesOf(texts)], 500)) {
          counts.embeddings += (await db.embeddingCache.deleteMany({ where: { hash: { in: chunk } } })).count;
        }
        for (const chunk of chunks(workflowIds, 200)) {
          counts.responseCache += (await db.responseCache.deleteMany({ where: { ownerWorkflowId: { in: chunk } } })).count;
        }
        if (options.cache && options.cache.kind !== 'database' && workflowIds.length > 0) counts.responseCache += await options.cache.deleteOwnedBy(workflowIds);
        beat();

        // 4. The executions (running ones are terminated by the server), waited for until gone.
        const deleted: ExecutionRef[] = [];
        for (const ref of existing) if (await deleteExecution(client, ref)) deleted.push(ref);
        counts.workflowExecutions = deleted.length;
        const pending = await waitUntilDeleted(client, deleted, { timeoutMs: batch.deletionTimeoutMs ?? 60_000, onPoll: beat });
        if (pending.length > 0) options.logger?.warn({ pending: pending.length }, 'erasure: the server has not finished deleting some executions yet (it will)');

        // 5. The rows, in one transaction: children counted as deleted, ledger rows of the user's scope
        //    deleted, global ones anonymized.
        const interactionIds = rows.map((r) => r.id);
        const scope = userScope(userId);
        const globalRows = workflowIds.length === 0 ? [] : await db.usageLedger.findMany({ where: { scope: GLOBAL_SCOPE, workflowId: { in: workflowIds } }, select: { id: true } });
        const [calls, feedback, interactions, ledger] = await db.$transaction([
          db.providerCall.deleteMany({ where: { interactionId: { in: interactionIds } } }),
          db.feedback.deleteMany({ where: { interactionId: { in: interactionIds } } }),
          db.interaction.deleteMany({ where: { id: { in: interactionIds } } }),
          db.usageLedger.deleteMany({ where: { scope, workflowId: { in: workflowIds } } }),
          ...globalRows.map((g) => db.usageLedger.update({ where: { id: g.id }, data: { workflowId: `erased-${randomUUID()}` } })),
        ]);
        counts.providerCalls = calls.count;
        counts.feedback = feedback.count;
        counts.interactions = interactions.count;
        counts.usageLedgerDeleted = ledger.count;
        counts.usageLedgerAnonymized = globalRows.length;

        const progressed = rows.length > 0 || deleted.length > 0;
        const done = !progressed || (rows.length < batchSize && listed.length < batchSize);
        return { counts, done, pendingDeletions: pending.length, undecodablePayloads };
      }),

    /** Last step: ledger rows of the user's scope no stored request pointed at (refused or expired requests). */
    finish: (userIdInput: string) =>
      guard('finish the erasure', async () => {
        const userId = checkUserId(userIdInput);
        const usageLedgerDeleted = (await db.usageLedger.deleteMany({ where: { scope: userScope(userId) } })).count;
        return { ...emptyErasureCounts(), usageLedgerDeleted };
      }),
  };
}

export type UserErasure = ReturnType<typeof createUserErasure>;
