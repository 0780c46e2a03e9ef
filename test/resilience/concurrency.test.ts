import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseConnectionError } from '../../src/errors';
import { createPrismaClient } from '../../src/memory/client';
import { createConcurrencyLimiter, DEFAULT_POLL_INTERVAL_MS, type ConcurrencyLimiter, type LeaseResult } from '../../src/resilience/concurrency';
import { createResilience } from '../../src/resilience/index';
import { ResilienceSettingsSchema } from '../../src/config/schema';
import { DATABASES, openTestDatabase, type TestDatabase } from './databases';

const T0 = new Date('2026-11-25T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const LEASE_MS = 30_000;

function leaseIdOf(result: LeaseResult): string {
  if (!result.granted) throw new Error(`expected a grant, got a refusal: ${result.reason}`);
  return result.leaseId;
}

describe.each(DATABASES)('concurrency limiter on $name', ({ name, open }) => {
  let t: TestDatabase;
  let limiter: ConcurrencyLimiter;
  let n = 0;
  /** A fresh scope per test: the tests share one database. */
  const newScope = () => `provider:p${++n}`;
  const leasesOf = (scope: string) => t.database.client.callLease.findMany({ where: { scope }, orderBy: { expiresAt: 'asc' } });

  beforeAll(async () => {
    t = await openTestDatabase(open, 'concurrency');
    limiter = createConcurrencyLimiter(t.database);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('grants up to max leases, then refuses, writing nothing for the refusal', async () => {
    const scope = newScope();
    const grants: LeaseResult[] = [];
    for (let i = 0; i < 3; i++) grants.push(await limiter.acquire({ scope, max: 3, leaseMs: LEASE_MS, holder: `llm-request-1/${i}`, now: at(i) }));
    expect(grants.every((g) => g.granted)).toBe(true);
    expect(new Set(grants.map(leaseIdOf)).size).toBe(3);
    expect(grants[0]).toMatchObject({ granted: true, expiresAt: at(LEASE_MS) });

    const refused = await limiter.acquire({ scope, max: 3, leaseMs: LEASE_MS, now: at(10) });
    expect(refused).toEqual({ granted: false, retryAfterMs: DEFAULT_POLL_INTERVAL_MS, reason: `${scope}: 3/3 calls in flight`, inFlight: 3 });
    expect(await limiter.inFlight(scope, at(10))).toBe(3);
    const rows = await leasesOf(scope);
    expect(rows.map((r) => [r.holder, r.expiresAt.getTime() - T0.getTime()])).toEqual([
      ['llm-request-1/0', LEASE_MS],
      ['llm-request-1/1', LEASE_MS + 1],
      ['llm-request-1/2', LEASE_MS + 2],
    ]);
  });

  it('a refusal waits at most until the earliest lease expires, at least 1 ms', async () => {
    const scope = newScope();
    leaseIdOf(await limiter.acquire({ scope, max: 2, leaseMs: 1_000, now: T0 }));
    leaseIdOf(await limiter.acquire({ scope, max: 2, leaseMs: 5_000, now: T0 }));
    expect(await limiter.acquire({ scope, max: 2, leaseMs: LEASE_MS, now: at(900) })).toMatchObject({ granted: false, retryAfterMs: 100 });
    expect(await limiter.acquire({ scope, max: 2, leaseMs: LEASE_MS, now: at(999) })).toMatchObject({ granted: false, retryAfterMs: 1 });
    expect(await limiter.acquire({ scope, max: 2, leaseMs: LEASE_MS, now: at(500) })).toMatchObject({ granted: false, retryAfterMs: DEFAULT_POLL_INTERVAL_MS });
    // The poll interval is the limiter's option.
    const slow = createConcurrencyLimiter(t.database, { pollIntervalMs: 2_000 });
    expect(await slow.acquire({ scope, max: 2, leaseMs: LEASE_MS, now: at(10) })).toMatchObject({ granted: false, retryAfterMs: 990 });
  });

  it('release frees a slot at once; releasing again is a no-op', async () => {
    const scope = newScope();
    const first = leaseIdOf(await limiter.acquire({ scope, max: 1, leaseMs: LEASE_MS, now: T0 }));
    expect((await limiter.acquire({ scope, max: 1, leaseMs: LEASE_MS, now: at(1) })).granted).toBe(false);
    expect(await limiter.release(first)).toBe(true);
    expect(await limiter.inFlight(scope, at(2))).toBe(0);
    const second = leaseIdOf(await limiter.acquire({ scope, max: 1, leaseMs: LEASE_MS, now: at(2) }));
    expect(await limiter.release(first)).toBe(false);
    expect(await leasesOf(scope)).toHaveLength(1);
    expect(await limiter.inFlight(scope, at(3))).toBe(1);
    expect(await limiter.release(second)).toBe(true);
    expect(await leasesOf(scope)).toEqual([]);
  });

  it('expired leases (a crashed worker) no longer count, and the next acquire of the scope deletes them', async () => {
    const scope = newScope();
    const crashed = leaseIdOf(await limiter.acquire({ scope, max: 2, leaseMs: 1_000, holder: 'crashed', now: T0 }));
    leaseIdOf(await limiter.acquire({ scope, max: 2, leaseMs: 5_000, holder: 'alive', now: T0 }));
    expect((await limiter.acquire({ scope, max: 2, leaseMs: LEASE_MS, now: at(999) })).granted).toBe(false);
    // At its expiry the lease stops counting, before anyone deletes it.
    expect(await limiter.inFlight(scope, at(1_000))).toBe(1);
    expect(await leasesOf(scope)).toHaveLength(2);
    leaseIdOf(await limiter.acquire({ scope, max: 2, leaseMs: LEASE_MS, holder: 'new', now: at(1_000) }));
    expect((await leasesOf(scope)).map((r) => r.holder)).toEqual(['alive', 'new']);
    // The crashed worker's lease is gone: it cannot be renewed nor released.
    expect(await limiter.renew(crashed, LEASE_MS, at(1_001))).toBe(false);
    expect(await limiter.release(crashed)).toBe(false);
  });

  it('cleanupExpired deletes the expired leases of every scope and keeps the rest', async () => {
    const [a, b] = [newScope(), newScope()];
    // Later than every other test's clock, so the sweep takes their expired leases too.
    const base = new Date('2030-01-01T00:00:00.000Z');
    const later = (ms: number) => new Date(base.getTime() + ms);
    await limiter.acquire({ scope: a, max: 5, leaseMs: 1_000, now: base });
    await limiter.acquire({ scope: a, max: 5, leaseMs: 9_000, now: base });
    await limiter.acquire({ scope: b, max: 5, leaseMs: 2_000, now: base });
    const before = await t.database.client.callLease.count();
    const expired = await t.database.client.callLease.count({ where: { expiresAt: { lte: later(5_000) } } });
    expect(expired).toBeGreaterThanOrEqual(2);
    expect(await limiter.cleanupExpired(later(5_000))).toBe(expired);
    expect(await t.database.client.callLease.count()).toBe(before - expired);
    expect((await leasesOf(a)).map((r) => r.expiresAt.getTime())).toEqual([later(9_000).getTime()]);
    expect(await leasesOf(b)).toEqual([]);
    expect(await limiter.cleanupExpired(later(5_000))).toBe(0);
  });

  it('renew extends a held lease past its first expiry; an expired lease is not revived', async () => {
    const scope = newScope();
    const id = leaseIdOf(await limiter.acquire({ scope, max: 1, leaseMs: 1_000, now: T0 }));
    expect(await limiter.renew(id, 1_000, at(800))).toBe(true);
    expect(await limiter.renew(id, 1_000, at(1_600))).toBe(true);
    // Held at 2.5 s though acquired for 1 s: nobody else gets the slot.
    expect(await limiter.inFlight(scope, at(2_500))).toBe(1);
    expect(await limiter.acquire({ scope, max: 1, leaseMs: LEASE_MS, now: at(2_500) })).toMatchObject({ granted: false, retryAfterMs: 100 });
    expect((await leasesOf(scope))[0]?.expiresAt).toEqual(at(2_600));
    // Not renewed in time: lost, even before anyone deleted it.
    expect(await limiter.renew(id, 1_000, at(2_600))).toBe(false);
    expect((await leasesOf(scope))[0]?.expiresAt).toEqual(at(2_600));
    expect(await limiter.renew('no-such-lease', 1_000, T0)).toBe(false);
  });

  it('scopes are independent', async () => {
    const [a, b] = [newScope(), newScope()];
    leaseIdOf(await limiter.acquire({ scope: a, max: 1, leaseMs: LEASE_MS, now: T0 }));
    expect((await limiter.acquire({ scope: a, max: 1, leaseMs: LEASE_MS, now: T0 })).granted).toBe(false);
    leaseIdOf(await limiter.acquire({ scope: b, max: 1, leaseMs: LEASE_MS, now: T0 }));
    expect([await limiter.inFlight(a, T0), await limiter.inFlight(b, T0)]).toEqual([1, 1]);
  });

  // SQLite: one client, as one worker process has (two connections inside one process would block
  // each other's event loop; the cross-process race is in concurrency-processes.test.ts).
  // PostgreSQL: limiters on separate pools, as separate workers have.
  const racers = (count: number): ConcurrencyLimiter[] =>
    Array.from({ length: count }, (_, i) => (name === 'PostgreSQL' && i % 4 !== 0 ? createConcurrencyLimiter(t.another()) : limiter));

  it('20 parallel acquires with max 5: exactly 5 granted; after releasing them, exactly 5 again', async () => {
    const scope = newScope();
    const workers = racers(20);
    const first = await Promise.all(workers.map((w, i) => w.acquire({ scope, max: 5, leaseMs: LEASE_MS, holder: `r1-${i}`, now: at(i) })));
    const granted = first.filter((r) => r.granted);
    expect(granted).toHaveLength(5);
    for (const r of first.filter((x) => !x.granted)) expect(r).toMatchObject({ granted: false, inFlight: 5 });
    expect(await leasesOf(scope)).toHaveLength(5);

    expect(await Promise.all(granted.map((g) => limiter.release(leaseIdOf(g))))).toEqual([true, true, true, true, true]);
    const second = await Promise.all(workers.map((w, i) => w.acquire({ scope, max: 5, leaseMs: LEASE_MS, holder: `r2-${i}`, now: at(100 + i) })));
    expect(second.filter((r) => r.granted)).toHaveLength(5);
    expect(await limiter.inFlight(scope, at(200))).toBe(5);
  });

  it('a race where 3 of 5 leases have expired: exactly 3 granted, the expired ones deleted', async () => {
    const scope = newScope();
    for (let i = 0; i < 3; i++) leaseIdOf(await limiter.acquire({ scope, max: 5, leaseMs: 1_000, holder: 'crashed', now: T0 }));
    for (let i = 0; i < 2; i++) leaseIdOf(await limiter.acquire({ scope, max: 5, leaseMs: LEASE_MS, holder: 'alive', now: T0 }));
    const results = await Promise.all(racers(12).map((w, i) => w.acquire({ scope, max: 5, leaseMs: LEASE_MS, holder: `new-${i}`, now: at(2_000 + i) })));
    expect(results.filter((r) => r.granted)).toHaveLength(3);
    const rows = await leasesOf(scope);
    expect(rows).toHaveLength(5);
    expect(rows.filter((r) => r.holder === 'crashed')).toEqual([]);
  });

  it('acquireWaiting takes a slot freed during the wait; gives up after waitMs; stops on abort', async () => {
    const scope = newScope();
    const held = leaseIdOf(await limiter.acquire({ scope, max: 1, leaseMs: LEASE_MS }));
    const started = Date.now();
    setTimeout(() => void limiter.release(held), 300);
    const waited = await limiter.acquireWaiting({ scope, max: 1, leaseMs: LEASE_MS, waitMs: 5_000 });
    expect(waited.granted).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3_000);

    const giveUp = Date.now();
    expect(await limiter.acquireWaiting({ scope, max: 1, leaseMs: LEASE_MS, waitMs: 600 })).toMatchObject({ granted: false, reason: `${scope}: 1/1 calls in flight` });
    expect(Date.now() - giveUp).toBeGreaterThanOrEqual(590);
    expect(await limiter.acquireWaiting({ scope, max: 1, leaseMs: LEASE_MS, waitMs: 0 })).toMatchObject({ granted: false });

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('activity cancelled')), 300);
    await expect(limiter.acquireWaiting({ scope, max: 1, leaseMs: LEASE_MS, waitMs: 10_000, signal: controller.signal })).rejects.toThrow('activity cancelled');
    // Already aborted: no acquire at all. A reason that is not an Error becomes the cause of one.
    await expect(limiter.acquireWaiting({ scope: newScope(), max: 1, leaseMs: LEASE_MS, waitMs: 1_000, signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    const odd = new AbortController();
    setTimeout(() => odd.abort('stop'), 100);
    const stopped = await limiter.acquireWaiting({ scope, max: 1, leaseMs: LEASE_MS, waitMs: 5_000, signal: odd.signal }).catch((e: unknown) => e);
    expect(stopped).toBeInstanceOf(Error);
    expect((stopped as Error).cause).toBe('stop');
    expect(await limiter.inFlight(scope)).toBe(1);
  });

  it('refuses malformed input', async () => {
    await expect(limiter.acquire({ scope: '', max: 1, leaseMs: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.acquire({ scope: newScope(), max: 0, leaseMs: 1 })).rejects.toThrow('max must be a positive integer');
    await expect(limiter.acquire({ scope: newScope(), max: 1.5, leaseMs: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.acquire({ scope: newScope(), max: 1, leaseMs: 0 })).rejects.toThrow('leaseMs must be a positive integer');
    await expect(limiter.renew('x', -5)).rejects.toThrow(RangeError);
    await expect(limiter.release('')).rejects.toThrow(RangeError);
    await expect(limiter.acquireWaiting({ scope: newScope(), max: 1, leaseMs: 1, waitMs: -1 })).rejects.toThrow('waitMs must be a non-negative integer');
    expect(() => createConcurrencyLimiter(t.database, { pollIntervalMs: 0 })).toThrow(RangeError);
  });

  it('createResilience includes the limiter, on the same database', async () => {
    const built = createResilience({ config: { resilience: ResilienceSettingsSchema.parse({}) }, database: t.database });
    try {
      const scope = newScope();
      leaseIdOf(await built.concurrency.acquire({ scope, max: 1, leaseMs: LEASE_MS }));
      expect(await limiter.inFlight(scope)).toBe(1);
    } finally {
      await built.close();
    }
  });
});

describe('concurrency limiter with the database down', () => {
  it('is a DatabaseConnectionError naming the action, with the password redacted', async () => {
    const url = 'postgresql://orchestrator:secret-pw@127.0.0.1:1/nothing';
    const client = createPrismaClient(url);
    try {
      const error = await createConcurrencyLimiter({ client, url })
        .acquire({ scope: 'provider:openai', max: 1, leaseMs: 1_000 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseConnectionError);
      expect((error as Error).message).toContain('acquire a concurrency slot');
      expect((error as Error).message).not.toContain('secret-pw');
    } finally {
      await client.$disconnect();
    }
  });
});
