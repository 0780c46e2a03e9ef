import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, BudgetExceeded, QuotaExceeded } from '../../src/errors';
import { budgetLimitsFromConfig, createBudgetLedger, GLOBAL_SCOPE, hasLimits, userScope, type BudgetLedger, type BudgetLimits } from '../../src/resilience/budget';
import { estimateCostUsd, estimatePromptTokens, estimateTokens, periodKey } from '../../src/resilience/estimate';
import { ResilienceSettingsSchema } from '../../src/config/schema';
import { DATABASES, openTestDatabase, type TestDatabase } from './databases';

const T0 = new Date('2026-11-25T10:00:00.000Z');
const NEXT_DAY = new Date('2026-11-26T00:00:01.000Z');
const NEXT_MONTH = new Date('2026-12-01T00:00:00.000Z');

describe('estimates', () => {
  const pricing = { 'gpt-4o': { input: 2.5, output: 10 }, 'claude-haiku-4-5': { input: 1, output: 5 } };

  it('cost: every target reads the prompt and writes up to maxTokens', () => {
    const cost = estimateCostUsd(pricing, [{ provider: 'openai', model: 'gpt-4o' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }], 1000, 500);
    expect(cost).toBeCloseTo((1000 * 2.5 + 500 * 10 + 1000 * 1 + 500 * 5) / 1_000_000, 12);
    expect(estimateTokens([{}, {}], 1000, 500)).toBe(3000);
  });

  it('an unpriced model is a config error, except on openai_compatible servers', () => {
    expect(() => estimateCostUsd(pricing, [{ provider: 'openai', model: 'gpt-9' }], 10, 10)).toThrow(ConfigError);
    expect(estimateCostUsd(pricing, [{ provider: 'local', model: 'llama3.1', kind: 'openai_compatible' }], 10, 10)).toBe(0);
  });

  it('prompt tokens: about four characters a token, rounded up', () => {
    expect(estimatePromptTokens('abcdefgh')).toBe(2);
    expect(estimatePromptTokens('abcdefghi', null, undefined)).toBe(3);
    expect(estimatePromptTokens('')).toBe(0);
    expect(() => estimateTokens([{}], -1, 10)).toThrow(RangeError);
  });

  it('periods are UTC days and months', () => {
    expect(periodKey('day', new Date('2026-11-25T23:59:59.999Z'))).toBe('2026-11-25');
    expect(periodKey('month', new Date('2026-11-25T23:59:59.999Z'))).toBe('2026-11');
    expect(periodKey('day', NEXT_MONTH)).toBe('2026-12-01');
  });

  it('limits come from the config; none set means nothing to reserve', () => {
    const none = budgetLimitsFromConfig(ResilienceSettingsSchema.parse({}));
    expect(hasLimits(none)).toBe(false);
    expect(none).toEqual({ quotas: { period: 'day', perUserRequests: undefined, perUserTokens: undefined }, budgets: { period: 'month', perUserUsd: undefined, globalUsd: undefined } });
    const some = budgetLimitsFromConfig(ResilienceSettingsSchema.parse({ budgets: { period: 'day', global_usd: 100 } }));
    expect(hasLimits(some)).toBe(true);
    expect(some.budgets).toEqual({ period: 'day', perUserUsd: undefined, globalUsd: 100 });
  });
});

describe.each(DATABASES)('budget ledger on $name', ({ open }) => {
  let t: TestDatabase;
  let n = 0;
  /** A fresh user per test: the tests share one database (global budgets get a fresh period instead). */
  const newUser = () => `user-${++n}`;
  const wf = (label: string) => `llm-request-${label}-${++n}`;
  const ledger = (limits: Partial<BudgetLimits['quotas']> & Partial<BudgetLimits['budgets']> & { quotaPeriod?: 'day' | 'month'; budgetPeriod?: 'day' | 'month' }) =>
    createBudgetLedger(t.database, {
      quotas: { period: limits.quotaPeriod ?? 'day', perUserRequests: limits.perUserRequests, perUserTokens: limits.perUserTokens },
      budgets: { period: limits.budgetPeriod ?? 'month', perUserUsd: limits.perUserUsd, globalUsd: limits.globalUsd },
    });
  const rowsOf = (workflowId: string) => t.database.client.usageLedger.findMany({ where: { workflowId }, orderBy: { scope: 'asc' } });

  beforeAll(async () => {
    t = await openTestDatabase(open, 'budget');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reserve writes one reserved row per scope (user and global) with the estimate', async () => {
    const user = newUser();
    const id = wf('reserve');
    const reservation = await ledger({ perUserUsd: 10 }).reserve({ workflowId: id, userId: user, estimatedUsd: 0.25, estimatedTokens: 1200, now: T0 });
    expect(reservation).toEqual({ workflowId: id, scopes: [userScope(user), GLOBAL_SCOPE], day: '2026-11-25', estimatedUsd: 0.25, estimatedTokens: 1200, created: true });
    const rows = await rowsOf(id);
    expect(rows.map((r) => [r.scope, r.period, r.status, r.estimatedUsd, r.tokens, r.actualUsd])).toEqual([
      [GLOBAL_SCOPE, '2026-11-25', 'reserved', 0.25, 1200, null],
      [userScope(user), '2026-11-25', 'reserved', 0.25, 1200, null],
    ]);
  });

  it('is idempotent by workflow: a retried reserve (also concurrent) never double-reserves', async () => {
    const user = newUser();
    const id = wf('idem');
    const l = ledger({ perUserUsd: 1 });
    expect((await l.reserve({ workflowId: id, userId: user, estimatedUsd: 0.6, estimatedTokens: 10, now: T0 })).created).toBe(true);
    // 0.6 + 0.6 would not fit: a second reservation would be refused, the retry is not.
    const again = await l.reserve({ workflowId: id, userId: user, estimatedUsd: 0.6, estimatedTokens: 10, now: T0 });
    expect(again).toMatchObject({ created: false, estimatedUsd: 0.6, estimatedTokens: 10 });
    const id2 = wf('idem-concurrent');
    const concurrent = await Promise.all(Array.from({ length: 6 }, () => ledger({ perUserUsd: 10 }).reserve({ workflowId: id2, userId: user, estimatedUsd: 0.1, estimatedTokens: 5, now: T0 })));
    expect(concurrent.filter((r) => r.created)).toHaveLength(1);
    expect(await rowsOf(id)).toHaveLength(2);
    expect(await rowsOf(id2)).toHaveLength(2);
  });

  it('20 parallel reserves against a budget that fits 5: exactly 5 granted, 15 BudgetExceeded, nothing written for them', async () => {
    const user = newUser();
    const l = ledger({ perUserUsd: 1 });
    const ids = Array.from({ length: 20 }, (_, i) => wf(`race-${i}`));
    const results = await Promise.allSettled(ids.map((id) => l.reserve({ workflowId: id, userId: user, estimatedUsd: 0.2, estimatedTokens: 100, now: T0 })));
    const granted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(granted).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const error of refused) expect(error).toBeInstanceOf(BudgetExceeded);
    expect(await t.database.client.usageLedger.count({ where: { scope: userScope(user) } })).toBe(5);
    expect(await t.database.client.usageLedger.count({ where: { workflowId: { in: ids } } })).toBe(10);
    expect((await l.usage(userScope(user), 'month', T0)).usd).toBeCloseTo(1, 9);
  });

  it('refusals name the limit, the period and the amounts', async () => {
    const user = newUser();
    const l = ledger({ perUserUsd: 1 });
    await l.reserve({ workflowId: wf('spend'), userId: user, estimatedUsd: 0.8, estimatedTokens: 1, now: T0 });
    const id = wf('over');
    const error = await l.reserve({ workflowId: id, userId: user, estimatedUsd: 0.25, estimatedTokens: 1, now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceeded);
    const budget = error as BudgetExceeded;
    expect(budget.code).toBe('BudgetExceeded');
    expect(budget.message).toBe(`user "${user}" would exceed its budget for month 2026-11: $0.8 spent or reserved + $0.25 estimated > $1`);
    // resetsAt: the next UTC month; retryAfterS: the seconds from the refusal until then.
    expect(budget.details).toEqual({ limit: 'per_user_usd', scope: userScope(user), period: 'month', periodKey: '2026-11', resetsAt: NEXT_MONTH.toISOString(), retryAfterS: 482_400, used: 0.8, requested: 0.25, max: 1 });
    expect(await rowsOf(id)).toEqual([]);
  });

  it("API key limits (requests and tokens per UTC day, USD per UTC month) apply on top of the configured ones", async () => {
    const user = newUser();
    const l = ledger({});
    const keyLimits = { requestsPerDay: 2, tokensPerDay: 1000, usdPerMonth: 1 };
    await l.reserve({ workflowId: wf('k1'), userId: user, estimatedUsd: 0.1, estimatedTokens: 100, keyLimits, now: T0 });
    const tokens = await l.reserve({ workflowId: wf('k-tokens'), userId: user, estimatedUsd: 0.1, estimatedTokens: 901, keyLimits, now: T0 }).catch((e: unknown) => e);
    expect(tokens).toBeInstanceOf(QuotaExceeded);
    expect((tokens as QuotaExceeded).details).toMatchObject({ limit: 'key_tokens_per_day', period: 'day', periodKey: '2026-11-25', resetsAt: '2026-11-26T00:00:00.000Z', retryAfterS: 50_400, used: 100, max: 1000 });
    const usd = await l.reserve({ workflowId: wf('k-usd'), userId: user, estimatedUsd: 0.95, estimatedTokens: 1, keyLimits, now: T0 }).catch((e: unknown) => e);
    expect(usd).toBeInstanceOf(BudgetExceeded);
    expect((usd as BudgetExceeded).details).toMatchObject({ limit: 'key_usd_per_month', period: 'month', resetsAt: NEXT_MONTH.toISOString() });
    await l.reserve({ workflowId: wf('k2'), userId: user, estimatedUsd: 0.1, estimatedTokens: 100, keyLimits, now: T0 });
    const id = wf('k3');
    const requests = await l.reserve({ workflowId: id, userId: user, estimatedUsd: 0.1, estimatedTokens: 100, keyLimits, now: T0 }).catch((e: unknown) => e);
    expect(requests).toBeInstanceOf(QuotaExceeded);
    expect((requests as QuotaExceeded).message).toBe(`user "${user}" is over its API key's request quota for day 2026-11-25: 2 of 2 requests used`);
    expect((requests as QuotaExceeded).details).toMatchObject({ limit: 'key_requests_per_day', scope: userScope(user), used: 2, max: 2 });
    expect(await rowsOf(id)).toEqual([]);
    // The next UTC day, the day's quota starts again; without key limits nothing refuses.
    await l.reserve({ workflowId: wf('k4'), userId: user, estimatedUsd: 0.1, estimatedTokens: 100, keyLimits, now: NEXT_DAY });
    await l.reserve({ workflowId: id, userId: user, estimatedUsd: 0.1, estimatedTokens: 100, now: T0 });
  });

  it('request quota per user per day; the next day starts afresh', async () => {
    const user = newUser();
    const l = ledger({ perUserRequests: 2 });
    await l.reserve({ workflowId: wf('q1'), userId: user, estimatedUsd: 0, estimatedTokens: 0, now: T0 });
    await l.reserve({ workflowId: wf('q2'), userId: user, estimatedUsd: 0, estimatedTokens: 0, now: T0 });
    const error = await l.reserve({ workflowId: wf('q3'), userId: user, estimatedUsd: 0, estimatedTokens: 0, now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExceeded);
    expect((error as QuotaExceeded).message).toBe(`user "${user}" is over its request quota for day 2026-11-25: 2 of 2 requests used`);
    expect((error as QuotaExceeded).details).toMatchObject({ limit: 'per_user_requests', period: 'day', periodKey: '2026-11-25', used: 2, requested: 1, max: 2 });
    // Another user is not affected; the same user is again the next day.
    await expect(l.reserve({ workflowId: wf('q-other'), userId: newUser(), estimatedUsd: 0, estimatedTokens: 0, now: T0 })).resolves.toMatchObject({ created: true });
    await expect(l.reserve({ workflowId: wf('q4'), userId: user, estimatedUsd: 0, estimatedTokens: 0, now: NEXT_DAY })).resolves.toMatchObject({ created: true });
  });

  it('token quota counts reserved estimates, then settled actual tokens', async () => {
    const user = newUser();
    const l = ledger({ perUserTokens: 1000, quotaPeriod: 'month' });
    const first = wf('tok1');
    await l.reserve({ workflowId: first, userId: user, estimatedUsd: 0, estimatedTokens: 800, now: T0 });
    const error = await l.reserve({ workflowId: wf('tok2'), userId: user, estimatedUsd: 0, estimatedTokens: 300, now: T0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExceeded);
    expect((error as QuotaExceeded).details).toMatchObject({ limit: 'per_user_tokens', used: 800, requested: 300, max: 1000 });
    // The first request really used 500 tokens: 300 more fit now.
    expect(await l.settle({ workflowId: first, actualUsd: 0, tokens: 500 })).toEqual({ settled: 2 });
    await expect(l.reserve({ workflowId: wf('tok3'), userId: user, estimatedUsd: 0, estimatedTokens: 300, now: T0 })).resolves.toMatchObject({ created: true });
    // Next month starts afresh; the next day does not (month quota).
    await expect(l.reserve({ workflowId: wf('tok4'), userId: user, estimatedUsd: 0, estimatedTokens: 300, now: NEXT_DAY })).rejects.toBeInstanceOf(QuotaExceeded);
    await expect(l.reserve({ workflowId: wf('tok5'), userId: user, estimatedUsd: 0, estimatedTokens: 300, now: NEXT_MONTH })).resolves.toMatchObject({ created: true });
  });

  it('settle records the actual cost (budget usage follows it); release gives a reservation back; both idempotent', async () => {
    const user = newUser();
    const l = ledger({ perUserUsd: 1 });
    const a = wf('settle-a');
    const b = wf('settle-b');
    await l.reserve({ workflowId: a, userId: user, estimatedUsd: 0.6, estimatedTokens: 100, now: T0 });
    await l.reserve({ workflowId: b, userId: user, estimatedUsd: 0.4, estimatedTokens: 100, now: T0 });
    expect((await l.usage(userScope(user), 'month', T0)).usd).toBeCloseTo(1, 9);
    await expect(l.reserve({ workflowId: wf('settle-c'), userId: user, estimatedUsd: 0.1, estimatedTokens: 1, now: T0 })).rejects.toBeInstanceOf(BudgetExceeded);

    // a cost less than estimated, b spent nothing.
    expect(await l.settle({ workflowId: a, actualUsd: 0.15, tokens: 80 })).toEqual({ settled: 2 });
    expect(await l.settle({ workflowId: a, actualUsd: 0.15, tokens: 80 })).toEqual({ settled: 2 });
    expect(await l.release({ workflowId: b })).toEqual({ released: 2 });
    expect(await l.release({ workflowId: b })).toEqual({ released: 0 });
    // A settled request is not released.
    expect(await l.release({ workflowId: a })).toEqual({ released: 0 });
    expect(await l.usage(userScope(user), 'month', T0)).toEqual({ requests: 1, tokens: 80, usd: 0.15 });
    const rows = await rowsOf(a);
    expect(rows.map((r) => [r.status, r.actualUsd, r.tokens])).toEqual([
      ['settled', 0.15, 80],
      ['settled', 0.15, 80],
    ]);
    // Room again: 0.15 + 0.8 fits in 1.
    await expect(l.reserve({ workflowId: wf('settle-d'), userId: user, estimatedUsd: 0.8, estimatedTokens: 1, now: T0 })).resolves.toMatchObject({ created: true });
    expect(await l.settle({ workflowId: 'llm-request-never-reserved', actualUsd: 1, tokens: 1 })).toEqual({ settled: 0 });
  });

  it('global budget spans users; a budget per day resets the next day', async () => {
    const day = new Date('2030-01-15T08:00:00.000Z'); // a period no other test uses
    const l = ledger({ globalUsd: 1, budgetPeriod: 'day' });
    await l.reserve({ workflowId: wf('g1'), userId: newUser(), estimatedUsd: 0.7, estimatedTokens: 1, now: day });
    const error = await l.reserve({ workflowId: wf('g2'), userId: newUser(), estimatedUsd: 0.5, estimatedTokens: 1, now: day }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceeded);
    expect((error as BudgetExceeded).message).toBe('the global budget for day 2030-01-15 would be exceeded: $0.7 spent or reserved + $0.5 estimated > $1');
    expect((error as BudgetExceeded).details).toMatchObject({ limit: 'global_usd', scope: GLOBAL_SCOPE, periodKey: '2030-01-15' });
    await expect(l.reserve({ workflowId: wf('g3'), userId: newUser(), estimatedUsd: 0.5, estimatedTokens: 1, now: new Date('2030-01-16T00:00:00.000Z') })).resolves.toMatchObject({ created: true });
  });

  it('a request alone above the budget is refused outright', async () => {
    await expect(ledger({ perUserUsd: 0.01 }).reserve({ workflowId: wf('huge'), userId: newUser(), estimatedUsd: 0.02, estimatedTokens: 1, now: T0 })).rejects.toBeInstanceOf(BudgetExceeded);
  });

  it('rejects nonsense input', async () => {
    const l: BudgetLedger = ledger({ perUserUsd: 1 });
    await expect(l.reserve({ workflowId: '', userId: 'u', estimatedUsd: 0, estimatedTokens: 0 })).rejects.toThrow(RangeError);
    await expect(l.reserve({ workflowId: wf('neg'), userId: 'u', estimatedUsd: -1, estimatedTokens: 0 })).rejects.toThrow(RangeError);
    await expect(l.reserve({ workflowId: wf('nan'), userId: 'u', estimatedUsd: Number.NaN, estimatedTokens: 0 })).rejects.toThrow(RangeError);
    await expect(l.settle({ workflowId: 'x', actualUsd: 0, tokens: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe('budget ledger across PostgreSQL workers', () => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await openTestDatabase(DATABASES.find((d) => d.name === 'PostgreSQL')!.open, 'budgetpg');
  });
  afterAll(async () => {
    await t?.close();
  });

  // SQLite's workers are separate processes: see budget-processes.test.ts.
  it('20 reserves from 4 workers (each with its own pool) against a global budget that fits 5: exactly 5', async () => {
    const limits: BudgetLimits = { quotas: { period: 'day' }, budgets: { period: 'month', globalUsd: 0.5 } };
    const workers = Array.from({ length: 4 }, () => createBudgetLedger(t.another(), limits));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => workers[i % 4]!.reserve({ workflowId: `llm-request-global-${i}`, userId: `racer-${i}`, estimatedUsd: 0.1, estimatedTokens: 1, now: T0 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(BudgetExceeded);
    expect((await workers[0]!.usage(GLOBAL_SCOPE, 'month', T0)).usd).toBeCloseTo(0.5, 9);
    expect(await t.database.client.usageLedger.count()).toBe(10);
  });
});
