/**
 * Per-key limits through the real stack (dev server, worker, runtime, emulator, SQLite): the
 * repository's config sets no quota at all, so only the API key's limit can refuse. A user whose
 * key allows 1 request a day gets one answer, then QuotaExceeded with the reset time, and nothing
 * is called; a user without limited keys is not even admitted against the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyStore, type KeyStore } from '../../src/auth/keys';
import { QuotaExceeded } from '../../src/errors';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import type { OrchestrateRequest } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `keyquota-${label}-${run}-${n++}`;
const qa = (prompt: string, userId: string, requestId = rid('r')): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId, requestId, providers: ['google'] });

describe('API key limits at admission', () => {
  let stack: TestStack;
  let db: DatabaseClient;
  let keys: KeyStore;
  const calls = () => stack.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0;

  beforeAll(async () => {
    stack = await startStack({ label: 'key-quota' });
    db = createPrismaClient(stack.databaseUrl);
    keys = createKeyStore({ client: db, url: stack.databaseUrl });
  });
  afterAll(async () => {
    await db?.$disconnect();
    await stack?.close();
  });

  it('the config sets no quota: only the key can refuse', () => {
    const { quotas, budgets } = stack.config.resilience;
    expect([quotas.per_user_requests, quotas.per_user_tokens, budgets.per_user_usd, budgets.global_usd]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a key with 1 request a day: the second request is QuotaExceeded with the reset time, nothing called, the failure stored', async () => {
    const userId = rid('user');
    await keys.create({ userId, quotaRequestsPerDay: 1 });
    // A second, looser key of the same user: the tightest applies.
    await keys.create({ userId, quotaRequestsPerDay: 50 });
    const first = await stack.client.processRequest(qa('Name a planet.', userId));
    expect(first.response.length).toBeGreaterThan(0);
    const ledger = await db.usageLedger.findMany({ where: { workflowId: first.metadata.workflowId } });
    expect(ledger.map((r) => [r.scope, r.status]).sort()).toEqual([
      ['global', 'settled'],
      [`user:${userId}`, 'settled'],
    ]);

    const before = calls();
    const requestId = rid('over');
    const err = await stack.client.processRequest(qa('Name a star.', userId, requestId)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QuotaExceeded);
    const quota = err as QuotaExceeded;
    expect(quota.message).toMatch(new RegExp(`user "${userId}" is over its API key's request quota for day \\d{4}-\\d{2}-\\d{2}: 1 of 1 requests used`));
    const now = Date.now();
    const nextUtcDay = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate() + 1);
    expect(quota.details).toMatchObject({ limit: 'key_requests_per_day', scope: `user:${userId}`, period: 'day', used: 1, max: 1, resetsAt: new Date(nextUtcDay).toISOString() });
    expect(quota.details['retryAfterS']).toBeGreaterThan(0);
    expect(quota.details['retryAfterS']).toBeLessThanOrEqual(86_400);
    expect(calls()).toBe(before);
    const stored = await stack.runtime.memory.getInteraction(`llm-request-${requestId}`);
    expect(stored).toMatchObject({ status: 'failed', errorType: 'QuotaExceeded', providerCalls: [] });
    expect(await db.usageLedger.count({ where: { workflowId: `llm-request-${requestId}` } })).toBe(0);
  });

  it('limits are read at admission: once the limited key is revoked, the looser one applies', async () => {
    const userId = rid('revoking');
    const tight = await keys.create({ userId, quotaRequestsPerDay: 1 });
    await keys.create({ userId, quotaRequestsPerDay: 5 });
    await stack.client.processRequest(qa('Name a river.', userId));
    await expect(stack.client.processRequest(qa('Name a lake.', userId))).rejects.toBeInstanceOf(QuotaExceeded);
    await keys.revoke(tight.record.id);
    const answered = await stack.client.processRequest(qa('Name a sea.', userId));
    expect(answered.response.length).toBeGreaterThan(0);
  });

  it('a user without limited keys is answered without touching the ledger', async () => {
    const userId = rid('free');
    await keys.create({ userId });
    const result = await stack.client.processRequest(qa('Name a mountain.', userId));
    expect(result.response.length).toBeGreaterThan(0);
    expect(await db.usageLedger.count({ where: { workflowId: result.metadata.workflowId } })).toBe(0);
  });
});
