import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, RATE_WINDOW_MS, windowKey, windowStartOf, type RateLimiter } from '../../src/resilience/rate-limit';
import { DATABASES, openTestDatabase, type TestDatabase } from './databases';

/** 30 s into a minute. */
const T0 = new Date('2026-11-25T10:00:30.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('rate windows', () => {
  it('are fixed minutes keyed by scope and start', () => {
    expect(windowStartOf(T0)).toBe(Date.parse('2026-11-25T10:00:00.000Z'));
    expect(windowStartOf(new Date('2026-11-25T10:00:59.999Z'))).toBe(Date.parse('2026-11-25T10:00:00.000Z'));
    expect(windowStartOf(new Date('2026-11-25T10:01:00.000Z'))).toBe(Date.parse('2026-11-25T10:01:00.000Z'));
    expect(windowKey('provider:openai', 1764064800000)).toBe('provider:openai:1764064800000');
  });
});

describe.each(DATABASES)('rate limiter on $name', ({ open }) => {
  let t: TestDatabase;
  let limiter: RateLimiter;
  let n = 0;
  const newScope = () => `provider:p${++n}`;

  beforeAll(async () => {
    t = await openTestDatabase(open, 'ratelimit');
    limiter = createRateLimiter(t.database);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('without limits everything is granted and nothing is stored', async () => {
    const scope = newScope();
    expect(await limiter.acquire({ scope, tokens: 10_000, now: T0 })).toEqual({ granted: true });
    expect(await t.database.client.rateWindow.count({ where: { scope } })).toBe(0);
  });

  it('requests per minute: grants up to rpm, then says how long until the window ends', async () => {
    const scope = newScope();
    for (let i = 0; i < 3; i++) expect(await limiter.acquire({ scope, rpm: 3, tokens: 10, now: at(i) })).toEqual({ granted: true });
    const refused = await limiter.acquire({ scope, rpm: 3, tokens: 10, now: at(5_000) });
    expect(refused).toMatchObject({ granted: false, retryAfterMs: 25_000 });
    expect(refused.granted ? '' : refused.reason).toContain('3/3 requests');
    expect(await limiter.usage(scope, T0)).toEqual({ requests: 3, tokens: 30 });
    // The next minute is a new window.
    expect(await limiter.acquire({ scope, rpm: 3, tokens: 10, now: at(30_000) })).toEqual({ granted: true });
  });

  it('tokens per minute: refuses what would exceed tpm, still grants what fits', async () => {
    const scope = newScope();
    expect(await limiter.acquire({ scope, tpm: 1000, tokens: 700, now: T0 })).toEqual({ granted: true });
    const refused = await limiter.acquire({ scope, tpm: 1000, tokens: 400, now: at(1) });
    expect(refused).toMatchObject({ granted: false, retryAfterMs: 29_999 });
    expect(refused.granted ? '' : refused.reason).toContain('700 + 400 tokens would exceed 1000');
    expect(await limiter.acquire({ scope, tpm: 1000, tokens: 300, now: at(2) })).toEqual({ granted: true });
    expect(await limiter.usage(scope, T0)).toEqual({ requests: 2, tokens: 1000 });
  });

  it('a request larger than the whole tpm gets an empty window, never starves', async () => {
    const scope = newScope();
    expect(await limiter.acquire({ scope, tpm: 100, tokens: 10, now: T0 })).toEqual({ granted: true });
    expect((await limiter.acquire({ scope, tpm: 100, tokens: 500, now: at(1) })).granted).toBe(false);
    expect(await limiter.acquire({ scope, tpm: 100, tokens: 500, now: at(30_000) })).toEqual({ granted: true });
    expect((await limiter.acquire({ scope, tpm: 100, tokens: 1, now: at(30_001) })).granted).toBe(false);
  });

  it('20 workers racing for rpm 5: exactly 5 granted', async () => {
    const scope = newScope();
    const workers = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? limiter : createRateLimiter(t.another())));
    const results = await Promise.all(workers.map((w, i) => w.acquire({ scope, rpm: 5, tpm: 1_000_000, tokens: 7, now: at(i) })));
    expect(results.filter((r) => r.granted)).toHaveLength(5);
    expect(await limiter.usage(scope, T0)).toEqual({ requests: 5, tokens: 35 });
    expect(await t.database.client.rateWindow.count({ where: { scope } })).toBe(1);
  });

  it('20 workers racing for tpm 100 at 30 tokens each: exactly 3 granted', async () => {
    const scope = newScope();
    const workers = Array.from({ length: 20 }, () => createRateLimiter(t.another()));
    const results = await Promise.all(workers.map((w) => w.acquire({ scope, tpm: 100, tokens: 30, now: T0 })));
    expect(results.filter((r) => r.granted)).toHaveLength(3);
    expect(await limiter.usage(scope, T0)).toEqual({ requests: 3, tokens: 90 });
  });

  it('windows expire: cleanup deletes the ended ones, and the first caller of a new window cleans up', async () => {
    const scope = newScope();
    await limiter.acquire({ scope, rpm: 10, tokens: 1, now: T0 });
    const row = await t.database.client.rateWindow.findUniqueOrThrow({ where: { key: windowKey(scope, windowStartOf(T0)) } });
    expect(row.expiresAt.getTime()).toBe(windowStartOf(T0) + RATE_WINDOW_MS);
    expect(await limiter.cleanupExpired(at(29_999))).toBe(0);
    expect(await t.database.client.rateWindow.count({ where: { scope } })).toBe(1);

    // Minutes later another scope opens a window: the ended windows are gone.
    const other = newScope();
    await limiter.acquire({ scope: other, rpm: 10, tokens: 1, now: at(5 * 60_000) });
    expect(await t.database.client.rateWindow.count({ where: { scope } })).toBe(0);
    expect(await t.database.client.rateWindow.count({ where: { scope: other } })).toBe(1);
    expect(await limiter.cleanupExpired(at(10 * 60_000))).toBeGreaterThanOrEqual(1);
    expect(await t.database.client.rateWindow.count({ where: { scope: other } })).toBe(0);
  });

  it('rejects nonsense input', async () => {
    await expect(limiter.acquire({ scope: newScope(), rpm: 0, tokens: 1, now: T0 })).rejects.toThrow(RangeError);
    await expect(limiter.acquire({ scope: newScope(), rpm: 5, tokens: -1, now: T0 })).rejects.toThrow(RangeError);
    await expect(limiter.acquire({ scope: '', rpm: 5, tokens: 1, now: T0 })).rejects.toThrow(RangeError);
  });
});
