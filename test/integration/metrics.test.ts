/**
 * Proof (issue 13, metrics): a known sequence of requests on the emulator through a real worker —
 * successes, a retried call, a failure, a failover, an early stop, a cache miss then hit, a budget
 * refusal — then GET /metrics over HTTP has exactly the expected counters and histogram counts
 * (tokens and cost as the database rows say). A throwing collector gets every event and fails no
 * request. framework.enable_metrics: false: no listener, no samples, no collector call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetExceeded, InsufficientResponses } from '../../src/errors';
import type { Config } from '../../src/config/schema';
import type { MetricEvent } from '../../src/metrics';
import type { OrchestrateRequest } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `metrics-${label}-${run}-${n++}`;
const qa = (prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId: rid('user'), requestId: rid('r'), ...extra });

function configure(c: Config, enableMetrics = true): Config {
  const models = Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 10, max_attempts: 3, initial_backoff_ms: 200 }]));
  return {
    ...c,
    framework: { ...c.framework, enable_metrics: enableMetrics },
    performance: { ...c.performance, request_timeout: 30, models },
    resilience: {
      ...c.resilience,
      circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false },
      cache: { enabled: true, ttl_s: 60 },
      budgets: { period: 'day', per_user_usd: 0.05 },
    },
  };
}

/** Samples of one metric: label set -> value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x): [string, string] => [x[1]!, x[2]!]));
    out.push({ labels, value: Number(m[4]) });
  }
  return out;
}
/** The sum of a metric's samples whose labels include `match`. */
function total(text: string, name: string, match: Record<string, string> = {}): number {
  return samples(text, name)
    .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(stack: TestStack): Promise<string> {
  const res = await fetch(`${stack.runtime.metricsServer!.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

describe('GET /metrics after a known sequence of requests', () => {
  let stack: TestStack;
  const collected: MetricEvent[] = [];
  let thrown = 0;
  beforeAll(async () => {
    stack = await startStack({ label: 'metrics', configure: (c) => configure(c), metricsListen: { host: '127.0.0.1', port: 0 } });
    stack.runtime.metrics.addCollector({
      name: 'throwing-test-collector',
      collect(event) {
        collected.push(event);
        thrown += 1;
        throw new Error('a broken collector');
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('counts requests, calls, retries, failovers, early stops, cache, refusals, tokens and cost exactly', async () => {
    const workflowIds: string[] = [];
    const ok = async (request: OrchestrateRequest) => {
      const result = await stack.client.processRequest(request);
      workflowIds.push(result.metadata.workflowId);
      return result;
    };
    // 1. One provider, answered.
    await ok(qa('What is 2 + 2?', { providers: ['openai'] }));
    // 2. A 500 on the first attempt, answered on the retry.
    await ok(qa('What is 3 + 3? [[emulate@claude-haiku-4-5:500x1]]', { providers: ['anthropic'] }));
    // 3. A 400 (final): the request fails with InsufficientResponses.
    const failedId = rid('failed');
    await expect(stack.client.processRequest(qa('What is 4 + 4? [[emulate@gemini-2.0-flash:400]]', { providers: ['google'], requestId: failedId }))).rejects.toBeInstanceOf(InsufficientResponses);
    workflowIds.push(`llm-request-${failedId}`);
    // 4. The first provider fails for good, the fallback answers: a failover.
    const failover = await ok(qa('What is 5 + 5? [[emulate@gemini-2.0-flash:400]]', { providers: ['google', 'openai'], minProviders: 1 }));
    expect(failover.metadata.providers.map((p) => [p.provider, p.status])).toEqual([
      ['google', 'failed'],
      ['openai', 'succeeded'],
    ]);
    // 5. Consensus of three; the slow third is cancelled by early stop once two agree.
    const early = await ok(qa('What is 12 * 12? [[emulate@gemini-2.0-flash:latency=6000]]', { requireConsensus: true }));
    expect(early.metadata).toMatchObject({ cancelledCalls: 1, consensusApplied: true, escalated: 0, consensusStrategy: 'similarity' });
    // 6 and 7. The same question twice: a miss, then a hit (no provider called).
    const userId = rid('cache-user');
    await ok(qa('What is the capital of Italy?', { providers: ['openai'], temperature: 0, userId }));
    const hit = await ok(qa('What is the capital of Italy?', { providers: ['openai'], temperature: 0, userId }));
    expect(hit.metadata.cacheHit).toBe(true);
    // 8. Over the per-user budget: refused at admission, nothing called.
    const refusedId = rid('refused');
    await expect(stack.client.processRequest(qa('Explain relativity.', { providers: ['anthropic'], maxTokens: 100_000, requestId: refusedId }))).rejects.toBeInstanceOf(BudgetExceeded);
    workflowIds.push(`llm-request-${refusedId}`);

    // The cancelled call reports when its activity learns of the cancellation (next heartbeat): wait for it.
    let text = await scrape(stack);
    for (let i = 0; i < 60 && total(text, 'orchestrator_provider_calls_total', { status: 'cancelled' }) < 1; i++) {
      await new Promise((r) => setTimeout(r, 250));
      text = await scrape(stack);
    }

    const qaLabels = { task_type: 'question_answering' };
    expect(total(text, 'orchestrator_requests_total')).toBe(8);
    expect(total(text, 'orchestrator_requests_total', { ...qaLabels, status: 'completed' })).toBe(6);
    expect(total(text, 'orchestrator_requests_total', { status: 'failed', error_type: 'InsufficientResponses' })).toBe(1);
    expect(total(text, 'orchestrator_requests_total', { status: 'failed', error_type: 'BudgetExceeded' })).toBe(1);
    expect(total(text, 'orchestrator_requests_total', { status: 'completed', consensus_strategy: 'similarity' })).toBe(1);
    expect(total(text, 'orchestrator_request_duration_seconds_count', { ...qaLabels, status: 'completed' })).toBe(6);
    expect(total(text, 'orchestrator_request_duration_seconds_count', { ...qaLabels, status: 'failed' })).toBe(2);

    const call = (provider: string, model: string, status: string, errorType = 'none') => total(text, 'orchestrator_provider_calls_total', { provider, model, status, error_type: errorType });
    expect(call('openai', 'gpt-4o-mini', 'succeeded')).toBe(4);
    expect(call('anthropic', 'claude-haiku-4-5', 'succeeded')).toBe(2);
    expect(call('anthropic', 'claude-haiku-4-5', 'failed', 'ProviderServerError')).toBe(1);
    expect(call('google', 'gemini-2.0-flash', 'failed', 'ProviderBadRequest')).toBe(2);
    expect(call('google', 'gemini-2.0-flash', 'cancelled', 'Cancelled')).toBe(1);
    expect(total(text, 'orchestrator_provider_calls_total')).toBe(10);
    expect(total(text, 'orchestrator_provider_call_duration_seconds_count')).toBe(10);
    expect(total(text, 'orchestrator_provider_call_duration_seconds_count', { provider: 'openai', status: 'succeeded' })).toBe(4);
    expect(total(text, 'orchestrator_provider_retries_total')).toBe(1);
    expect(total(text, 'orchestrator_provider_retries_total', { provider: 'anthropic' })).toBe(1);
    expect(total(text, 'orchestrator_failovers_total', qaLabels)).toBe(1);
    expect(total(text, 'orchestrator_early_stops_total', qaLabels)).toBe(1);
    expect(total(text, 'orchestrator_cancelled_calls_total', { provider: 'google', reason: 'early_stop' })).toBe(1);
    expect(total(text, 'orchestrator_hedged_calls_total')).toBe(0);
    expect(total(text, 'orchestrator_escalations_total')).toBe(0);
    expect(total(text, 'orchestrator_consensus_confidence_count', { strategy: 'similarity' })).toBe(1);
    expect(total(text, 'orchestrator_consensus_agreement_count', { strategy: 'similarity' })).toBe(1);
    expect(total(text, 'orchestrator_consensus_confidence_sum')).toBeCloseTo(early.metadata.confidence!, 9);
    expect(total(text, 'orchestrator_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(total(text, 'orchestrator_cache_lookups_total', { result: 'miss' })).toBe(7);
    expect(total(text, 'orchestrator_refusals_total', { reason: 'budget' })).toBe(1);
    expect(total(text, 'orchestrator_routing_policy_version')).toBe(stack.runtime.policyCache.current().version);

    // Tokens and cost as the stored provider calls say.
    const rows = (await Promise.all(workflowIds.map((id) => stack.runtime.memory.getInteraction(id)))).flatMap((i) => i?.providerCalls ?? []);
    const answered = rows.filter((c) => c.status === 'succeeded');
    for (const [provider, model] of [
      ['openai', 'gpt-4o-mini'],
      ['anthropic', 'claude-haiku-4-5'],
    ] as const) {
      const mine = answered.filter((c) => c.provider === provider && c.model === model);
      expect(total(text, 'orchestrator_tokens_total', { provider, model, direction: 'in' })).toBe(mine.reduce((s, c) => s + c.tokensIn, 0));
      expect(total(text, 'orchestrator_tokens_total', { provider, model, direction: 'out' })).toBe(mine.reduce((s, c) => s + c.tokensOut, 0));
      expect(total(text, 'orchestrator_cost_usd_total', { provider, model })).toBeCloseTo(mine.reduce((s, c) => s + c.costUsd, 0), 12);
    }
    expect(total(text, 'orchestrator_tokens_total', { provider: 'google' })).toBe(0);
    // No user id, workflow id or prompt text anywhere in the exposition.
    for (const id of workflowIds) expect(text).not.toContain(id);
    expect(text).not.toMatch(/capital of Italy|metrics-user|cache-user/);

    // The throwing collector got every event the registry recorded (and failed no request).
    await stack.runtime.metrics.flush();
    const events = (name: string) => collected.filter((e) => e.name === name).reduce((s, e) => s + e.value, 0);
    expect(events('orchestrator_requests_total')).toBe(8);
    expect(collected.filter((e) => e.name === 'orchestrator_provider_calls_total')).toHaveLength(10);
    expect(events('orchestrator_cache_lookups_total')).toBe(8);
    expect(thrown).toBe(collected.length);
    expect(total(await scrape(stack), 'orchestrator_metrics_collector_failures_total', { collector: 'throwing-test-collector', reason: 'error' })).toBe(thrown);
  });
});

describe('framework.enable_metrics: false', () => {
  let stack: TestStack;
  const collected: MetricEvent[] = [];
  beforeAll(async () => {
    stack = await startStack({ label: 'metrics-off', configure: (c) => configure(c, false), metricsListen: { host: '127.0.0.1', port: 0 } });
    stack.runtime.metrics.addCollector({ name: 'off', collect: (e) => void collected.push(e) });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves no /metrics, records nothing and calls no collector', async () => {
    const result = await stack.client.processRequest(qa('What is 6 + 6?', { providers: ['openai'] }));
    expect(result.response).toMatch(/12/);
    expect(stack.runtime.metricsServer).toBeNull();
    expect(stack.runtime.metrics.enabled).toBe(false);
    expect((await stack.runtime.metrics.scrape()).trim()).toBe('');
    await stack.runtime.metrics.flush();
    expect(collected).toEqual([]);
  });
});
