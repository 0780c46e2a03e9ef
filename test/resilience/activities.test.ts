import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResilienceActivities, type ResilienceActivities } from '../../activities/resilience';
import type { Config, ConfigInput } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { createResilience } from '../../src/resilience';
import { userScope } from '../../src/resilience/budget';
import { responseCacheKey } from '../../src/resilience/response-cache';
import { repoConfig, testConfig } from '../helpers/config';
import { DATABASES, openTestDatabase, type TestDatabase } from './databases';

const T0 = Date.parse('2026-11-25T10:00:30.000Z');

function failureOf(error: unknown): ApplicationFailure {
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe('resilience configuration', () => {
  it('the repository config.yaml parses with permissive defaults', () => {
    expect(repoConfig().resilience).toEqual({
      circuit_breaker: { enabled: true, failure_threshold: 5, window_s: 60, cooldown_s: 30, min_failure_rate: 0.5 },
      rate_limits: {},
      quotas: { period: 'day' },
      budgets: { period: 'month' },
      cache: { enabled: false, ttl_s: 3600 },
      hedging: { enabled: false, after: 'p95' },
      max_retry_after_s: 60,
    });
  });

  it('takes a full section, and refuses hedging after "ms" without delay_ms', () => {
    const config = testConfig({
      resilience: {
        circuit_breaker: { failure_threshold: 2, window_s: 10, cooldown_s: 5 },
        rate_limits: { openai: { rpm: 100, tpm: 50_000 } },
        quotas: { period: 'month', per_user_requests: 10 },
        budgets: { per_user_usd: 5, global_usd: 100 },
        cache: { enabled: true, ttl_s: 60 },
        hedging: { enabled: true, after: 'ms', delay_ms: 1500 },
        max_retry_after_s: 30,
      },
    });
    expect(config.resilience.rate_limits).toEqual({ openai: { rpm: 100, tpm: 50_000 } });
    expect(config.resilience.budgets).toEqual({ period: 'month', per_user_usd: 5, global_usd: 100 });
    expect(() => testConfig({ resilience: { hedging: { enabled: true, after: 'ms' } } })).toThrow(/resilience\.hedging\.delay_ms/);
    expect(() => testConfig({ resilience: { budgets: { per_user_usd: -1 } } })).toThrow(/resilience\.budgets\.per_user_usd/);
    expect(() => testConfig({ resilience: { cache: { enabled: true, ttl: 5 } } as never })).toThrow(ConfigError);
  });
});

describe.each(DATABASES)('resilience activities on $name', ({ open }) => {
  let t: TestDatabase;
  let clock = T0;
  const closers: (() => Promise<void>)[] = [];

  function activities(resilience: ConfigInput['resilience'] = {}): { acts: ResilienceActivities; config: Config } {
    const config = testConfig({ resilience });
    const built = createResilience({ config, database: t.database });
    closers.push(() => built.close());
    return { acts: createResilienceActivities({ config, ...built, now: () => clock }), config };
  }

  beforeAll(async () => {
    t = await openTestDatabase(open, 'activities');
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await t?.close();
  });

  it('refuses a config that rate-limits an unknown provider', () => {
    expect(() => activities({ rate_limits: { opnai: { rpm: 5 } } })).toThrow(ConfigError);
  });

  it('admitRequest without quotas or budgets admits without writing', async () => {
    const { acts } = activities();
    const workflowId = 'llm-request-free-1';
    expect(await acts.admitRequest({ workflowId, userId: 'u-free', targets: [{ provider: 'openai', model: 'gpt-4o' }], promptTokens: 100, maxTokens: 100 })).toEqual({
      admitted: true,
      reserved: false,
    });
    expect(await t.database.client.usageLedger.count({ where: { workflowId } })).toBe(0);
  });

  it('admitRequest reserves the estimate, is idempotent, and refuses over budget with a final BudgetExceeded failure', async () => {
    // gpt-4o: 1000 in + 1000 out = 0.0025 + 0.01 = $0.0125 a request; the budget fits 2.
    const { acts } = activities({ budgets: { per_user_usd: 0.03 } });
    const request = (n: number) => ({ workflowId: `llm-request-budget-${n}`, userId: 'u-budget', targets: [{ provider: 'openai', model: 'gpt-4o' }], promptTokens: 1000, maxTokens: 1000 });
    const first = await acts.admitRequest(request(1));
    expect(first).toMatchObject({ admitted: true, reserved: true, created: true, estimatedTokens: 2000, day: '2026-11-25' });
    expect(first.reserved && first.estimatedUsd).toBeCloseTo(0.0125, 12);
    expect(await acts.admitRequest(request(1))).toMatchObject({ reserved: true, created: false });
    await acts.admitRequest(request(2));

    const failure = failureOf(await acts.admitRequest(request(3)).catch((e: unknown) => e));
    expect(failure.type).toBe('BudgetExceeded');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('would exceed its budget for month 2026-11');
    expect(failure.details?.[0]).toMatchObject({ limit: 'per_user_usd', period: 'month', max: 0.03 });
    expect(await t.database.client.usageLedger.count({ where: { workflowId: 'llm-request-budget-3' } })).toBe(0);

    // Settling the real (smaller) cost makes room; releasing is idempotent.
    expect(await acts.settleRequest({ workflowId: 'llm-request-budget-1', actualUsd: 0.001, tokens: 150 })).toEqual({ settled: 2 });
    expect(await acts.admitRequest(request(3))).toMatchObject({ reserved: true, created: true });
    expect(await acts.releaseRequest({ workflowId: 'llm-request-budget-3' })).toEqual({ released: 2 });
    expect(await acts.releaseRequest({ workflowId: 'llm-request-budget-3' })).toEqual({ released: 0 });
  });

  it('admitRequest refuses over quota with a final QuotaExceeded failure', async () => {
    const { acts } = activities({ quotas: { per_user_requests: 1 } });
    const base = { userId: 'u-quota', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }], promptTokens: 10, maxTokens: 10 };
    await acts.admitRequest({ ...base, workflowId: 'llm-request-quota-1' });
    const failure = failureOf(await acts.admitRequest({ ...base, workflowId: 'llm-request-quota-2' }).catch((e: unknown) => e));
    expect(failure).toMatchObject({ type: 'QuotaExceeded', nonRetryable: true });
    expect(failure.details?.[0]).toMatchObject({ limit: 'per_user_requests', scope: userScope('u-quota'), period: 'day', used: 1, max: 1 });
  });

  it('invalid input is a final InvalidRequest failure', async () => {
    const { acts } = activities({ budgets: { per_user_usd: 1 } });
    const failure = failureOf(await acts.admitRequest({ workflowId: '', userId: 'u', targets: [], promptTokens: -1, maxTokens: 1 }).catch((e: unknown) => e));
    expect(failure).toMatchObject({ type: 'InvalidRequest', nonRetryable: true });
    expect(failure.message).toMatch(/workflowId/);
    expect(failure.message).toMatch(/targets/);
    expect(failureOf(await acts.checkCircuits({ keys: [''] }).catch((e: unknown) => e)).type).toBe('InvalidRequest');
    expect(failureOf(await acts.recordCallOutcome({ ok: true }).catch((e: unknown) => e)).type).toBe('InvalidRequest');
  });

  it('circuits: failures open, checkCircuits reports the cooldown, the probe closes it again', async () => {
    const { acts } = activities({ circuit_breaker: { failure_threshold: 2, window_s: 60, cooldown_s: 10 } });
    clock = T0;
    const keys = ['google', 'google:gemini-2.0-flash'];
    expect(await acts.recordCallOutcome({ keys, ok: false, errorType: 'ProviderBadRequest', message: '400' })).toMatchObject({
      outcomes: [
        { key: 'google', counted: false },
        { key: 'google:gemini-2.0-flash', counted: false },
      ],
    });
    await acts.recordCallOutcome({ keys, ok: false, errorType: 'ProviderOverloaded', message: '503' });
    const opened = await acts.recordCallOutcome({ key: 'google', ok: false, errorType: 'ProviderOverloaded', message: '503 again' });
    expect(opened.outcomes).toEqual([{ key: 'google', counted: true, opened: true, closed: false, state: 'open' }]);

    clock = T0 + 1_000;
    const check = await acts.checkCircuits({ keys: [...keys, 'openai'] });
    expect(check.available).toEqual(['google:gemini-2.0-flash', 'openai']);
    expect(check.coolingDown).toEqual([{ key: 'google', until: new Date(T0 + 10_000).toISOString(), untilMs: T0 + 10_000, reason: expect.stringContaining('503 again') as unknown }]);

    clock = T0 + 10_000;
    expect(await acts.checkCircuits({ keys: ['google'] })).toMatchObject({ available: ['google'], probing: ['google'] });
    expect(await acts.recordCallOutcome({ key: 'google', ok: true })).toEqual({ outcomes: [{ key: 'google', counted: false, opened: false, closed: true, state: 'closed' }] });
    expect(await acts.checkCircuits({ keys: ['google'] })).toEqual({ available: ['google'], probing: [], coolingDown: [] });
  });

  it('acquireRateLimit applies the configured provider limits only', async () => {
    const { acts } = activities({ rate_limits: { anthropic: { rpm: 2 } } });
    clock = T0;
    expect(await acts.acquireRateLimit({ provider: 'anthropic', tokens: 10 })).toEqual({ granted: true });
    expect(await acts.acquireRateLimit({ provider: 'anthropic', tokens: 10 })).toEqual({ granted: true });
    expect(await acts.acquireRateLimit({ provider: 'anthropic', tokens: 10 })).toMatchObject({ granted: false, retryAfterMs: 30_000 });
    // Not limited: always granted.
    for (let i = 0; i < 5; i++) expect(await acts.acquireRateLimit({ provider: 'openai', tokens: 10 })).toEqual({ granted: true });
    clock = T0 + 30_000;
    expect(await acts.acquireRateLimit({ provider: 'anthropic', tokens: 10 })).toEqual({ granted: true });
  });

  it('cache: off by default (miss, nothing stored); on, it round-trips until the TTL', async () => {
    const key = responseCacheKey({ prompt: 'cached?', taskType: 'question_answering', route: ['openai:gpt-4o-mini'], consensusStrategy: 'lexical' });
    const off = activities().acts;
    clock = T0;
    expect(await off.cacheStore({ key, value: { response: 'x' } })).toEqual({ stored: false });
    expect(await off.cacheLookup({ key })).toEqual({ hit: false });
    expect(await t.database.client.responseCache.count({ where: { key } })).toBe(0);

    const on = activities({ cache: { enabled: true, ttl_s: 60 } }).acts;
    expect(await on.cacheLookup({ key })).toEqual({ hit: false });
    expect(await on.cacheStore({ key, value: { response: '391', confidence: 0.9 } })).toEqual({ stored: true });
    clock = T0 + 59_000;
    expect(await on.cacheLookup({ key })).toEqual({ hit: true, value: { response: '391', confidence: 0.9 }, expiresAt: new Date(T0 + 60_000).toISOString() });
    clock = T0 + 60_000;
    expect(await on.cacheLookup({ key })).toEqual({ hit: false });
    // An explicit TTL wins over the configured one.
    clock = T0;
    await on.cacheStore({ key, value: 'short', ttlMs: 1_000 });
    clock = T0 + 1_000;
    expect(await on.cacheLookup({ key })).toEqual({ hit: false });
  });
});

describe('resilience activities when the database is down', () => {
  it('a database outage is a retryable DatabaseConnectionError failure; the cache degrades to a miss', async () => {
    const url = 'postgresql://orchestrator:hunter2-secret@127.0.0.1:1/nowhere';
    const { createPrismaClient } = await import('../../src/memory/client');
    const client = createPrismaClient(url);
    const config = testConfig({ resilience: { budgets: { per_user_usd: 1 }, cache: { enabled: true } } });
    const built = createResilience({ config, database: { client, url } });
    const warnings: unknown[] = [];
    const acts = createResilienceActivities({ config, ...built, logger: { info: () => undefined, warn: (obj: unknown) => warnings.push(obj) } });
    try {
      const failure = failureOf(
        await acts.admitRequest({ workflowId: 'llm-request-down', userId: 'u', targets: [{ provider: 'openai', model: 'gpt-4o' }], promptTokens: 1, maxTokens: 1 }).catch((e: unknown) => e),
      );
      expect(failure.type).toBe('DatabaseConnectionError');
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).not.toContain('hunter2-secret');
      expect(failureOf(await acts.checkCircuits({ keys: ['openai'] }).catch((e: unknown) => e)).type).toBe('DatabaseConnectionError');

      const lookup = await acts.cacheLookup({ key: 'k' });
      expect(lookup.hit).toBe(false);
      expect(lookup.hit === false && lookup.error).toMatch(/unreachable/);
      expect(warnings).toHaveLength(1);
    } finally {
      await built.close();
      await client.$disconnect();
    }
  });
});
