/**
 * Failure reporting end to end (issue 10, item 6): a real dev server, a real worker, the real
 * callProvider activity with its shared circuit breakers in SQLite, and the provider emulator's
 * fault directives. What a failed request says about its calls must be this request's own:
 *   - a call whose attempt 1 reached the provider and whose attempt 2 was refused by the circuit
 *     that attempt 1 opened counts 2 attempts, and names the provider's own error;
 *   - InsufficientResponses names each provider:model once, with its last error in this request,
 *     not the error an earlier request left on the shared circuit;
 *   - failed calls record the time they took (every attempt's timeout), and processingTimeMs
 *     counts it all, with the queue wait reported beside it.
 * Each block has its own stack (own database: circuit state does not leak between them). The
 * circuit block waits out its cooldown on the testing kit's time-skipping server (src/testing), in
 * server time, instead of sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema';
import { REQUEST_WORKFLOW_PREFIX } from '../../src/constants';
import { InsufficientResponses } from '../../src/errors';
import type { OrchestrateRequest } from '../../src/types';
import { createTestOrchestrator, type TestOrchestrator } from '../../src/testing';
import { circuitState, startStack, type TestStack } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `fail-${label}-${run}-${n++}`;

const qa = (prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId: 'user-fail', requestId: rid('r'), ...extra });

/** Every provider: `attempts` attempts of `timeout` seconds, a short backoff. */
function performance(c: Config, requestTimeoutS: number, timeoutS: number, attempts: number): Config['performance'] {
  const models = Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: timeoutS, max_attempts: attempts, initial_backoff_ms: 200 }]));
  return { ...c.performance, request_timeout: requestTimeoutS, models };
}

async function rejection(p: Promise<unknown>): Promise<InsufficientResponses> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InsufficientResponses);
  return err as InsufficientResponses;
}

/** The segments of an InsufficientResponses message about one provider:model (after the count, joined by "; "). */
function segmentsFor(message: string, key: string): string[] {
  const calls = message.replace(/^\d+ of \d+ required provider response\(s\)[^:]*: /, '');
  return calls.split('; ').filter((s) => s.includes(`${key} `));
}

describe('a call refused by the circuit its own first attempt opened (time skipping)', () => {
  const COOLDOWN_S = 5;
  let kit: TestOrchestrator;
  beforeAll(async () => {
    kit = await createTestOrchestrator({
      environment: 'time-skipping',
      emulator: true,
      configure: (c) => ({
        ...c,
        // Deadline shorter than the cooldown: a refused call is reported, not waited out.
        performance: performance(c, 4, 2, 2),
        resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: true, failure_threshold: 1, window_s: 60, cooldown_s: COOLDOWN_S, min_failure_rate: 0.01 } },
      }),
    });
  });
  afterAll(async () => {
    await kit?.close();
  });

  const circuit = (key: string) => circuitState(kit.databaseUrl, key);

  it('counts both attempts and names this request\'s own error once per provider:model, not an earlier request\'s', async () => {
    // An earlier request opens google's circuits with a different error (500: ProviderServerError).
    const earlier = await rejection(kit.processRequest(qa('Name a bird. [[emulate@gemini-2.0-flash:500]]', { providers: ['google'] })));
    expect(earlier.message).toMatch(/ProviderServerError/);
    const opened = await circuit('google:gemini-2.0-flash');
    expect(opened).toMatchObject({ state: 'open' });
    expect(opened!.lastError).toMatch(/^ProviderServerError/);

    // Wait out the cooldown of both keys (provider, provider:model): the next request's attempt 1
    // is the half-open probe and reaches the provider.
    const provider = await circuit('google');
    expect(provider).toMatchObject({ state: 'open' });
    const wait = Math.max(opened!.openUntil!.getTime(), provider!.openUntil!.getTime()) - (await kit.currentTimeMs()) + 300;
    if (wait > 0) await kit.sleep(wait);

    const before = kit.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0;
    const request = qa('What is 3 * 5? [[emulate@gemini-2.0-flash:503]]', { providers: ['google', 'openai'], requireConsensus: true, minProviders: 2 });
    const err = await rejection(kit.processRequest(request));
    // Attempt 1 made one real HTTP call (503); attempt 2 was refused by the circuit it re-opened.
    expect((kit.runtime.emulator!.stats()['gemini-2.0-flash']?.calls ?? 0) - before).toBe(1);

    const stored = await kit.runtime.memory.getInteraction(`${REQUEST_WORKFLOW_PREFIX}${request.requestId}`);
    expect(stored).not.toBeNull();
    expect(stored!.status).toBe('failed');
    expect(stored!.errorType).toBe('InsufficientResponses');
    const google = stored!.providerCalls.filter((c) => c.provider === 'google');
    expect(google).toHaveLength(1);
    expect(google[0]).toMatchObject({ model: 'gemini-2.0-flash', status: 'failed', attempts: 2 });
    // Ended by the circuit; the message names the provider's own error of this call, not the earlier request's.
    expect(google[0]!.errorType).toBe('CircuitOpen');
    expect(google[0]!.errorMessage).toMatch(/ProviderOverloaded/);
    expect(google[0]!.errorMessage).not.toMatch(/ProviderServerError/);

    // The message: each provider:model once; google with its own last error (the 503) and the
    // circuit that refused the retry; nothing of the earlier request's 500; CircuitOpen not repeated.
    expect(err.message).toMatch(/^1 of 2 required provider response\(s\): /);
    expect(segmentsFor(err.message, 'google:gemini-2.0-flash')).toHaveLength(1);
    expect(segmentsFor(err.message, 'openai:gpt-4o-mini')).toHaveLength(1);
    expect(err.message.match(/google:/g)).toHaveLength(1);
    expect(err.message.match(/openai:/g)).toHaveLength(1);
    const [segment] = segmentsFor(err.message, 'google:gemini-2.0-flash');
    expect(segment).toMatch(/^google:gemini-2\.0-flash failed \(1 call, 2 attempts\): last error ProviderOverloaded: emulator: [^;]*\(HTTP 503\), circuit open until \d{4}-\d\d-\d\dT[^;]*$/);
    expect(err.message).not.toMatch(/ProviderServerError|HTTP 500/);
    expect(err.message.match(/CircuitOpen|circuit open/g) ?? []).toHaveLength(1);
    expect(segmentsFor(err.message, 'openai:gpt-4o-mini')[0]).toMatch(/^openai:gpt-4o-mini succeeded \(1 call, 1 attempt\)$/);
  }, 60_000);
});

describe('calls that time out', () => {
  const TIMEOUT_S = 1.5;
  const ATTEMPTS = 2;
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({
      label: 'fail-timeout',
      configure: (c) => ({
        ...c,
        performance: performance(c, 30, TIMEOUT_S, ATTEMPTS),
        // No circuits here: each attempt must reach the (hanging) provider and time out.
        resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false } },
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const attemptTimeoutsMs = TIMEOUT_S * 1000 * ATTEMPTS;

  it('a failed call records the time its attempts took (at least the sum of their timeouts), in the metadata and the ProviderCall row', async () => {
    const result = await stack.client.processRequest(qa('Name a fruit. [[emulate@gemini-2.0-flash:hang]]', { providers: ['google', 'openai'], minProviders: 1 }));
    expect(result.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['google', 'failed', 'ProviderTimeout'],
      ['openai', 'succeeded', null],
    ]);
    const failed = result.metadata.providers[0]!;
    expect(failed.latencyMs).toBeGreaterThanOrEqual(attemptTimeoutsMs);

    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    const call = stored!.providerCalls[0]!;
    expect(call).toMatchObject({ provider: 'google', status: 'failed', errorType: 'ProviderTimeout', attempts: ATTEMPTS });
    expect(call.latencyMs).not.toBeNull();
    expect(call.latencyMs!).toBeGreaterThanOrEqual(attemptTimeoutsMs);
    expect(call.latencyMs).toBe(failed.latencyMs);
  }, 60_000);

  it('processingTimeMs counts the timed-out attempts and the answer after them; queuedMs is reported beside it', async () => {
    const started = Date.now();
    const result = await stack.client.processRequest(qa('Name a vegetable. [[emulate@gemini-2.0-flash:hang]]', { providers: ['google', 'openai'], minProviders: 1 }));
    const waited = Date.now() - started;
    const [google, openai] = result.metadata.providers;
    expect(google).toMatchObject({ provider: 'google', status: 'failed' });
    expect(openai).toMatchObject({ provider: 'openai', status: 'succeeded' });
    expect(result.metadata.processingTimeMs).toBeGreaterThanOrEqual(attemptTimeoutsMs);
    expect(result.metadata.processingTimeMs).toBeGreaterThanOrEqual(google!.latencyMs + openai!.latencyMs);
    // From the workflow's start: never more than the client waited.
    expect(result.metadata.processingTimeMs).toBeLessThanOrEqual(waited);
    expect(result.metadata.queuedMs).toBeDefined();
    expect(result.metadata.queuedMs!).toBeGreaterThanOrEqual(0);
    expect(result.metadata.queuedMs!).toBeLessThanOrEqual(result.metadata.processingTimeMs);

    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.processingTimeMs).toBeGreaterThanOrEqual(attemptTimeoutsMs);
    expect(stored!.queuedMs).toBe(result.metadata.queuedMs);
  }, 60_000);
});
