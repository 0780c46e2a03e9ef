/**
 * Right to erasure on the real stack (real worker, emulated providers, similarity consensus with
 * the real embedding model, the response cache and budgets on), on SQLite and on PostgreSQL, with
 * the Temporal part against the test dev server: after `eraseUser`, no interaction, provider
 * call, feedback, API key, ledger detail, cache entry, embedding of the user's texts or Temporal
 * execution (completed, feedback, running) of that user remains; another user's data is
 * untouched; a second erasure reports zeros; an empty user id is InvalidRequest. Redis entries
 * are erased by owner (erasure over a Redis cache store).
 *
 * Deletion of executions is asynchronous on the server: the checks poll until NotFound.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsersCommands } from '../../client/users-cli';
import { createKeyStore } from '../../src/auth/keys';
import { SearchAttributes } from '../../src/constants';
import { InvalidRequest } from '../../src/errors';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { createRedisCacheStore } from '../../src/resilience/response-cache';
import { ERASE_USER_WORKFLOW_TYPE, emptyErasureCounts } from '../../src/retention/constants';
import { createUserErasure, embeddingHashesOf } from '../../src/retention/erasure';
import { collectHistoryTexts, listExecutions, listUserExecutions } from '../../src/retention/temporal-history';
import type { eraseUserWorkflow } from '../../workflows/retention';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';
import { requiredRedisUrl } from '../resilience/databases';
import { startStack, type TestStack } from '../helpers/stack';
import { connectTestTemporal, type TemporalTestContext } from '../helpers/temporal';

const run = Date.now().toString(36);

async function until<T>(what: string, fn: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function gone(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return false;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

/** Every text in the histories of these workflows, as embedding cache keys. */
async function historyHashes(client: Client, workflowIds: string[]): Promise<Set<string>> {
  const texts = new Set<string>();
  for (const workflowId of workflowIds) {
    for (const ref of await listExecutions(client, `WorkflowId = "${workflowId}"`, 10)) await collectHistoryTexts(client, ref, texts);
  }
  return embeddingHashesOf(texts);
}

const DATABASES: { name: string; open: (label: string) => Promise<ScratchDatabase> }[] = [
  { name: 'SQLite', open: () => Promise.resolve(scratchSqlite()) },
  { name: 'PostgreSQL', open: (label) => scratchPostgres(label) },
];

describe.each(DATABASES)('users erase on the real stack ($name)', ({ name, open }) => {
  let scratch: ScratchDatabase;
  let stack: TestStack;
  let db: DatabaseClient;
  const tag = `${name.toLowerCase()}-${run}`;
  // A quote and a backslash: the visibility query must escape them.
  const user = `erase-me "${tag}" \\ x`;
  const other = `keep-me-${tag}`;
  const runningId = `llm-request-erase-running-${tag}`;

  beforeAll(async () => {
    scratch = await open('erasure');
    stack = await startStack({
      label: `erase-${name.toLowerCase()}`,
      databaseUrl: scratch.url,
      configure: (c) => ({ ...c, resilience: { ...c.resilience, cache: { enabled: true, ttl_s: 3600 }, budgets: { ...c.resilience.budgets, per_user_usd: 100, global_usd: 1000 } } }),
    });
    db = createPrismaClient(scratch.url);
  }, 120_000);

  afterAll(async () => {
    await stack?.temporal.client.workflow.getHandle(runningId).terminate('test over').catch(() => undefined);
    await db?.$disconnect();
    await stack?.close();
    await scratch?.drop();
  });

  it('deletes everything stored for the user and nothing of another user; a second run reports zeros', async () => {
    const client = stack.temporal.client;
    const keys = createKeyStore({ client: db, url: scratch.url });
    await keys.create({ userId: user, name: 'laptop' });
    await keys.create({ userId: other, name: 'phone' });

    // The user: a consensus request (embeddings), one in a conversation (cached), feedback with a comment, one still running.
    const a = await stack.client.processRequest({ prompt: `Describe how tides on ${tag} work.`, taskType: 'question_answering', userId: user, requireConsensus: true, requestId: `erase-a-${tag}` });
    const b = await stack.client.processRequest({ prompt: `Name a colour for ${tag}.`, taskType: 'question_answering', userId: user, requestId: `erase-b-${tag}`, conversationId: `conv-${tag}` });
    const feedback = await stack.client.submitFeedback({ workflowId: a.metadata.workflowId, score: 0.4, comment: `private remark on ${tag}` });
    await client.workflow.start('orchestrateRequest', {
      taskQueue: `nobody-polls-${randomUUID()}`,
      workflowId: runningId,
      args: [{ prompt: `still running for ${tag}`, taskType: 'question_answering', userId: user }],
      typedSearchAttributes: [{ key: SearchAttributes.userId, value: user }],
    });
    // Another user, with the same kinds of data.
    const o = await stack.client.processRequest({ prompt: `Why is the sky over ${tag} blue?`, taskType: 'question_answering', userId: other, requireConsensus: true, requestId: `keep-o-${tag}` });
    await stack.client.submitFeedback({ workflowId: o.metadata.workflowId, score: 0.9, comment: 'fine' });
    // A single-provider answer is always cached (a consensus answer is not when its confidence is low, which the emulator's answers sometimes are).
    const o2 = await stack.client.processRequest({ prompt: `Name a river near ${tag}.`, taskType: 'question_answering', userId: other, requestId: `keep-o2-${tag}` });

    const userWorkflows = [a.metadata.workflowId, b.metadata.workflowId];
    const userHashes = await historyHashes(client, [...userWorkflows, runningId, `feedback-${feedback.id}`]);
    const otherHashes = await historyHashes(client, [o.metadata.workflowId]);
    const onlyUser = [...userHashes].filter((h) => !otherHashes.has(h));
    const onlyOther = [...otherHashes].filter((h) => !userHashes.has(h));
    // Embeddings are written in the background: wait for both users' to be there.
    await until('embeddings of both users', async () => [await db.embeddingCache.count({ where: { hash: { in: onlyUser } } }), await db.embeddingCache.count({ where: { hash: { in: onlyOther } } })], ([u, v]) => u! > 0 && v! > 0);
    const otherEmbeddings = await db.embeddingCache.count({ where: { hash: { in: onlyOther } } });
    expect(await db.responseCache.count({ where: { ownerWorkflowId: { in: userWorkflows } } })).toBeGreaterThan(0);
    const otherCache = await db.responseCache.count({ where: { ownerWorkflowId: { in: [o.metadata.workflowId, o2.metadata.workflowId] } } });
    expect(otherCache).toBeGreaterThan(0);
    const globalBefore = await db.usageLedger.aggregate({ where: { scope: 'global' }, _count: true, _sum: { estimatedUsd: true } });
    expect(await db.usageLedger.count({ where: { scope: 'global', workflowId: { in: userWorkflows } } })).toBe(2);
    expect(await db.usageLedger.count({ where: { scope: `user:${user}` } })).toBe(2);
    await until('visibility of the running request', () => listUserExecutions(client, user, 10), (l) => l.length === 3);

    const first = await stack.client.eraseUser(user);
    expect(first.counts).toMatchObject({ interactions: 2, feedback: 1, conversations: 1, usageLedgerDeleted: 2, usageLedgerAnonymized: 2, apiKeys: 1, workflowExecutions: 4 });
    expect(first.counts.providerCalls).toBeGreaterThanOrEqual(3);
    expect(first.counts.responseCache).toBeGreaterThanOrEqual(1);
    expect(first.counts.embeddings).toBeGreaterThanOrEqual(1);
    expect(first.undecodablePayloads).toBe(0);
    expect(first.workflowId).not.toContain(tag);

    // Nothing of the user in the database...
    expect(await db.interaction.count({ where: { userId: user } })).toBe(0);
    expect(await db.providerCall.count({ where: { interaction: { userId: user } } })).toBe(0);
    expect(await db.feedback.count({ where: { id: feedback.id } })).toBe(0);
    expect(await db.apiKey.count({ where: { userId: user } })).toBe(0);
    expect(await db.usageLedger.count({ where: { OR: [{ scope: `user:${user}` }, { workflowId: { in: userWorkflows } }] } })).toBe(0);
    expect(await db.responseCache.count({ where: { ownerWorkflowId: { in: userWorkflows } } })).toBe(0);
    expect(await db.embeddingCache.count({ where: { hash: { in: onlyUser } } })).toBe(0);
    // ... the global budget keeps its amounts ...
    const globalAfter = await db.usageLedger.aggregate({ where: { scope: 'global' }, _count: true, _sum: { estimatedUsd: true } });
    expect(globalAfter).toEqual(globalBefore);
    // ... and no execution in Temporal (deletion is asynchronous: poll).
    for (const id of [...userWorkflows, runningId, `feedback-${feedback.id}`]) await until(`${id} deleted`, () => gone(client, id), (g) => g);
    await until('visibility without the user', () => listUserExecutions(client, user, 10), (l) => l.length === 0);

    // The other user is untouched.
    expect(await db.interaction.count({ where: { userId: other } })).toBe(2);
    expect(await db.feedback.count({ where: { interaction: { userId: other } } })).toBe(1);
    expect(await db.apiKey.count({ where: { userId: other } })).toBe(1);
    expect(await db.usageLedger.count({ where: { scope: `user:${other}` } })).toBe(2);
    expect(await db.responseCache.count({ where: { ownerWorkflowId: { in: [o.metadata.workflowId, o2.metadata.workflowId] } } })).toBe(otherCache);
    expect(await db.embeddingCache.count({ where: { hash: { in: onlyOther } } })).toBe(otherEmbeddings);
    expect(await gone(client, o.metadata.workflowId)).toBe(false);

    // Safe to run twice: zeros, through the CLI this time.
    const lines: string[] = [];
    const program = new Command('orchestrator').exitOverride();
    addUsersCommands(program, { erase: (id, opts) => stack.client.eraseUser(id, opts), out: (line) => lines.push(line) });
    await program.parseAsync(['node', 'orchestrator', 'users', 'erase', user, '--json']);
    const second = JSON.parse(lines.join('\n')) as { counts: unknown };
    expect(second.counts).toEqual(emptyErasureCounts());
  }, 300_000);

  it('an empty user id is InvalidRequest, from the client and from the workflow itself', async () => {
    await expect(stack.client.eraseUser('  ')).rejects.toBeInstanceOf(InvalidRequest);
    await expect(stack.client.eraseUser('')).rejects.toThrow(/userId/);
    const failed = await stack.temporal.client.workflow
      .execute<typeof eraseUserWorkflow>(ERASE_USER_WORKFLOW_TYPE, { taskQueue: stack.temporal.taskQueue, workflowId: `user-erasure-test-${randomUUID()}`, args: [{ userId: '' }] })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect((failed as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidRequest' });
  });
});

describe('erasure of Redis cache entries (TEST_REDIS_URL)', () => {
  let t: TemporalTestContext;
  let scratch: ScratchDatabase;
  let db: DatabaseClient;

  beforeAll(async () => {
    t = await connectTestTemporal('erase-redis');
    scratch = scratchSqlite();
    await applyMigrations(scratch.url);
    db = createPrismaClient(scratch.url);
  });
  afterAll(async () => {
    await db?.$disconnect();
    await scratch?.drop();
    await t?.close();
  });

  it("deletes the Redis entries the user's requests own and keeps others'", async () => {
    const cache = createRedisCacheStore({ url: requiredRedisUrl(), keyPrefix: `test-erase:${process.pid}:${run}:` });
    try {
      const mine = `llm-request-redis-mine-${run}`;
      const theirs = `llm-request-redis-theirs-${run}`;
      const base = { taskType: 'question_answering', complexity: 'simple', complexityScore: 0.1, consensusStrategy: 'none', consensusApplied: false, status: 'completed', routingPolicyVersion: 1, providersUsed: [], tokensIn: 1, tokensOut: 1, costUsd: 0, processingTimeMs: 1, startedAt: new Date(), completedAt: new Date() };
      await db.interaction.create({ data: { ...base, workflowId: mine, userId: 'redis-user', prompt: 'mine' } });
      await db.interaction.create({ data: { ...base, workflowId: theirs, userId: 'redis-other', prompt: 'theirs' } });
      await cache.set('key-mine', { response: 'mine' }, 60_000, undefined, mine);
      await cache.set('key-theirs', { response: 'theirs' }, 60_000, undefined, theirs);

      const erasure = createUserErasure({ db, databaseUrl: scratch.url, cache, client: t.client });
      const batch = await erasure.eraseBatch('redis-user', { batchSize: 10 });
      expect(batch.counts).toMatchObject({ interactions: 1, responseCache: 1, workflowExecutions: 0 });
      expect(await cache.get('key-mine')).toBeNull();
      expect((await cache.get('key-theirs'))?.value).toEqual({ response: 'theirs' });
      expect((await erasure.eraseBatch('redis-user', { batchSize: 10 })).counts).toEqual(emptyErasureCounts());
    } finally {
      await cache.close();
    }
  });
});
