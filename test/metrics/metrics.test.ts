/**
 * The metrics module without services: events from a stored interaction and a provider call, the
 * registry's exposition, bounded labels, collectors that throw, reject or are slow, the /metrics
 * server, framework.enable_metrics: false, and the removed framework.enable_caching key.
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/errors';
import type { InteractionRecord } from '../../src/memory/repository';
import { createMetrics, labelBound, METRICS, metricsFromConfig, registeredSeriesNames, startMetricsServer, type MetricEvent, type MetricDefinition } from '../../src/metrics';
import { requestEvents } from '../../src/metrics/events';
import { repoConfig } from '../helpers/config';

function record(overrides: Partial<InteractionRecord> = {}): InteractionRecord {
  return {
    workflowId: 'llm-request-w1',
    runId: 'run-1',
    requestId: 'w1',
    userId: 'user-secret-id',
    taskType: 'question_answering',
    complexity: 'simple',
    complexityScore: 0.1,
    prompt: 'a prompt that must never become a label',
    systemPrompt: null,
    response: 'answer',
    confidence: 0.85,
    agreement: 0.65,
    consensusStrategy: 'similarity',
    consensusApplied: true,
    status: 'completed',
    errorType: null,
    errorMessage: null,
    routingPolicyVersion: 3,
    routingRule: null,
    providersUsed: ['openai', 'anthropic'],
    tokensIn: 10,
    tokensOut: 20,
    costUsd: 0.001,
    processingTimeMs: 1500,
    startedAt: new Date(0),
    completedAt: new Date(1500),
    providerCalls: [
      { callIndex: 0, provider: 'google', model: 'gemini-2.0-flash', attempts: 3, status: 'failed', errorType: 'ProviderServerError', errorMessage: 'x', latencyMs: 10, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null },
      { callIndex: 1, provider: 'openai', model: 'gpt-4o-mini', attempts: 1, status: 'succeeded', errorType: null, errorMessage: null, latencyMs: 10, tokensIn: 5, tokensOut: 10, costUsd: 0.0005, finishReason: 'stop', providerRequestId: 'a' },
      { callIndex: 2, provider: 'anthropic', model: 'claude-haiku-4-5', attempts: 1, status: 'succeeded', hedged: true, errorType: null, errorMessage: null, latencyMs: 10, tokensIn: 5, tokensOut: 10, costUsd: 0.0005, finishReason: 'stop', providerRequestId: 'b' },
      { callIndex: 3, provider: 'openai', model: 'gpt-4o', attempts: 1, status: 'cancelled', errorType: 'Cancelled', errorMessage: 'cancelled: the outcome was already decided', latencyMs: null, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null },
    ],
    ...overrides,
  };
}

/** The value of one sample line of the exposition text (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string | undefined> = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x): [string, string] => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[4]);
  }
  return undefined;
}

describe('metric events', () => {
  it('a stored interaction gives its request, failover, hedge, early-stop and consensus events', () => {
    const events = requestEvents(record({ result: { response: 'answer', metadata: { escalated: 2 } as never } }));
    const by = (name: string) => events.filter((e) => e.name === name);
    expect(by(METRICS.requests.name)).toEqual([
      { name: METRICS.requests.name, value: 1, tags: { task_type: 'question_answering', status: 'completed', error_type: 'none', consensus_strategy: 'similarity', routing_strategy: 'static' } },
    ]);
    expect(by(METRICS.requestDuration.name)).toEqual([{ name: METRICS.requestDuration.name, value: 1.5, tags: { task_type: 'question_answering', status: 'completed' } }]);
    expect(by(METRICS.failovers.name)).toEqual([{ name: METRICS.failovers.name, value: 1, tags: { task_type: 'question_answering' } }]);
    expect(by(METRICS.hedgedCalls.name)).toEqual([{ name: METRICS.hedgedCalls.name, value: 1, tags: { provider: 'anthropic', model: 'claude-haiku-4-5' } }]);
    expect(by(METRICS.earlyStops.name)).toHaveLength(1);
    expect(by(METRICS.cancelledCalls.name)).toEqual([{ name: METRICS.cancelledCalls.name, value: 1, tags: { provider: 'openai', model: 'gpt-4o', reason: 'early_stop' } }]);
    expect(by(METRICS.escalations.name)).toEqual([{ name: METRICS.escalations.name, value: 2, tags: { task_type: 'question_answering' } }]);
    expect(by(METRICS.consensusConfidence.name)[0]?.value).toBe(0.85);
    expect(by(METRICS.consensusAgreement.name)[0]?.value).toBe(0.65);
    // No user id, workflow id or prompt in any label.
    const values = events.flatMap((e) => Object.values(e.tags));
    for (const secret of ['user-secret-id', 'llm-request-w1', 'w1', 'a prompt that must never become a label']) expect(values).not.toContain(secret);
  });

  it('a failed call with nothing after it is no failover; a hedge that lost is not an early stop', () => {
    const events = requestEvents(
      record({
        status: 'failed',
        errorType: 'InsufficientResponses',
        consensusApplied: false,
        confidence: null,
        agreement: null,
        providerCalls: [
          { callIndex: 0, provider: 'openai', model: 'gpt-4o-mini', attempts: 1, status: 'cancelled', errorType: 'Cancelled', errorMessage: 'cancelled: another call answered first', latencyMs: null, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null },
          { callIndex: 1, provider: 'google', model: 'gemini-2.0-flash', attempts: 1, status: 'failed', errorType: 'ProviderBadRequest', errorMessage: 'x', latencyMs: 1, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null },
        ],
      }),
    );
    const names = events.map((e) => e.name);
    expect(names).not.toContain(METRICS.failovers.name);
    expect(names).not.toContain(METRICS.earlyStops.name);
    expect(names).not.toContain(METRICS.consensusConfidence.name);
    expect(events.find((e) => e.name === METRICS.cancelledCalls.name)?.tags['reason']).toBe('hedge_lost');
    expect(events.find((e) => e.name === METRICS.requests.name)?.tags).toMatchObject({ status: 'failed', error_type: 'InsufficientResponses' });
  });

  it('labels are bounded: configured values always pass, others up to the cap, then "other"', () => {
    const bound = labelBound({ task_type: ['known'] }, 2);
    expect(['a', 'b', 'c', 'a', 'known'].map((v) => bound('task_type', v))).toEqual(['a', 'b', 'other', 'a', 'known']);
  });
});

describe('the registry', () => {
  it('exposes exact counters and histogram counts for the events recorded', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.request(record());
    metrics.request(record({ workflowId: 'w2', processingTimeMs: 40_000 }));
    metrics.providerCall({ provider: 'openai', model: 'gpt-4o-mini', attempt: 2, status: 'succeeded', errorType: null, durationMs: 30, tokensIn: 7, tokensOut: 11, costUsd: 0.25 });
    metrics.providerCall({ provider: 'openai', model: 'gpt-4o-mini', attempt: 1, status: 'failed', errorType: 'ProviderServerError', durationMs: 20 });
    metrics.cacheLookup('hit');
    metrics.cacheLookup('miss');
    metrics.cacheLookup('miss');
    metrics.refusal('budget', null);
    metrics.circuit('openai:gpt-4o-mini', 'open');
    metrics.circuit('google', 'half_open');
    let version = 4;
    metrics.trackPolicyVersion(() => version);
    const text = await metrics.scrape();
    const labels = { task_type: 'question_answering', status: 'completed', error_type: 'none', consensus_strategy: 'similarity', routing_strategy: 'static' };
    expect(sample(text, 'orchestrator_requests_total', labels)).toBe(2);
    expect(sample(text, 'orchestrator_request_duration_seconds_count', { task_type: 'question_answering', status: 'completed' })).toBe(2);
    expect(sample(text, 'orchestrator_request_duration_seconds_bucket', { task_type: 'question_answering', status: 'completed', le: '2.5' })).toBe(1);
    expect(sample(text, 'orchestrator_provider_calls_total', { provider: 'openai', model: 'gpt-4o-mini', status: 'succeeded', error_type: 'none' })).toBe(1);
    expect(sample(text, 'orchestrator_provider_calls_total', { provider: 'openai', model: 'gpt-4o-mini', status: 'failed', error_type: 'ProviderServerError' })).toBe(1);
    expect(sample(text, 'orchestrator_provider_retries_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBe(1);
    expect(sample(text, 'orchestrator_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', direction: 'in' })).toBe(7);
    expect(sample(text, 'orchestrator_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', direction: 'out' })).toBe(11);
    expect(sample(text, 'orchestrator_cost_usd_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBe(0.25);
    expect(sample(text, 'orchestrator_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(sample(text, 'orchestrator_cache_lookups_total', { result: 'miss' })).toBe(2);
    expect(sample(text, 'orchestrator_refusals_total', { reason: 'budget', provider: '' })).toBe(1);
    expect(sample(text, 'orchestrator_circuit_state', { provider: 'openai', model: 'gpt-4o-mini' })).toBe(2);
    expect(sample(text, 'orchestrator_circuit_state', { provider: 'google', model: '' })).toBe(1);
    expect(sample(text, 'orchestrator_consensus_confidence_count', { strategy: 'similarity' })).toBe(2);
    expect(sample(text, 'orchestrator_routing_policy_version')).toBe(4);
    version = 5;
    expect(sample(await metrics.scrape(), 'orchestrator_routing_policy_version')).toBe(5);
  });

  it('names follow Prometheus conventions and every series name is known to registeredSeriesNames', async () => {
    for (const def of Object.values(METRICS) as MetricDefinition[]) {
      expect(def.name).toMatch(/^orchestrator_[a-z_]+$/);
      if (def.kind === 'counter') expect(def.name).toMatch(/_total$/);
      else expect(def.name).not.toMatch(/_total$/);
    }
    const metrics = metricsFromConfig(repoConfig(), undefined, { processMetrics: false });
    metrics.request(record());
    const names = new Set((await metrics.scrape()).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]!));
    const known = registeredSeriesNames();
    for (const name of names) expect(known.has(name), name).toBe(true);
    expect(sample(await metrics.scrape(), 'orchestrator_info', { name: 'AI Orchestration Framework', version: '1.0.0' })).toBe(1);
  });

  it('enable_metrics: false records nothing and calls no collector', async () => {
    const config = repoConfig();
    const metrics = metricsFromConfig({ ...config, framework: { ...config.framework, enable_metrics: false } });
    const got: MetricEvent[] = [];
    metrics.addCollector({ name: 'c', collect: (e) => void got.push(e) });
    metrics.request(record());
    metrics.providerCall({ provider: 'openai', model: 'gpt-4o-mini', attempt: 1, status: 'succeeded', errorType: null, durationMs: 1 });
    await metrics.flush();
    expect(metrics.enabled).toBe(false);
    expect((await metrics.scrape()).trim()).toBe('');
    expect(got).toEqual([]);
  });
});

describe('collectors', () => {
  it('every collector gets every event; one that throws, rejects or is slow is counted and never blocks emit', async () => {
    const metrics = createMetrics({ processMetrics: false, slowCollectorMs: 50 });
    const good: MetricEvent[] = [];
    const throwing: MetricEvent[] = [];
    let releaseSlow!: () => void;
    const slowGate = new Promise<void>((r) => (releaseSlow = r));
    metrics.addCollector({ name: 'good', collect: (e) => void good.push(e) });
    metrics.addCollector({
      name: 'throws',
      collect: (e) => {
        throwing.push(e);
        throw new Error('collector bug');
      },
    });
    metrics.addCollector({ name: 'rejects', collect: () => Promise.reject(new Error('remote down')) });
    metrics.addCollector({ name: 'slow', collect: () => slowGate });
    const started = performance.now();
    metrics.request(record());
    metrics.providerCall({ provider: 'openai', model: 'gpt-4o-mini', attempt: 1, status: 'succeeded', errorType: null, durationMs: 3, tokensIn: 1, tokensOut: 2, costUsd: 0 });
    // emit returns at once: collectors run on a later tick.
    expect(performance.now() - started).toBeLessThan(50);
    expect(good).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    releaseSlow();
    await metrics.flush();
    const expected = requestEvents(record()).length + 5;
    expect(good).toHaveLength(expected);
    expect(throwing).toHaveLength(expected);
    expect(good.map((e) => e.name)).toContain('orchestrator_provider_calls_total');
    const text = await metrics.scrape();
    expect(sample(text, 'orchestrator_metrics_collector_failures_total', { collector: 'throws', reason: 'error' })).toBe(expected);
    expect(sample(text, 'orchestrator_metrics_collector_failures_total', { collector: 'rejects', reason: 'error' })).toBe(expected);
    expect(sample(text, 'orchestrator_metrics_collector_failures_total', { collector: 'slow', reason: 'slow' })).toBe(expected);
    expect(sample(text, 'orchestrator_metrics_collector_failures_total', { collector: 'good', reason: 'error' })).toBeUndefined();
  });

  it('a collector that never settles has its new events dropped past the pending limit', async () => {
    const metrics = createMetrics({ processMetrics: false, maxPendingPerCollector: 3 });
    metrics.addCollector({ name: 'stuck', collect: () => new Promise<void>(() => undefined) });
    for (let i = 0; i < 5; i++) metrics.cacheLookup('miss');
    await new Promise((r) => setTimeout(r, 20));
    expect(sample(await metrics.scrape(), 'orchestrator_metrics_collector_failures_total', { collector: 'stuck', reason: 'dropped' })).toBe(2);
  });

  it('refuses a collector without a name or collect function', () => {
    const metrics = createMetrics({ processMetrics: false });
    expect(() => metrics.addCollector({ name: '', collect: () => undefined })).toThrow(/collector/);
    expect(() => metrics.addCollector({ name: 'x' } as never)).toThrow(/collector/);
  });
});

describe('GET /metrics', () => {
  it('serves the registry in Prometheus text format; other paths 404', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.cacheLookup('hit');
    const server = await startMetricsServer({ registry: metrics.registry, host: '127.0.0.1', port: 0 });
    try {
      expect(server.port).toBeGreaterThan(0);
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sample(await res.text(), 'orchestrator_cache_lookups_total', { result: 'hit' })).toBe(1);
      expect((await fetch(`${server.url}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('a port in use is a ConfigError naming METRICS_PORT', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const err = await startMetricsServer({ registry: createMetrics().registry, host: '127.0.0.1', port }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(new RegExp(`METRICS_PORT=${port}.*already in use`));
    } finally {
      busy.close();
    }
  });
});

describe('config keys', () => {
  it('framework.enable_caching is refused, naming the key and the cache switch to use instead', () => {
    const raw = { ...repoConfig(), framework: { enable_caching: true } };
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(/framework\.enable_caching.*resilience\.cache\.enabled/);
    expect(parseConfig({ ...repoConfig(), framework: { enable_metrics: false } }).framework.enable_metrics).toBe(false);
  });
});
