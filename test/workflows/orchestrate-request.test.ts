/**
 * Workflow logic with mocked activities, on the real test dev server: fan-out, failover,
 * consensus wiring, metadata arithmetic, and InsufficientResponses.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities, CallProviderInput, ConsensusInput } from '../../activities';
import type { InteractionRecord } from '../../src/memory/repository';
import { requestFingerprint } from '../../src/request-fingerprint';
import type { OrchestrateRequest, ProviderTarget, RoutePlan } from '../../src/types';
import { orchestrateRequest } from '../../workflows';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH, type TemporalTestContext } from '../helpers/temporal';

let t: TemporalTestContext;
beforeAll(async () => {
  t = await connectTestTemporal('wf-mocked');
});
afterAll(async () => {
  await t?.close();
});

function target(provider: string, model = `${provider}-model`): ProviderTarget {
  return { provider, model, timeoutMs: 5_000, maxAttempts: 2, initialBackoffMs: 100 };
}

function basePlan(overrides: Partial<RoutePlan> = {}): RoutePlan {
  return {
    complexity: 'medium',
    complexityScore: 0.4,
    complexitySource: 'evaluator',
    complexityFeatures: { words: 3 },
    targets: [target('a'), target('b'), target('c')],
    fallbacks: [],
    minProviders: 2,
    requireConsensus: true,
    consensusStrategy: 'lexical',
    consensus: { strategy: 'lexical', earlyStop: true, agreementThreshold: 0, escalation: [], maxProviders: 3, onLowConfidence: 'flag' },
    resilience: { cacheKey: null, admission: false, promptTokens: 10, maxTokens: 100, deadlineMs: 60_000, hedging: null },
    ruleId: 'rule-x',
    routingPolicyVersion: 7,
    routingDecision: null,
    ...overrides,
  };
}

interface Recorder {
  calls: CallProviderInput[];
  consensus: ConsensusInput[];
  persisted: InteractionRecord[];
  /** Providers whose running call saw the cancellation. */
  cancelledInActivity: string[];
}

/** How mock providers behave: fixed answers (default `answer from <p>`) and delays (default none). */
interface Behaviour {
  answers?: Record<string, string>;
  delaysMs?: Record<string, number>;
  /** Use the mock majority consensus (identical answers agree) instead of the fixed decision. */
  majority?: boolean;
  /** Models with a context window at or below this many tokens fail with ProviderContextLengthExceeded. */
  contextLimit?: number;
  /** Replaces the provider call for these providers (attempt: Temporal's attempt number). */
  script?: Record<string, (input: CallProviderInput, attempt: number) => Promise<never>>;
}

/** Identical answers agree: the largest group wins; agreement = share of agreeing pairs. */
function majorityConsensus(input: ConsensusInput) {
  const texts = input.responses.map((r) => r.content);
  const sizes = texts.map((x) => texts.filter((y) => y === x).length);
  const chosenIndex = sizes.indexOf(Math.max(...sizes));
  let pairs = 0;
  let same = 0;
  texts.forEach((x, i) => texts.forEach((y, j) => {
    if (j <= i) return;
    pairs += 1;
    if (x === y) same += 1;
  }));
  const dissenting = texts.map((x, i) => (x === texts[chosenIndex] ? -1 : i)).filter((i) => i >= 0);
  return { chosenIndex, confidence: sizes[chosenIndex]! / texts.length, agreement: pairs === 0 ? 1 : same / pairs, dissenting };
}

/** Mock activities: providers listed in `failing` fail non-retryably with a 401-like failure. */
function mockActivities(plan: RoutePlan, failing: Set<string>, rec: Recorder, behaviour: Behaviour = {}): Activities {
  return {
    async planRequest() {
      return plan;
    },
    async checkStoredRun() {
      return { kind: 'new' as const, fingerprint: requestFingerprint({}) };
    },
    async callProvider(input: CallProviderInput) {
      rec.calls.push(input);
      const scripted = behaviour.script?.[input.target.provider];
      if (scripted) return scripted(input, Context.current().info.attempt);
      if (failing.has(input.target.provider)) throw ApplicationFailure.nonRetryable('bad key', 'ProviderAuthError');
      if (behaviour.contextLimit !== undefined && (input.target.contextWindow ?? Infinity) <= behaviour.contextLimit) {
        throw ApplicationFailure.nonRetryable('prompt is too long', 'ProviderContextLengthExceeded');
      }
      const delay = behaviour.delaysMs?.[input.target.provider] ?? 0;
      if (delay > 0) {
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 50);
        try {
          await ctx.sleep(delay);
        } catch (err) {
          rec.cancelledInActivity.push(input.target.provider);
          throw err;
        } finally {
          clearInterval(beat);
        }
      }
      const n = input.target.provider.charCodeAt(0);
      return {
        attempts: 1,
        response: {
          content: behaviour.answers?.[input.target.provider] ?? `answer from ${input.target.provider}`,
          provider: input.target.provider,
          model: input.target.model,
          tokensIn: 10 * n,
          tokensOut: n,
          latencyMs: n,
          finishReason: 'stop',
          providerRequestId: `req-${input.target.provider}`,
          confidence: null,
          costUsd: 0.001,
        },
      };
    },
    async selectConsensus(input: ConsensusInput) {
      rec.consensus.push(input);
      if (behaviour.majority) return majorityConsensus(input);
      return { chosenIndex: input.responses.length - 1, confidence: 0.9, agreement: 0.8, dissenting: [0] };
    },
    async persistInteraction(record: InteractionRecord) {
      rec.persisted.push(record);
      return { stored: true as const };
    },
    async recordFeedback() {
      throw new Error('recordFeedback is not part of a request workflow');
    },
  };
}

async function run(plan: RoutePlan, failing: string[], id: string, behaviour: Behaviour = {}) {
  const rec: Recorder = { calls: [], consensus: [], persisted: [], cancelledInActivity: [] };
  const worker = await Worker.create({
    connection: t.nativeConnection,
    taskQueue: t.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    dataConverter: testDataConverter(),
    activities: mockActivities(plan, new Set(failing), rec, behaviour),
    maxHeartbeatThrottleInterval: '100ms',
  });
  const request: OrchestrateRequest = { prompt: 'What is 2+2?', taskType: 'qa', userId: 'u-mock', requestId: id };
  const outcome = await worker.runUntil(
    t.client.workflow
      .execute(orchestrateRequest, { taskQueue: t.taskQueue, workflowId: `${t.taskQueue}-${id}`, args: [request] })
      .then((result) => ({ result, error: null }), (error: unknown) => ({ result: null, error })),
  );
  return { ...outcome, rec };
}

describe('orchestrateRequest (mocked activities)', () => {
  it('fans out in parallel, applies consensus, sums usage and persists once', async () => {
    const { result, error, rec } = await run(basePlan(), [], 'all-ok');
    expect(error).toBeNull();
    expect(rec.calls.map((c) => c.target.provider).sort()).toEqual(['a', 'b', 'c']);
    // The early-stop check may also have run on the first two answers; the final decision saw all three.
    expect(rec.consensus.at(-1)!.responses).toHaveLength(3);
    expect(result!.response).toBe('answer from c');
    const m = result!.metadata;
    expect(m).toMatchObject({ consensusApplied: true, consensusStrategy: 'lexical', confidence: 0.9, dissenting: ['a'], routingPolicyVersion: 7, routingRule: 'rule-x', complexity: 'medium' });
    expect(m.providersUsed).toEqual(['a', 'b', 'c']);
    expect(m.tokensIn).toBe(10 * (97 + 98 + 99));
    expect(m.costUsd).toBeCloseTo(0.003, 9);
    expect(rec.persisted).toHaveLength(1);
    expect(rec.persisted[0]).toMatchObject({ status: 'completed', response: 'answer from c', consensusApplied: true });
    expect(rec.persisted[0]!.providerCalls.map((c) => c.callIndex)).toEqual([0, 1, 2]);
  });

  it('fails over down the chain when a provider fails for good', async () => {
    const plan = basePlan({ targets: [target('a')], fallbacks: [target('b'), target('c')], minProviders: 1, requireConsensus: false });
    const { result, rec } = await run(plan, ['a'], 'failover');
    expect(rec.calls.map((c) => c.target.provider)).toEqual(['a', 'b']);
    expect(result!.response).toBe('answer from b');
    expect(result!.metadata.consensusApplied).toBe(false);
    expect(result!.metadata.confidence).toBeNull();
    expect(result!.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['a', 'failed', 'ProviderAuthError'],
      ['b', 'succeeded', null],
    ]);
  });

  it('fails with InsufficientResponses naming what was tried, and records the failure', async () => {
    const plan = basePlan({ targets: [target('a'), target('b')], fallbacks: [target('c')], minProviders: 2 });
    const { error, rec } = await run(plan, ['a', 'c'], 'insufficient');
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InsufficientResponses');
    expect((cause as ApplicationFailure).message).toMatch(/1 of 2 required.*a:a-model failed \(1 call, 1 attempt\): last error ProviderAuthError: bad key/);
    expect(rec.calls.map((c) => c.target.provider)).toEqual(['a', 'b', 'c']);
    expect(rec.persisted).toHaveLength(1);
    expect(rec.persisted[0]).toMatchObject({ status: 'failed', errorType: 'InsufficientResponses', response: null });
  });

  it('reports real attempts and latency, and names each provider once with its own error after circuits open', async () => {
    // a: attempt 1 reaches the provider and fails after 400 ms, attempt 2 is refused by the (now open) circuit;
    // every later call is refused too until the deadline. The circuit's reason names an earlier request's error.
    const plan = basePlan({
      targets: [target('a'), target('b')],
      fallbacks: [],
      minProviders: 2,
      requireConsensus: false,
      resilience: { cacheKey: null, admission: false, promptTokens: 10, maxTokens: 100, deadlineMs: 3_000, hedging: null },
    });
    const circuitOpen = (provider: string, attempt: number, lastError?: { type: string; message: string }) =>
      ApplicationFailure.create({
        message: `${provider}: ProviderServerError in request llm-request-EARLIER; callable again soon`,
        type: 'CircuitOpen',
        nonRetryable: true,
        details: [{ provider, model: `${provider}-model`, availableAtMs: Date.now() + 300, attempt, ...(lastError && { lastError }) }],
      });
    const script = {
      async a(_input: CallProviderInput, attempt: number): Promise<never> {
        if (attempt === 1) {
          await Context.current().sleep(400);
          throw ApplicationFailure.create({ message: 'upstream 500 in this request', type: 'ProviderServerError', details: [{ attempt }] });
        }
        // What the real activity does: the earlier attempt's error comes back from its heartbeat details.
        throw circuitOpen('a', attempt, { type: 'ProviderServerError', message: 'upstream 500 in this request' });
      },
    };
    const { error, rec } = await run(plan, [], 'circuit-report', { script });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe('InsufficientResponses');
    // Each provider once, with its own last error in this request; the earlier request is not blamed.
    expect(failure.message.match(/a:a-model/g)).toHaveLength(1);
    expect(failure.message).toMatch(/a:a-model failed \(\d+ calls, \d+ attempts\): last error ProviderServerError: upstream 500 in this request, circuit open until \S+ \(refused \d+ times\)/);
    expect(failure.message).not.toContain('EARLIER');
    expect(failure.message).toMatch(/b:b-model succeeded/);
    const calls = rec.persisted[0]!.providerCalls.filter((c) => c.provider === 'a');
    expect(calls.length).toBeGreaterThan(1);
    // Attempt 1 made a real call, attempt 2 was refused: 2 attempts, and the 400 ms it took.
    expect(calls[0]).toMatchObject({ attempts: 2, status: 'failed', errorType: 'CircuitOpen' });
    expect(calls[0]!.latencyMs).toBeGreaterThanOrEqual(400);
    const usage = (failure.details?.[0] as { attempts: unknown[] }).attempts;
    expect(usage.length).toBe(rec.persisted[0]!.providerCalls.length);
  });

  it('stops early once two of three agree: cancels the straggler and says what that saved', async () => {
    const slow = { ...target('c'), timeoutMs: 20_000, observedLatencyMs: { p50: 4_000, p95: 6_000 } };
    const plan = basePlan({ targets: [target('a'), target('b'), slow] });
    const started = Date.now();
    const { result, error, rec } = await run(plan, [], 'early-stop', { answers: { a: 'X', b: 'X', c: 'Y' }, delaysMs: { c: 8_000 }, majority: true });
    expect(error).toBeNull();
    expect(Date.now() - started).toBeLessThan(7_000);
    const m = result!.metadata;
    expect(result!.response).toBe('X');
    expect(m.cancelledCalls).toBe(1);
    expect(m.latencySavedMs).toBeGreaterThan(1_000);
    expect(m.latencySavedMs).toBeLessThanOrEqual(4_000);
    expect(m.providers.map((p) => [p.provider, p.status])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
      ['c', 'cancelled'],
    ]);
    expect(rec.cancelledInActivity).toEqual(['c']);
    expect(rec.persisted[0]).toMatchObject({ cancelledCalls: 1, status: 'completed' });
    expect(rec.persisted[0]!.providerCalls.map((c) => c.status)).toEqual(['succeeded', 'succeeded', 'cancelled']);
  });

  it('waits for every answer when the first two disagree', async () => {
    const plan = basePlan({ targets: [target('a'), target('b'), target('c')] });
    const { result, rec } = await run(plan, [], 'no-early-stop', { answers: { a: 'X', b: 'Y', c: 'Y' }, delaysMs: { c: 300 }, majority: true });
    expect(result!.response).toBe('Y');
    expect(result!.metadata.cancelledCalls).toBe(0);
    expect(result!.metadata.dissenting).toEqual(['a']);
    expect(rec.cancelledInActivity).toEqual([]);
  });

  it('escalates to more providers while agreement is low, then flags the answer', async () => {
    const consensus = { strategy: 'lexical', earlyStop: true, agreementThreshold: 0.6, escalation: [target('d'), target('e')], maxProviders: 4, onLowConfidence: 'flag' as const };
    const plan = basePlan({ targets: [target('a'), target('b'), target('c')], consensus });
    const { result, rec } = await run(plan, [], 'escalate-flag', { answers: { a: 'X', b: 'Y', c: 'Z', d: 'X', e: 'X' }, majority: true });
    expect(rec.calls.map((c) => c.target.provider).sort()).toEqual(['a', 'b', 'c', 'd']);
    const m = result!.metadata;
    expect(m.escalated).toBe(1);
    expect(m.lowConfidence).toBe(true);
    expect(result!.response).toBe('X');
    expect(rec.persisted[0]).toMatchObject({ lowConfidence: true });
  });

  it('escalation that reaches agreement answers without the flag', async () => {
    const consensus = { strategy: 'lexical', earlyStop: true, agreementThreshold: 0.6, escalation: [target('d')], maxProviders: 3, onLowConfidence: 'fail' as const };
    const plan = basePlan({ targets: [target('a'), target('b')], consensus });
    const { result, error } = await run(plan, [], 'escalate-ok', { answers: { a: 'X', b: 'Y', d: 'X' }, majority: true });
    expect(error).toBeNull();
    expect(result!.metadata).toMatchObject({ escalated: 1, lowConfidence: false });
    expect(result!.response).toBe('X');
  });

  it('fails with ConsensusNotReached when configured to, and records why', async () => {
    const consensus = { strategy: 'lexical', earlyStop: true, agreementThreshold: 0.9, escalation: [target('d')], maxProviders: 3, onLowConfidence: 'fail' as const };
    const plan = basePlan({ targets: [target('a'), target('b')], consensus });
    const { error, rec } = await run(plan, [], 'escalate-fail', { answers: { a: 'X', b: 'Y', d: 'Z' }, majority: true });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('ConsensusNotReached');
    expect(cause.message).toMatch(/confidence 0\.333 \(agreement 0\.000\) is below consensus\.confidence_threshold 0\.9 after asking 3 provider\(s\) \(1 added/);
    expect(rec.persisted[0]).toMatchObject({ status: 'failed', errorType: 'ConsensusNotReached' });
  });

  it('a context-length failure fails over to a model with a larger window, passing over smaller ones', async () => {
    const small = (p: string) => ({ ...target(p), contextWindow: 8_000 });
    const plan = basePlan({ targets: [small('a')], fallbacks: [small('b'), { ...target('c'), contextWindow: 128_000 }, target('d')], minProviders: 1, requireConsensus: false });
    const { result, rec } = await run(plan, [], 'context-length', { contextLimit: 8_000 });
    expect(rec.calls.map((c) => c.target.provider)).toEqual(['a', 'c']);
    expect(result!.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['a', 'failed', 'ProviderContextLengthExceeded'],
      ['c', 'succeeded', null],
    ]);
  });
});
