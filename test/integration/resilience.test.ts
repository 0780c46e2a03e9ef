/**
 * Provider resilience on a real dev server, a real worker, the real SDK connectors and the
 * emulator's fault injection: retries honouring Retry-After, overload storms, hangs, malformed
 * bodies, auth errors, a provider down; shared circuit breakers (skip, wait out the cooldown on a
 * durable timer, give up at the deadline); shared rate limits; quotas and budgets; the response
 * cache; hedging. Each block has its own stack (own database: circuit state does not leak).
 *
 * What waits on durable timers (a provider's Retry-After, circuit cooldowns, the request deadline)
 * runs on the testing kit's time-skipping server (src/testing): the same worker wiring and the same
 * emulator faults, with the waits asserted in workflow time (processingTimeMs, waitedMs), not slept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetExceeded, InsufficientResponses, QuotaExceeded } from '../../src/errors';
import type { Config } from '../../src/config/schema';
import type { OrchestrateRequest } from '../../src/types';
import { createTestOrchestrator, type TestOrchestrator } from '../../src/testing';
import { circuitState, startStack, type TestStack } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `res-${label}-${run}-${n++}`;

/** Short timeouts and few attempts, so failures resolve in seconds. */
function fast(c: Config, resilience: Partial<Config['resilience']> = {}, performance: Partial<Config['performance']> = {}): Config {
  const models = Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 2, max_attempts: 3, initial_backoff_ms: 200 }]));
  return {
    ...c,
    performance: { ...c.performance, request_timeout: 30, models, ...performance },
    resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false }, ...resilience },
  };
}

async function expectFailure<T extends Error>(p: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as T;
}

const qa = (prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId: 'user-res', requestId: rid('r'), ...extra });

describe('provider faults', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ label: 'faults', configure: (c) => fast(c) });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a 529 overload storm exhausts its retries, then the request fails over', async () => {
    const result = await stack.client.processRequest(qa('Name a color. [[emulate@claude-haiku-4-5:529]]', { providers: ['anthropic', 'google'], minProviders: 1 }));
    expect(result.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['anthropic', 'failed', 'ProviderOverloaded'],
      ['google', 'succeeded', null],
    ]);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls[0]!.attempts).toBe(3);
  });

  it('a hang times out (each attempt at the configured timeout) and fails over', async () => {
    const started = Date.now();
    const result = await stack.client.processRequest(qa('Name a fruit. [[emulate@gpt-4o-mini:hang]]', { providers: ['openai', 'anthropic'], minProviders: 1 }));
    const took = Date.now() - started;
    expect(result.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['openai', 'failed', 'ProviderTimeout'],
      ['anthropic', 'succeeded', null],
    ]);
    // Three attempts of 2 s plus backoff, not the 30 s request deadline.
    expect(took).toBeGreaterThanOrEqual(6_000);
    expect(took).toBeLessThan(15_000);
  }, 30_000);

  it('a malformed body is classified, retried, and failed over', async () => {
    const result = await stack.client.processRequest(qa('Name a river. [[emulate@gemini-2.0-flash:malformed]]', { providers: ['google', 'openai'], minProviders: 1 }));
    expect(result.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['google', 'failed', 'ProviderMalformedResponse'],
      ['openai', 'succeeded', null],
    ]);
  });

  it('a 401 is not retried: one attempt, then failover', async () => {
    const result = await stack.client.processRequest(qa('Name a tree. [[emulate@gpt-4o-mini:401]]', { providers: ['openai', 'google'], minProviders: 1 }));
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls.map((c) => [c.provider, c.status, c.errorType, c.attempts])).toEqual([
      ['openai', 'failed', 'ProviderAuthError', 1],
      ['google', 'succeeded', null, 1],
    ]);
  });

  it('one provider fully down: a consensus request still answers from the other two', async () => {
    const result = await stack.client.processRequest(qa('What is 3 * 5? [[emulate@gemini-2.0-flash:503]]', { requireConsensus: true }));
    expect(result.response).toMatch(/15/);
    expect(result.metadata.providersUsed.sort()).toEqual(['anthropic', 'openai']);
    // Failing (503: overloaded, retried) or, once the other two agree, cancelled by early stop.
    const google = result.metadata.providers.find((p) => p.provider === 'google')!;
    expect(google.status === 'cancelled' || google.errorType === 'ProviderOverloaded').toBe(true);
    expect(google.status).not.toBe('succeeded');
  });
});

describe('Retry-After (time skipping)', () => {
  let kit: TestOrchestrator;
  beforeAll(async () => {
    kit = await createTestOrchestrator({ environment: 'time-skipping', emulator: true, configure: (c) => fast(c) });
  });
  afterAll(async () => {
    await kit?.close();
  });

  it('429 with Retry-After: the retry waits the provider-given delay, not the configured backoff', async () => {
    const result = await kit.processRequest(qa('What is 6 * 7? [[emulate@gpt-4o-mini:429x1:retry=30]]', { providers: ['openai'] }));
    // Workflow time: the 30 s the provider asked for (the configured backoff is 200 ms).
    expect(result.metadata.processingTimeMs).toBeGreaterThanOrEqual(30_000);
    expect(result.response).toMatch(/42/);
    const stored = await kit.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls[0]).toMatchObject({ provider: 'openai', status: 'succeeded', attempts: 2 });
  });
});

describe('circuit breakers shared through the database (time skipping)', () => {
  let kit: TestOrchestrator;
  beforeAll(async () => {
    kit = await createTestOrchestrator({
      environment: 'time-skipping',
      emulator: true,
      configure: (c) =>
        fast(
          c,
          // The shipped 30 s cooldown: time skipping makes it cost nothing, and it stays far above the few seconds the server may move between two requests.
          // A 35 s deadline: a request whose probe fails after one cooldown ends 25 s before the re-opened circuit cools down.
          { circuit_breaker: { enabled: true, failure_threshold: 2, window_s: 60, cooldown_s: 30, min_failure_rate: 0.5 } },
          { request_timeout: 35, models: Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 2, max_attempts: 1, initial_backoff_ms: 200 }])) },
        ),
    });
  });
  afterAll(async () => {
    await kit?.close();
  });

  const circuit = (key: string) => circuitState(kit.databaseUrl, key);

  it('opens after repeated 500s; the next request skips the provider and fails over; after the cooldown a waiting request is answered by the probe', async () => {
    for (let i = 0; i < 2; i++) {
      await expectFailure(kit.processRequest(qa(`Name a bird ${i}. [[emulate@gpt-4o-mini:500]]`, { providers: ['openai'] })), InsufficientResponses);
    }
    const opened = await circuit('openai');
    expect(opened).toMatchObject({ state: 'open' });

    const before = kit.runtime.emulator!.stats()['gpt-4o-mini']?.calls ?? 0;
    const skipped = await kit.processRequest(qa('Name a cloud type.', { providers: ['openai', 'anthropic'], minProviders: 1 }));
    expect(skipped.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['openai', 'failed', 'CircuitOpen'],
      ['anthropic', 'succeeded', null],
    ]);
    expect(kit.runtime.emulator!.stats()['gpt-4o-mini']?.calls ?? 0).toBe(before);

    // Only openai, which is cooling down: the request waits (durable timer) and the probe answers it.
    const waited = await kit.processRequest(qa('Name a mountain.', { providers: ['openai'] }));
    expect(waited.metadata.waitedMs).toBeGreaterThan(0);
    expect(waited.metadata.providers.map((p) => [p.provider, p.status])).toEqual([
      ['openai', 'failed'],
      ['openai', 'succeeded'],
    ]);
    const closed = await circuit('openai');
    expect(closed).toMatchObject({ state: 'closed' });
    // The probe (which closed the circuit) went out once the cooldown had ended, in workflow time.
    expect(closed!.windowStart.getTime()).toBeGreaterThanOrEqual(opened!.openUntil!.getTime());
  });

  it('a busy provider with a few errors stays closed: failures count only at a high failure rate', async () => {
    for (let i = 0; i < 8; i++) await kit.processRequest(qa(`Name a spice ${i}.`, { providers: ['anthropic'] }));
    for (let i = 0; i < 3; i++) {
      const r = await kit.processRequest(qa(`Name a herb ${i}. [[emulate@claude-haiku-4-5:500]]`, { providers: ['anthropic', 'openai'], minProviders: 1 }));
      expect(r.metadata.providers[0]).toMatchObject({ provider: 'anthropic', status: 'failed', errorType: 'ProviderServerError' });
    }
    // 3 failures of 11 calls (27 %) < 50 %: more failures than failure_threshold (2), and still closed.
    expect((await circuit('anthropic'))?.state ?? 'closed').toBe('closed');
  });

  it('every provider down: retries after each cooldown, then a clear InsufficientResponses at the deadline', async () => {
    for (let i = 0; i < 2; i++) await expectFailure(kit.processRequest(qa(`Name a lake ${i}. [[emulate:500]]`, { providers: ['google'] })), InsufficientResponses);
    const err = await expectFailure(kit.processRequest(qa('Name a lake. [[emulate:500]]', { providers: ['google'] })), InsufficientResponses);
    expect(err.message).toMatch(/waited \d+ ms for cooling-down or rate-limited providers, up to the 35000 ms deadline/);
    // The provider once, with this request's own error, and the circuit that refused the retries.
    expect(err.message.match(/google:\S+ (failed|succeeded|cancelled) \(/g)).toHaveLength(1);
    expect(err.message).toMatch(/google:\S+ failed \(\d+ calls?, \d+ attempts?\): last error ProviderServerError: .*circuit open until /);
    // Waited out a cooldown (the probe failed and re-opened the circuit), in workflow time, within the 35 s deadline.
    const waited = Number(/waited (\d+) ms/.exec(err.message)?.[1]);
    expect(waited).toBeGreaterThanOrEqual(20_000);
    expect(waited).toBeLessThanOrEqual(35_000);
  });
});

describe('rate limits, quotas, budgets, cache and hedging', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({
      label: 'limits',
      configure: (c) =>
        fast(c, {
          rate_limits: { openai: { rpm: 2 } },
          quotas: { period: 'day', per_user_requests: 3 },
          budgets: { period: 'day', per_user_usd: 0.05 },
          cache: { enabled: true, ttl_s: 60 },
          hedging: { enabled: true, after: 'ms', delay_ms: 300 },
        }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a shared rate limit: the third call in the minute fails over at once instead of waiting', async () => {
    const userId = rid('rate-user');
    const providersOf = async (i: number) => (await stack.client.processRequest(qa(`Name a metal ${i}.`, { userId, providers: ['openai', 'anthropic'], minProviders: 1 }))).metadata.providers;
    await providersOf(1);
    await providersOf(2);
    const third = await providersOf(3);
    expect(third.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['openai', 'failed', 'RateLimitExceeded'],
      ['anthropic', 'succeeded', null],
    ]);
  });

  it('a user over quota gets QuotaExceeded and nothing is called', async () => {
    const userId = rid('quota-user');
    for (let i = 0; i < 3; i++) await stack.client.processRequest(qa(`Name a planet ${i}.`, { userId, providers: ['google'] }));
    const calls = stack.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0;
    const requestId = rid('over');
    const err = await expectFailure(stack.client.processRequest(qa('Name a star.', { userId, providers: ['google'], requestId })), QuotaExceeded);
    expect(err.message).toMatch(/quota/i);
    expect(stack.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0).toBe(calls);
    const stored = await stack.runtime.memory.getInteraction(`llm-request-${requestId}`);
    expect(stored).toMatchObject({ status: 'failed', errorType: 'QuotaExceeded', providerCalls: [] });
  });

  it('a request that would exceed the user budget is refused with BudgetExceeded', async () => {
    const err = await expectFailure(stack.client.processRequest(qa('Explain the theory of relativity in detail.', { userId: rid('budget-user'), maxTokens: 100_000, providers: ['anthropic'] })), BudgetExceeded);
    expect(err.message).toMatch(/budget/i);
  });

  it('an exact repeat is answered from the cache: no provider called, marked in the metadata', async () => {
    const userId = rid('cache-user');
    const first = await stack.client.processRequest(qa('What is the capital of France?', { userId, providers: ['google'], temperature: 0 }));
    const calls = stack.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0;
    const second = await stack.client.processRequest(qa('  What is the capital   of France?', { userId, providers: ['google'], temperature: 0 }));
    expect(second.response).toBe(first.response);
    expect(second.metadata).toMatchObject({ cacheHit: true, cachedFrom: first.metadata.workflowId, costUsd: 0, providers: [] });
    expect(stack.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0).toBe(calls);
    expect(await stack.runtime.memory.getInteraction(second.metadata.workflowId)).toMatchObject({ cacheHit: true, providerCalls: [] });
  });

  it('hedging: a call slower than the hedge delay gets a second candidate; the first good answer wins, the loser is cancelled', async () => {
    const started = Date.now();
    const result = await stack.client.processRequest(
      qa('Name an ocean. [[emulate@claude-haiku-4-5:latency=5000]]', { userId: rid('hedge-user'), providers: ['anthropic', 'google'], minProviders: 1 }),
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(result.metadata.hedgedCalls).toBe(1);
    expect(result.metadata.providers.map((p) => [p.provider, p.status])).toEqual([
      ['anthropic', 'cancelled'],
      ['google', 'succeeded'],
    ]);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls.map((c) => [c.provider, c.hedged])).toEqual([
      ['anthropic', false],
      ['google', true],
    ]);
  });
});

describe('concurrent calls per provider, across workers', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({
      label: 'concurrency',
      configure: (c) => {
        const fastConfig = fast(c);
        return { ...fastConfig, performance: { ...fastConfig.performance, models: { ...fastConfig.performance.models, google: { max_concurrent: 1, timeout: 10, max_attempts: 2, initial_backoff_ms: 200 } } } };
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a provider at its limit: the second request fails over at once, or waits for the slot when it has nothing else', async () => {
    const slow = (i: number, extra: Partial<OrchestrateRequest>) => stack.client.processRequest(qa(`Name a moon ${i}. [[emulate@gemini-2.0-flash:latency=1500]]`, { userId: rid('conc'), ...extra }));
    const [a, b] = await Promise.all([slow(1, { providers: ['google', 'openai'], minProviders: 1 }), slow(2, { providers: ['google', 'openai'], minProviders: 1 })]);
    const routes = [a, b].map((r) => r.metadata.providers.map((p) => `${p.provider}:${p.status}:${p.errorType ?? ''}`));
    // Exactly one got the slot; the other was refused by the shared limit and answered by openai.
    expect(routes.filter((r) => r.length === 1 && r[0] === 'google:succeeded:')).toHaveLength(1);
    expect(routes.filter((r) => r[0] === 'google:failed:ConcurrencyLimitReached' && r[1] === 'openai:succeeded:')).toHaveLength(1);

    const [c, d] = await Promise.all([slow(3, { providers: ['google'] }), slow(4, { providers: ['google'] })]);
    const waited = [c, d].find((r) => r.metadata.waitedMs > 0);
    expect(waited, 'one request waited for the slot').toBeDefined();
    expect(waited!.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['google', 'failed', 'ConcurrencyLimitReached'],
      ['google', 'succeeded', null],
    ]);
  }, 30_000);
});

