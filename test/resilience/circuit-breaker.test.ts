import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circuitKeysFor, countsAgainstCircuit, createCircuitBreaker, type CircuitBreaker, type CircuitBreakerOptions } from '../../src/resilience/circuit-breaker';
import { PROVIDER_ERROR_TYPES } from '../../src/providers/errors';
import { DATABASES, openTestDatabase, type TestDatabase } from './databases';

const T0 = new Date('2026-11-25T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const OPTIONS: CircuitBreakerOptions = { failureThreshold: 3, windowMs: 10_000, cooldownMs: 30_000 };

describe('which failures count against a circuit', () => {
  it('counts health failures only', () => {
    const counted = PROVIDER_ERROR_TYPES.filter((t) => countsAgainstCircuit(t));
    expect(counted.sort()).toEqual(
      ['ProviderConnectionError', 'ProviderMalformedResponse', 'ProviderOverloaded', 'ProviderRateLimited', 'ProviderServerError', 'ProviderTimeout'].sort(),
    );
    for (const t of ['ProviderBadRequest', 'ProviderAuthError', 'ProviderContextLengthExceeded', 'ProviderContentFiltered', 'ProviderAborted', 'ProviderConflict']) {
      expect(countsAgainstCircuit(t)).toBe(false);
    }
    expect(countsAgainstCircuit(null)).toBe(false);
    expect(circuitKeysFor('openai', 'gpt-4o')).toEqual(['openai', 'openai:gpt-4o']);
  });

  it('rejects nonsense options', () => {
    const database = { client: undefined as never, url: 'file:/tmp/unused.db' };
    expect(() => createCircuitBreaker(database, { ...OPTIONS, failureThreshold: 0 })).toThrow(RangeError);
    expect(() => createCircuitBreaker(database, { ...OPTIONS, cooldownMs: 0 })).toThrow(RangeError);
  });
});

describe.each(DATABASES)('circuit breaker on $name', ({ open }) => {
  let t: TestDatabase;
  let breaker: CircuitBreaker;
  let n = 0;
  /** A fresh key per test: the tests share one database. */
  const newKey = () => `prov${++n}:model`;

  beforeAll(async () => {
    t = await openTestDatabase(open, 'circuit');
    breaker = createCircuitBreaker(t.database, OPTIONS);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a key never seen is available', async () => {
    expect(await breaker.check(['never-seen', 'never-seen:x'], T0)).toEqual({ available: ['never-seen', 'never-seen:x'], probing: [], coolingDown: [] });
  });

  it('opens after failure_threshold health failures within the window, and reports until when', async () => {
    const key = newKey();
    expect(await breaker.recordFailure(key, 'ProviderOverloaded', '529 overloaded', at(0))).toMatchObject({ counted: true, opened: false, state: 'closed', failures: 1 });
    expect(await breaker.recordFailure(key, 'ProviderServerError', '500', at(1000))).toMatchObject({ opened: false, failures: 2 });
    expect((await breaker.check([key], at(1500))).available).toEqual([key]);
    expect(await breaker.recordFailure(key, 'ProviderRateLimited', '429 slow down', at(2000))).toMatchObject({ counted: true, opened: true, state: 'open', failures: 3 });

    const check = await breaker.check([key, 'other-healthy'], at(2500));
    expect(check.available).toEqual(['other-healthy']);
    expect(check.coolingDown).toHaveLength(1);
    expect(check.coolingDown[0]!.key).toBe(key);
    expect(check.coolingDown[0]!.until.toISOString()).toBe(at(2000 + 30_000).toISOString());
    expect(check.coolingDown[0]!.reason).toContain('ProviderRateLimited: 429 slow down');
    // Still cooling just before the end.
    expect((await breaker.check([key], at(31_999))).available).toEqual([]);
  });

  it('failures that say nothing about health never count', async () => {
    const key = newKey();
    for (const type of ['ProviderBadRequest', 'ProviderAuthError', 'ProviderContextLengthExceeded', 'ProviderBadRequest', 'ProviderAuthError']) {
      expect(await breaker.recordFailure(key, type, 'caller problem', at(0))).toMatchObject({ counted: false, opened: false });
    }
    expect((await breaker.check([key], at(1))).available).toEqual([key]);
    expect(await breaker.snapshot(key)).toBeNull();
  });

  it('failures spread over more than the window do not open it: a new window starts', async () => {
    const key = newKey();
    await breaker.recordFailure(key, 'ProviderTimeout', 't', at(0));
    await breaker.recordFailure(key, 'ProviderTimeout', 't', at(5_000));
    // 10 s window from the first failure is over: this one starts a new window with 1 failure.
    expect(await breaker.recordFailure(key, 'ProviderTimeout', 't', at(10_500))).toMatchObject({ opened: false, failures: 1, state: 'closed' });
    expect(await breaker.recordFailure(key, 'ProviderTimeout', 't', at(12_000))).toMatchObject({ opened: false, failures: 2 });
    expect(await breaker.recordFailure(key, 'ProviderTimeout', 't', at(13_000))).toMatchObject({ opened: true, failures: 3 });
  });

  it('after the cooldown one probe is let through; its success closes the circuit', async () => {
    const key = newKey();
    for (let i = 0; i < 3; i++) await breaker.recordFailure(key, 'ProviderServerError', '500', at(i));
    const afterCooldown = at(2 + 30_000);
    const first = await breaker.check([key], afterCooldown);
    expect(first).toMatchObject({ available: [key], probing: [key], coolingDown: [] });
    // A second caller while the probe is out: cooling until the probe's lease ends.
    const second = await breaker.check([key], at(2 + 30_001));
    expect(second.available).toEqual([]);
    expect(second.coolingDown[0]!.reason).toMatch(/probing/);
    expect(second.coolingDown[0]!.until.toISOString()).toBe(at(2 + 30_000 + 30_000).toISOString());

    expect(await breaker.recordSuccess(key, at(2 + 30_500))).toEqual({ closed: true });
    expect(await breaker.check([key], at(2 + 30_600))).toEqual({ available: [key], probing: [], coolingDown: [] });
    expect(await breaker.snapshot(key)).toMatchObject({ state: 'closed', failures: 0, openUntil: null });
    // A closed circuit counts from zero again.
    expect(await breaker.recordFailure(key, 'ProviderServerError', '500', at(40_000))).toMatchObject({ opened: false, failures: 1 });
  });

  it('a failed probe re-opens the circuit for another cooldown', async () => {
    const key = newKey();
    for (let i = 0; i < 3; i++) await breaker.recordFailure(key, 'ProviderOverloaded', '529', at(i));
    expect((await breaker.check([key], at(31_000))).probing).toEqual([key]);
    expect(await breaker.recordFailure(key, 'ProviderOverloaded', '529 again', at(31_500))).toMatchObject({ counted: true, opened: true, state: 'open' });
    const check = await breaker.check([key], at(32_000));
    expect(check.coolingDown[0]!.until.toISOString()).toBe(at(31_500 + 30_000).toISOString());
    expect(check.coolingDown[0]!.reason).toContain('529 again');
  });

  it('a success outside half-open does not close an open circuit; a non-health failure of the probe leaves it half-open', async () => {
    const key = newKey();
    for (let i = 0; i < 3; i++) await breaker.recordFailure(key, 'ProviderServerError', '500', at(i));
    expect(await breaker.recordSuccess(key, at(100))).toEqual({ closed: false });
    expect((await breaker.check([key], at(200))).available).toEqual([]);
    expect((await breaker.check([key], at(31_000))).probing).toEqual([key]);
    expect(await breaker.recordFailure(key, 'ProviderBadRequest', '400', at(31_100))).toMatchObject({ counted: false, state: 'half_open' });
  });

  it('a probe that never reports gives way to a new probe when its lease ends', async () => {
    const key = newKey();
    for (let i = 0; i < 3; i++) await breaker.recordFailure(key, 'ProviderConnectionError', 'ECONNRESET', at(i));
    expect((await breaker.check([key], at(31_000))).probing).toEqual([key]);
    expect((await breaker.check([key], at(60_000))).available).toEqual([]);
    expect((await breaker.check([key], at(61_000))).probing).toEqual([key]);
  });

  it('10 workers racing to probe a half-open circuit: exactly one gets the probe', async () => {
    const key = newKey();
    for (let i = 0; i < 3; i++) await breaker.recordFailure(key, 'ProviderOverloaded', '529', at(i));
    const workers = Array.from({ length: 10 }, () => createCircuitBreaker(t.another(), OPTIONS));
    const results = await Promise.all(workers.map((w) => w.check([key], at(40_000))));
    expect(results.filter((r) => r.probing.includes(key))).toHaveLength(1);
    expect(results.filter((r) => r.available.includes(key))).toHaveLength(1);
    expect(results.filter((r) => r.coolingDown.some((c) => c.key === key))).toHaveLength(9);
  });

  it('20 workers recording failures at once: every one counted, the circuit opened exactly once', async () => {
    const key = newKey();
    const workers = Array.from({ length: 20 }, (_, i) => createCircuitBreaker(i % 2 === 0 ? t.database : t.another(), { ...OPTIONS, failureThreshold: 15 }));
    const outcomes = await Promise.all(workers.map((w, i) => w.recordFailure(key, 'ProviderServerError', `500 #${i}`, at(i))));
    expect(outcomes.every((o) => o.counted)).toBe(true);
    expect(outcomes.filter((o) => o.opened)).toHaveLength(1);
    const state = await breaker.snapshot(key);
    expect(state?.state).toBe('open');
    // The threshold's worth were counted in the window before it opened; later ones found it open.
    expect(state?.failures).toBeGreaterThanOrEqual(15);
  });

  it('disabled: every key is available and nothing is stored', async () => {
    const key = newKey();
    const off = createCircuitBreaker(t.database, { ...OPTIONS, enabled: false, failureThreshold: 1 });
    expect(await off.recordFailure(key, 'ProviderServerError', '500', at(0))).toMatchObject({ counted: false, opened: false });
    expect(await off.check([key], at(1))).toEqual({ available: [key], probing: [], coolingDown: [] });
    expect(await breaker.snapshot(key)).toBeNull();
  });

  it('threshold 1 opens on the first failure', async () => {
    const key = newKey();
    const strict = createCircuitBreaker(t.database, { ...OPTIONS, failureThreshold: 1 });
    expect(await strict.recordFailure(key, 'ProviderTimeout', 'slow', at(0))).toMatchObject({ opened: true, state: 'open', failures: 1 });
    expect((await strict.check([key], at(1))).available).toEqual([]);
  });
});
