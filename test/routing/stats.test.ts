import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/memory/migrate';
import { createMemoryStore, type InteractionRecord, type MemoryStore } from '../../src/memory/repository';
import { openStatsQueries, type StatsQueriesHandle } from '../../src/memory/stats-queries';
import { loadProviderStats, RoutingStats, statsLookup, type CallObservation } from '../../src/routing/stats';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function obs(overrides: Partial<CallObservation> = {}): CallObservation {
  return { taskType: 'qa', complexity: 'simple', provider: 'openai', model: 'gpt-4o-mini', at: T0, succeeded: true, latencyMs: 100, costUsd: 0.001, quality: null, feedback: null, ...overrides };
}

function entry(stats: RoutingStats, now: number, complexity: string = 'simple', taskType = 'qa') {
  const e = stats.summaries(now).find((s) => s.key.taskType === taskType && s.key.complexity === complexity);
  if (!e) throw new Error('no entry');
  return e;
}

describe('RoutingStats', () => {
  it('success rate, cost per request, quality with feedback taking precedence, lifetime counts', () => {
    const stats = new RoutingStats({ halfLifeMs: null });
    stats.observe(obs({ costUsd: 0.002, quality: 1 }));
    stats.observe(obs({ costUsd: 0.004, quality: 0 }));
    stats.observe(obs({ costUsd: 0.006, quality: 0, feedback: 1 }));
    stats.observe(obs({ succeeded: false, latencyMs: null, costUsd: 0 }));
    const e = entry(stats, T0);
    expect(e).toMatchObject({ selector: 'openai:gpt-4o-mini', calls: 4, successes: 3, weight: 4, successRate: 0.75, costPerRequestUsd: 0.003, qualityObservations: 3, feedbackObservations: 1, feedback: 1 });
    expect(e.quality).toBeCloseTo(2 / 3, 6); // 1, 0, and the feedback 1 instead of the agreement 0
    expect(e.agreement).toBeCloseTo(1 / 3, 6);
    expect(e.posterior.success).toEqual({ alpha: 4, beta: 2 });
    expect(e.posterior.quality).toEqual({ alpha: 3, beta: 2 });
  });

  it('latency percentiles from the bounded histogram, within 5%', () => {
    const stats = new RoutingStats({ halfLifeMs: null });
    for (let i = 1; i <= 1000; i++) stats.observe(obs({ latencyMs: i }));
    const { latencyMs } = entry(stats, T0);
    expect(latencyMs!.p50).toBeGreaterThan(500 * 0.95);
    expect(latencyMs!.p50).toBeLessThan(500 * 1.05);
    expect(latencyMs!.p95).toBeGreaterThan(950 * 0.95);
    expect(latencyMs!.p95).toBeLessThan(950 * 1.05);
    expect(latencyMs!.p99).toBeGreaterThan(990 * 0.95);
    expect(latencyMs!.p99).toBeLessThan(990 * 1.05);
  });

  it('recent observations weigh more: after one half-life the old ones count half', () => {
    const stats = new RoutingStats({ halfLifeMs: HOUR });
    for (let i = 0; i < 10; i++) stats.observe(obs({ succeeded: false, at: T0 }));
    for (let i = 0; i < 10; i++) stats.observe(obs({ succeeded: true, at: T0 + HOUR }));
    const e = entry(stats, T0 + HOUR);
    expect(e.weight).toBeCloseTo(15, 6);
    expect(e.successRate).toBeCloseTo(10 / 15, 6);
    expect(e.calls).toBe(20);
    // Later, everything has decayed: the posterior widens back towards the prior.
    expect(entry(stats, T0 + 11 * HOUR).weight).toBeCloseTo(15 / 1024, 6);
  });

  it('late rows count as if they had arrived in order', () => {
    const inOrder = new RoutingStats({ halfLifeMs: HOUR });
    const shuffled = new RoutingStats({ halfLifeMs: HOUR });
    const rows = [0, 1, 2, 3].map((i) => obs({ at: T0 + i * HOUR, succeeded: i % 2 === 0, latencyMs: 100 * (i + 1) }));
    rows.forEach((r) => inOrder.observe(r));
    [rows[3]!, rows[0]!, rows[2]!, rows[1]!].forEach((r) => shuffled.observe(r));
    expect(shuffled.summaries(T0 + 4 * HOUR)).toEqual(inOrder.summaries(T0 + 4 * HOUR));
  });

  it('keeps three levels, and lookups fall back to the coarser one until the exact key has enough calls', () => {
    const stats = new RoutingStats({ halfLifeMs: null });
    for (let i = 0; i < 6; i++) stats.observe(obs({ complexity: 'simple' }));
    for (let i = 0; i < 2; i++) stats.observe(obs({ complexity: 'complex', succeeded: false }));
    stats.observe(obs({ taskType: 'code', complexity: 'medium' }));
    const levels = stats.summaries(T0).map((s) => `${s.key.taskType}/${s.key.complexity}:${s.calls}`);
    expect(levels).toEqual(['*/any:9', 'code/any:1', 'code/medium:1', 'qa/any:8', 'qa/complex:2', 'qa/simple:6']);
    const lookup = statsLookup(stats.snapshot(T0), 5);
    const q = { provider: 'openai', model: 'gpt-4o-mini' };
    expect(lookup({ ...q, taskType: 'qa', complexity: 'simple' })).toMatchObject({ level: 'exact', summary: { calls: 6 } });
    expect(lookup({ ...q, taskType: 'qa', complexity: 'complex' })).toMatchObject({ level: 'task', summary: { calls: 8 } });
    expect(lookup({ ...q, taskType: 'code', complexity: 'medium' })).toMatchObject({ level: 'global', summary: { calls: 9 } });
    expect(lookup({ ...q, taskType: 'new', complexity: 'simple' })).toMatchObject({ level: 'global' });
    expect(lookup({ provider: 'google', model: 'x', taskType: 'qa', complexity: 'simple' })).toBeNull();
  });

  it('snapshots are plain JSON and deterministic', () => {
    const build = () => {
      const s = new RoutingStats({ halfLifeMs: HOUR });
      for (let i = 0; i < 50; i++) s.observe(obs({ at: T0 + i * 60_000, latencyMs: 50 + (i % 7) * 30, quality: (i % 3) / 2, succeeded: i % 5 !== 0 }));
      return s.snapshot(T0 + HOUR);
    };
    const a = build();
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    expect(build()).toEqual(a);
  });
});

describe('loadProviderStats from database rows (SQLite)', () => {
  let dir: string;
  let memory: MemoryStore;
  let queries: StatsQueriesHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'routing-stats-'));
    const url = `file:${join(dir, 'stats.db')}`;
    await applyMigrations(url);
    memory = createMemoryStore(url);
    queries = openStatsQueries(url);
  });
  afterAll(async () => {
    await queries?.close();
    await memory?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function interaction(n: number, overrides: Partial<InteractionRecord>): InteractionRecord {
    const at = new Date(T0 + n * 60_000);
    return {
      workflowId: `llm-request-stats-${n}`,
      requestId: `stats-${n}`,
      userId: 'u',
      taskType: 'qa',
      complexity: 'simple',
      complexityScore: 0.1,
      prompt: 'p',
      systemPrompt: null,
      response: 'r',
      confidence: null,
      agreement: null,
      consensusStrategy: 'none',
      consensusApplied: false,
      status: 'completed',
      errorType: null,
      errorMessage: null,
      routingPolicyVersion: 1,
      routingRule: null,
      providersUsed: ['openai'],
      tokensIn: 10,
      tokensOut: 10,
      costUsd: 0.001,
      processingTimeMs: 100,
      startedAt: at,
      completedAt: at,
      providerCalls: [],
      ...overrides,
    };
  }

  const call = (callIndex: number, provider: string, model: string, status: 'succeeded' | 'failed' | 'cancelled', latencyMs: number | null, costUsd: number) => ({
    callIndex,
    provider,
    model,
    attempts: 1,
    status,
    errorType: status === 'failed' ? 'ProviderServerError' : null,
    errorMessage: null,
    latencyMs,
    tokensIn: 10,
    tokensOut: 10,
    costUsd,
    finishReason: status === 'succeeded' ? 'stop' : null,
    providerRequestId: null,
  });

  it('joins calls with their interaction: task type, complexity, time, consensus confidence as quality', async () => {
    await memory.persistInteraction(interaction(0, { providerCalls: [call(0, 'openai', 'gpt-4o-mini', 'succeeded', 120, 0.001)] }));
    await memory.persistInteraction(
      interaction(1, {
        complexity: 'complex',
        consensusApplied: true,
        confidence: 0.5,
        consensusStrategy: 'lexical',
        providerCalls: [call(0, 'openai', 'gpt-4o-mini', 'succeeded', 200, 0.002), call(1, 'google', 'gemini-2.0-flash', 'succeeded', 80, 0.0005), call(2, 'anthropic', 'claude-haiku-4-5', 'failed', null, 0)],
      }),
    );
    const rows = await queries.providerCallRows({ since: null, limit: 100 });
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({ taskType: 'qa', complexity: 'simple', provider: 'openai', status: 'succeeded', latencyMs: 120, quality: null, feedback: null });
    expect(rows.filter((r) => r.complexity === 'complex').map((r) => [r.provider, r.status, r.quality])).toEqual([
      ['openai', 'succeeded', 0.5],
      ['google', 'succeeded', 0.5],
      ['anthropic', 'failed', null],
    ]);
    // The newest rows first when limited, returned oldest first.
    expect((await queries.providerCallRows({ since: null, limit: 1 }))[0]?.complexity).toBe('complex');
    expect(await queries.providerCallRows({ since: new Date(T0 + 30_000), limit: 100 })).toHaveLength(3);

    const stats = await loadProviderStats(queries, { now: T0 + 2 * 60_000, halfLifeMs: null });
    const byKey = new Map(stats.summaries(T0 + 2 * 60_000).map((s) => [`${s.key.taskType}/${s.key.complexity}/${s.selector}`, s]));
    expect(byKey.get('qa/any/openai:gpt-4o-mini')).toMatchObject({ calls: 2, successRate: 1, costPerRequestUsd: 0.0015, quality: 0.5, qualityObservations: 1 });
    expect(byKey.get('qa/complex/anthropic:claude-haiku-4-5')).toMatchObject({ calls: 1, successRate: 0, latencyMs: null });
    // A window that ends before the rows: nothing.
    expect((await loadProviderStats(queries, { now: T0 + 400 * 24 * HOUR, windowMs: HOUR })).observations).toBe(0);
  });

  it('scores each provider by its own dissent, and takes explicit feedback for the answer it gave', async () => {
    const calls = [call(0, 'openai', 'gpt-4o-mini', 'succeeded', 100, 0.001), call(1, 'google', 'gemini-2.0-flash', 'succeeded', 90, 0.0005), call(2, 'anthropic', 'claude-haiku-4-5', 'cancelled', null, 0)];
    await memory.persistInteraction(interaction(10, { consensusApplied: true, confidence: 0.5, consensusStrategy: 'similarity', dissenting: ['google'], cancelledCalls: 1, providerCalls: calls }));
    await memory.recordFeedback({ workflowId: 'llm-request-stats-10', score: 0.25, source: 'test' });
    await memory.recordFeedback({ workflowId: 'llm-request-stats-10', score: 0.75, source: 'test' });

    const rows = (await queries.providerCallRows({ since: null, limit: 100 })).filter((r) => new Date(r.at).getTime() === T0 + 10 * 60_000);
    // The cancelled call is no evidence either way: left out.
    expect(rows.map((r) => [r.provider, r.quality, r.feedback])).toEqual([
      ['openai', 1, 0.5],
      ['google', 0, null],
    ]);
  });
});

