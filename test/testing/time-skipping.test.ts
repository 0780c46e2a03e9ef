/**
 * The testing kit on the time-skipping test server: the real worker (startWorker), real workflow
 * code, mock connectors. Waits that take 30 s of workflow time (a provider's Retry-After, a circuit
 * breaker's cooldown from config.yaml's defaults) pass without waiting for them; the assertions are
 * on what the request did and on workflow time (processingTimeMs, waitedMs), which under time
 * skipping is the server's skipped clock. Wall time is measured by `npm run bench:testkit`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientResponses } from '../../src/errors';
import type { Config } from '../../src/config/schema';
import { createTestOrchestrator, UnsupportedInTimeSkipping, type TestOrchestrator } from '../../src/testing';
import { circuitState } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
const qa = (prompt: string, providers: string[]) => ({ prompt, taskType: 'question_answering', userId: 'kit-user', requestId: `kit-${run}-${n++}`, providers });

/**
 * One attempt per call (so a failure is one call), circuits opening after two health failures, the
 * shipped 30 s cooldown. A 35 s deadline: a request that waits out one cooldown and whose probe fails
 * again ends 25 s before the re-opened circuit cools down, far more than the server may move between requests.
 */
function circuits(c: Config): Config {
  return {
    ...c,
    performance: { ...c.performance, request_timeout: 35, models: { ...c.performance.models, openai: { ...c.performance.models['openai']!, max_attempts: 1 } } },
    resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: true, failure_threshold: 2 } },
  };
}

describe('createTestOrchestrator (time-skipping)', () => {
  let kit: TestOrchestrator;
  beforeAll(async () => {
    kit = await createTestOrchestrator({ environment: 'time-skipping', configure: circuits });
  });
  afterAll(async () => {
    await kit?.close();
  });

  it('uses the shipped 30 s cooldown', () => {
    expect(kit.config.resilience.circuit_breaker.cooldown_s).toBe(30);
  });

  it('a 30 s Retry-After: the retry waits the provider-given 30 s of workflow time, then answers', async () => {
    const anthropic = kit.mock('anthropic').reset();
    anthropic.fail('ProviderRateLimited', { status: 429, retryAfterMs: 30_000 }).reply('The answer is 42.');
    const result = await kit.processRequest(qa('What is 6 * 7?', ['anthropic']));
    expect(result.response).toBe('The answer is 42.');
    expect(result.metadata.providers).toEqual([expect.objectContaining({ provider: 'anthropic', status: 'succeeded' })]);
    expect(anthropic.calls.map((c) => c.outcome)).toEqual(['ProviderRateLimited', 'answered']);
    // Workflow time from the start: the 30 s the provider asked for passed (skipped) before the answer.
    expect(result.metadata.processingTimeMs).toBeGreaterThanOrEqual(30_000);
    const stored = await kit.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls[0]).toMatchObject({ provider: 'anthropic', status: 'succeeded', attempts: 2 });
  });

  it('a circuit opened by 500s: the next request skips the provider; one with nothing else waits out the 30 s cooldown and the probe answers', async () => {
    const openai = kit.mock('openai').reset();
    openai.when(/bird/, { error: 'ProviderServerError', status: 500 }).setDefault('Mount Everest.');
    // Two failures open the circuit; the second request waits out each cooldown for a probe, which fails again, until its deadline.
    for (let i = 0; i < 2; i++) {
      const err = await kit.processRequest(qa(`Name a bird ${i}.`, ['openai'])).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InsufficientResponses);
    }
    const opened = await circuitState(kit.databaseUrl, 'openai');
    expect(opened).toMatchObject({ state: 'open' });
    const callsWhenOpen = openai.calls.length;

    kit.mock('google').reset().reply('Cumulus.');
    const skipped = await kit.processRequest({ ...qa('Name a cloud type.', ['openai', 'google']), minProviders: 1 });
    expect(skipped.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['openai', 'failed', 'CircuitOpen'],
      ['google', 'succeeded', null],
    ]);
    expect(openai.calls).toHaveLength(callsWhenOpen);

    // Only openai, cooling down: a durable timer waits for it, then the probe call answers and closes the circuit.
    const waited = await kit.processRequest(qa('Name a mountain.', ['openai']));
    expect(waited.response).toBe('Mount Everest.');
    expect(waited.metadata.waitedMs).toBeGreaterThan(0);
    expect(waited.metadata.waitedMs).toBeLessThanOrEqual(30_000);
    expect(waited.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['openai', 'failed', 'CircuitOpen'],
      ['openai', 'succeeded', null],
    ]);
    expect(openai.calls).toHaveLength(callsWhenOpen + 1);
    const closed = await circuitState(kit.databaseUrl, 'openai');
    expect(closed).toMatchObject({ state: 'closed' });
    // The probe went out (and closed the circuit) only once the 30 s cooldown had ended, in the server's time.
    expect(closed!.windowStart.getTime()).toBeGreaterThanOrEqual(opened!.openUntil!.getTime());
  });

  it('what the test server cannot do fails at once with UnsupportedInTimeSkipping', async () => {
    await expect(kit.client.list({ query: 'TaskType = "question_answering"' })).rejects.toThrow(UnsupportedInTimeSkipping);
    await expect(kit.client.start(qa('Hi.', ['openai']), { eager: true })).rejects.toThrow(/eager workflow start/);
    await expect(kit.client.eraseUser('kit-user')).rejects.toThrow(/eraseUser\(\): erasure finds a user's workflows by the UserId search attribute/);
  });
});
