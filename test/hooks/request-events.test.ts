/**
 * Proof (issue 14, event hooks) on a real worker and the emulator: a hook sees every event of a
 * request, in order — a consensus request with a retried call, a request whose only provider fails
 * for good, one refused by planning — with payloads that carry ids and figures, never the prompt or
 * the answer. A throwing hook and a hanging hook change neither a request's result nor its latency
 * beyond the stated limit (they are counted in orchestrator_hook_failures_total). Replaying a
 * request's history fires no hook. A new routing policy version reaches hooks as policy.changed.
 * Provider calls run as local activities (performance.provider_calls: local) report the same events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayHistories } from '../../client/replay';
import { applyRoutingUpdate, ensureRoutingPolicyWorkflow, showRouting } from '../../client/routing';
import type { Config } from '../../src/config/schema';
import { InsufficientResponses } from '../../src/errors';
import type { OrchestratorEventName, OrchestratorEvents } from '../../src/hooks';
import { ORCHESTRATOR_EVENT_NAMES } from '../../src/hooks';
import type { OrchestrateRequest } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';
import { testDataConverter, WORKFLOWS_PATH } from '../helpers/temporal';

/** hooks.timeout_ms: long, so that a request that waited for even one hanging hook would show it. */
const HOOK_LIMIT_MS = 4000;
const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `hooks-${label}-${run}-${n++}`;
const qa = (prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId: 'hooks-user', requestId: rid('r'), ...extra });

type Seen = { name: OrchestratorEventName; event: Record<string, unknown> };

function configure(c: Config): Config {
  const models = Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 10, max_attempts: 3, initial_backoff_ms: 100 }]));
  return {
    ...c,
    hooks: { timeout_ms: HOOK_LIMIT_MS },
    // Every call answers before the decision (no early stop cancelling a straggler), nothing from the cache.
    consensus: { ...c.consensus, early_stop: false },
    performance: { ...c.performance, request_timeout: 30, models },
    resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false }, cache: { ...c.resilience.cache, enabled: false } },
  };
}

async function hookFailures(stack: TestStack, labels: Record<string, string>): Promise<number> {
  const metric = (await stack.runtime.metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'orchestrator_hook_failures_total');
  return (metric?.values ?? []).filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
}

describe('event hooks on a real worker', () => {
  let stack: TestStack;
  const seen: Seen[] = [];
  const logLines: string[] = [];
  const of = (workflowId: string) => seen.filter((s) => s.event['workflowId'] === workflowId);
  const names = (workflowId: string) => of(workflowId).map((s) => s.name);

  beforeAll(async () => {
    // The worker's log is kept: hook failures must be in it, without payload text.
    stack = await startStack({ label: 'hooks', configure, policyRefreshMs: 200, logDestination: { write: (line: string) => void logLines.push(line) } });
    // One recorder on every event, as a plugin would subscribe.
    const record = (event: unknown, name: OrchestratorEventName) => void seen.push({ name, event: event as Record<string, unknown> });
    stack.runtime.hooks.subscribe(Object.fromEntries(ORCHESTRATOR_EVENT_NAMES.map((name) => [name, record])), 'recorder');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a consensus request with a retried call: started, routed, each call from start to end, consensus, completed', async () => {
    const prompt = 'What is 12 * 12? [[emulate@claude-haiku-4-5:500x1]]';
    const result = await stack.client.processRequest(qa(prompt, { requireConsensus: true }));
    await stack.runtime.hooks.flush();
    const workflowId = result.metadata.workflowId;
    const events = of(workflowId);
    const order = names(workflowId);

    expect(order[0]).toBe('request.started');
    expect(order[1]).toBe('request.routed');
    expect(order.slice(-2)).toEqual(['consensus.reached', 'request.completed']);
    // Three providers; anthropic's first attempt fails with a 500 and its retry answers.
    const calls = events.filter((s) => s.name.startsWith('provider.call.'));
    expect(calls.filter((s) => s.name === 'provider.call.started')).toHaveLength(4);
    expect(calls.filter((s) => s.name === 'provider.call.succeeded').map((s) => s.event['provider']).sort()).toEqual(['anthropic', 'google', 'openai']);
    const failed = calls.filter((s) => s.name === 'provider.call.failed');
    expect(failed.map((s) => s.event)).toEqual([expect.objectContaining({ provider: 'anthropic', model: 'claude-haiku-4-5', attempt: 1, errorType: 'ProviderServerError', retryable: true, willRetry: true })]);
    // Every attempt: its start comes before its end, and an attempt's events carry its number.
    for (const provider of ['openai', 'anthropic', 'google']) {
      const mine = calls.filter((s) => s.event['provider'] === provider).map((s) => `${s.name.replace('provider.call.', '')}#${String(s.event['attempt'])}`);
      expect(mine).toEqual(provider === 'anthropic' ? ['started#1', 'failed#1', 'started#2', 'succeeded#2'] : ['started#1', 'succeeded#1']);
    }

    const routed = events[1]!.event as unknown as OrchestratorEvents['request.routed'];
    expect(routed).toMatchObject({ workflowId, taskType: 'question_answering', userId: 'hooks-user', requireConsensus: true, consensusStrategy: result.metadata.consensusStrategy, complexity: result.metadata.complexity, policyVersion: result.metadata.routingPolicyVersion });
    expect(routed.providers.map((p) => p.provider).sort()).toEqual(['anthropic', 'google', 'openai']);
    const started = events[0]!.event as unknown as OrchestratorEvents['request.started'];
    expect(started.requestId).toBe(result.metadata.requestId);
    const succeeded = calls.find((s) => s.name === 'provider.call.succeeded' && s.event['provider'] === 'openai')!.event as unknown as OrchestratorEvents['provider.call.succeeded'];
    const usage = result.metadata.providers.find((p) => p.provider === 'openai')!;
    expect(succeeded).toMatchObject({ taskType: 'question_answering', userId: 'hooks-user', tokensIn: usage.tokensIn, tokensOut: usage.tokensOut, costUsd: usage.costUsd });
    expect(succeeded.callIndex).toBeGreaterThanOrEqual(0);

    const consensus = events.at(-2)!.event as unknown as OrchestratorEvents['consensus.reached'];
    expect(consensus).toMatchObject({ strategy: result.metadata.consensusStrategy, confidence: result.metadata.confidence, agreement: result.metadata.agreement, responses: 3, thresholdMet: result.metadata.thresholdMet });
    const completed = events.at(-1)!.event as unknown as OrchestratorEvents['request.completed'];
    expect(completed).toMatchObject({ costUsd: result.metadata.costUsd, confidence: result.metadata.confidence, cached: false, repeated: false });
    expect([...completed.providers].sort()).toEqual([...result.metadata.providersUsed].sort());
    // Timestamps never go backwards along the request.
    const at = events.map((s) => s.event['at'] as number);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    // Ids and figures only: neither the question nor the answer is in any payload.
    const text = JSON.stringify(events);
    expect(text).not.toContain('12 * 12');
    if (result.response.length >= 12) expect(text).not.toContain(result.response);
    for (const { event } of events) for (const key of ['prompt', 'response', 'content', 'messages', 'systemPrompt']) expect(event).not.toHaveProperty(key);
  });

  it('a request whose only provider fails for good: started, routed, the call, request.failed', async () => {
    const requestId = rid('failing');
    await expect(stack.client.processRequest(qa('What is 4 + 4? [[emulate@gemini-2.0-flash:400]]', { providers: ['google'], requestId }))).rejects.toBeInstanceOf(InsufficientResponses);
    await stack.runtime.hooks.flush();
    const workflowId = `llm-request-${requestId}`;
    expect(names(workflowId)).toEqual(['request.started', 'request.routed', 'provider.call.started', 'provider.call.failed', 'request.failed']);
    const [, , , call, failure] = of(workflowId);
    expect(call!.event).toMatchObject({ provider: 'google', errorType: 'ProviderBadRequest', retryable: false, willRetry: false, attempt: 1 });
    expect(failure!.event).toMatchObject({ workflowId, requestId, errorType: 'InsufficientResponses', taskType: 'question_answering' });
    expect((failure!.event as unknown as OrchestratorEvents['request.failed']).latencyMs).toBeGreaterThan(0);
  });

  it("a request planning refuses (started without the client's checks): started, request.failed", async () => {
    const workflowId = `llm-request-${rid('refused')}`;
    const handle = await stack.temporal.client.workflow.start('orchestrateRequest', { taskQueue: stack.temporal.taskQueue, workflowId, args: [{ prompt: 'hello', taskType: 'question_answering', userId: 'hooks-user', providers: ['no-such-provider'] }] });
    await expect(handle.result()).rejects.toThrow();
    await stack.runtime.hooks.flush();
    expect(names(workflowId)).toEqual(['request.started', 'request.failed']);
    expect(of(workflowId)[1]!.event).toMatchObject({ errorType: 'ModelProviderNotFound', latencyMs: null, requestId: workflowId });
  });

  it("replaying a request's history fires no hook", async () => {
    const result = await stack.client.processRequest(qa('What is 6 * 7?', { providers: ['openai'] }));
    await stack.runtime.hooks.flush();
    const workflowId = result.metadata.workflowId;
    expect(names(workflowId)).toEqual(['request.started', 'request.routed', 'provider.call.started', 'provider.call.succeeded', 'request.completed']);
    const before = seen.length;
    const report = await replayHistories({ sources: [workflowId], client: stack.temporal.client, workflowsPath: WORKFLOWS_PATH, dataConverter: testDataConverter() });
    expect(report.results.map((r) => [r.workflowId, r.ok])).toEqual([[workflowId, true]]);
    await stack.runtime.hooks.flush();
    expect(seen.length).toBe(before);
  });

  it('a throwing hook and a hanging hook change neither the result nor the latency beyond the limit; both are counted', async () => {
    const prompt = 'What is the capital of France?';
    const timed = async () => {
      const t0 = performance.now();
      const result = await stack.client.processRequest(qa(prompt, { providers: ['openai'] }));
      return { result, ms: performance.now() - t0 };
    };
    // Baseline: the same request three times with only the recorder.
    const baseline = [await timed(), await timed(), await timed()];

    let hangingCalls = 0;
    const offThrow = stack.runtime.hooks.subscribe(
      Object.fromEntries(
        ORCHESTRATOR_EVENT_NAMES.map((name) => [
          name,
          () => {
            throw new Error('a broken hook');
          },
        ]),
      ),
      'thrower',
    );
    const offHang = stack.runtime.hooks.subscribe(
      Object.fromEntries(
        ORCHESTRATOR_EVENT_NAMES.map((name) => [
          name,
          () => {
            hangingCalls += 1;
            return new Promise<void>(() => undefined);
          },
        ]),
      ),
      'hanger',
    );
    const broken = [await timed(), await timed(), await timed()];
    offThrow();
    offHang();
    await stack.runtime.hooks.flush();

    // The same answer, the same providers, as without the broken hooks.
    for (const { result } of broken) {
      expect(result.response).toBe(baseline[0]!.result.response);
      expect(result.metadata.providers.map((p) => [p.provider, p.status])).toEqual(baseline[0]!.result.metadata.providers.map((p) => [p.provider, p.status]));
    }
    // Latency: the hooks run beside the request, never before its result. The bound (the slowest
    // baseline plus 2.5 s of slack for a busy machine) is below the hook limit, so a request that
    // waited for one hanging hook would fail it; the median is the figure compared.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const baselineMs = median(baseline.map((b) => b.ms));
    const brokenMs = median(broken.map((b) => b.ms));
    expect(brokenMs).toBeLessThan(Math.max(...baseline.map((b) => b.ms)) + 2500);
    // Each of the three requests emitted started, routed, the call's start and success, completed.
    expect(hangingCalls).toBe(3 * 5);
    expect(await hookFailures(stack, { source: 'thrower', reason: 'error' })).toBe(3 * 5);
    expect(await hookFailures(stack, { source: 'hanger', reason: 'timeout' })).toBe(3 * 5);
    expect(await hookFailures(stack, { source: 'recorder' })).toBe(0);
    expect(await hookFailures(stack, { event: 'request.completed', source: 'hanger', reason: 'timeout' })).toBe(3);
    // Logged once a minute per hook, event and reason: names and the hook's error, not the payload.
    const failures = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'event hook failed; the request is unaffected');
    expect(failures.filter((l) => l['source'] === 'thrower' && l['reason'] === 'error')).toHaveLength(5);
    expect(failures.filter((l) => l['source'] === 'hanger' && l['reason'] === 'timeout')).toHaveLength(5);
    for (const line of failures) {
      expect(Object.keys(line).sort()).toEqual(['err', 'event', 'hostname', 'level', 'msg', 'name', 'pid', 'reason', 'source', 'time']);
      expect(JSON.stringify(line)).not.toMatch(/hooks-user|capital of France/);
    }
    // For the report: the figures as measured (under load).
    console.log(`hooks: median request ${Math.round(baselineMs)} ms with a healthy hook, ${Math.round(brokenMs)} ms with a throwing and a hanging hook on every event (limit ${HOOK_LIMIT_MS} ms)`);
  });

  // Last: the demotion changes the routes of later requests.
  it('a new routing policy version the worker takes is policy.changed', async () => {
    const o = { client: stack.temporal.client, taskQueue: stack.temporal.taskQueue, workflowId: stack.routingPolicyWorkflowId };
    await ensureRoutingPolicyWorkflow(o);
    const waitFor = async (version: number) => {
      const t0 = Date.now();
      while (stack.runtime.policyCache.current().version !== version) {
        if (Date.now() - t0 > 15_000) throw new Error(`the worker still plans with v${stack.runtime.policyCache.current().version}, not v${version}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const seed = (await showRouting(o)).policy.version;
    await waitFor(seed);
    const change = await applyRoutingUpdate(o, { kind: 'demote', target: 'google', source: 'test:hooks', reason: 'hooks test' });
    if (change.status !== 'accepted') throw new Error(`expected the change to be accepted, got ${JSON.stringify(change)}`);
    await waitFor(change.version);
    await stack.runtime.hooks.flush();
    const changes = seen.filter((x) => x.name === 'policy.changed').map((x) => x.event);
    expect(changes.at(-1)).toMatchObject({ version: change.version, previousVersion: seed, source: 'test:hooks', strategy: 'static' });
  });
});

describe('event hooks with provider calls as local activities', () => {
  let stack: TestStack;
  const seen: Seen[] = [];
  beforeAll(async () => {
    stack = await startStack({ label: 'hooks-local', configure: (c) => ({ ...configure(c), performance: { ...configure(c).performance, provider_calls: 'local' } }) });
    const record = (event: unknown, name: OrchestratorEventName) => void seen.push({ name, event: event as Record<string, unknown> });
    stack.runtime.hooks.subscribe(Object.fromEntries(ORCHESTRATOR_EVENT_NAMES.map((name) => [name, record])), 'recorder');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('the calls report the same events, with the request ids and attempts', async () => {
    const result = await stack.client.processRequest(qa('What is 9 + 9? [[emulate@gpt-4o-mini:500x1]]', { providers: ['openai'] }));
    await stack.runtime.hooks.flush();
    const mine = seen.filter((s) => s.event['workflowId'] === result.metadata.workflowId);
    expect(mine.map((s) => `${s.name}${s.name.startsWith('provider.') ? `#${String(s.event['attempt'])}` : ''}`)).toEqual([
      'request.started',
      'request.routed',
      'provider.call.started#1',
      'provider.call.failed#1',
      'provider.call.started#2',
      'provider.call.succeeded#2',
      'request.completed',
    ]);
    for (const s of mine.filter((x) => x.name.startsWith('provider.'))) expect(s.event).toMatchObject({ requestId: result.metadata.requestId, taskType: 'question_answering', userId: 'hooks-user', provider: 'openai' });
  });
});
