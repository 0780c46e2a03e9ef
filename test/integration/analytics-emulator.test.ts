/**
 * Proof (issue 13, analytics): a known sequence of requests on the emulator through a real worker
 * (a success, a retried call, a failed request, a failover, a consensus of three with an early
 * stop, a cache miss then hit, feedback on two answers), on SQLite and PostgreSQL; then
 * getPerformanceMetrics / getProviderComparison (through the framework facade) return the figures
 * computed here from the database rows, and the known counts of the sequence; exportMetrics writes
 * the sequence's rows.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIOrchestrationFramework } from '../../client/framework';
import { loadEnv } from '../../src/config/env';
import type { Config } from '../../src/config/schema';
import { InsufficientResponses } from '../../src/errors';
import { createPrismaClient } from '../../src/memory/client';
import type { OrchestrateRequest } from '../../src/types';
import { close, expectedOverview, expectedProviders, inWindow, readAll } from '../analytics/expected';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { startStack, type TestStack } from '../helpers/stack';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `analytics-${label}-${run}-${n++}`;
const qa = (prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId: rid('user'), requestId: rid('r'), ...extra });

function configure(c: Config): Config {
  const models = Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 10, max_attempts: 3, initial_backoff_ms: 200 }]));
  return {
    ...c,
    performance: { ...c.performance, request_timeout: 30, models },
    resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false }, cache: { enabled: true, ttl_s: 60 } },
  };
}

describe.each([
  { name: 'SQLite', open: () => Promise.resolve(scratchSqlite()) },
  { name: 'PostgreSQL', open: () => scratchPostgres('analytics_e2e') },
])('analytics after a known sequence of requests on $name', ({ open }) => {
  let scratch: ScratchDatabase;
  let stack: TestStack;
  let framework: AIOrchestrationFramework;
  const scratchDir = mkdtempSync(join(tmpdir(), 'analytics-e2e-'));

  beforeAll(async () => {
    scratch = await open();
    stack = await startStack({ label: 'analytics', databaseUrl: scratch.url, configure });
    // The facade reads the same database (DATABASE_URL); its Temporal client is not used here.
    framework = await AIOrchestrationFramework.fromConfig(join(REPO_ROOT, 'config.yaml'), {
      env: loadEnv({ DATABASE_URL: scratch.url, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'warn' }),
    });
  }, 180_000);
  afterAll(async () => {
    await framework?.close();
    await stack?.close();
    await scratch?.drop();
    rmSync(scratchDir, { recursive: true, force: true });
  });

  it('getPerformanceMetrics and getProviderComparison return the figures of the stored rows', async () => {
    const since = Date.now();
    await stack.client.processRequest(qa('What is 2 + 2?', { providers: ['openai'] }));
    await stack.client.processRequest(qa('What is 3 + 3? [[emulate@claude-haiku-4-5:500x1]]', { providers: ['anthropic'] }));
    await expect(stack.client.processRequest(qa('What is 4 + 4? [[emulate@gemini-2.0-flash:400]]', { providers: ['google'] }))).rejects.toBeInstanceOf(InsufficientResponses);
    await stack.client.processRequest(qa('What is 5 + 5? [[emulate@gemini-2.0-flash:400]]', { providers: ['google', 'openai'], minProviders: 1 }));
    const early = await stack.client.processRequest(qa('What is 12 * 12? [[emulate@gemini-2.0-flash:latency=6000]]', { requireConsensus: true }));
    expect(early.metadata).toMatchObject({ cancelledCalls: 1, consensusApplied: true });
    const userId = rid('cache-user');
    const miss = await stack.client.processRequest(qa('What is the capital of Italy?', { providers: ['openai'], temperature: 0, userId }));
    const hit = await stack.client.processRequest(qa('What is the capital of Italy?', { providers: ['openai'], temperature: 0, userId }));
    expect(hit.metadata.cacheHit).toBe(true);
    // Through the memory store's write path (the facade's submitFeedback is a workflow on the default task queue).
    await stack.runtime.memory.recordFeedback({ workflowId: miss.metadata.workflowId, score: 0.9, source: 'test' });
    await stack.runtime.memory.recordFeedback({ workflowId: early.metadata.workflowId, score: 0.4, source: 'test' });

    const hours = (Date.now() - since) / 3_600_000 + 0.25;
    const now = new Date();
    const metrics = await framework.getPerformanceMetrics({ timeWindowHours: hours, now, bestProviderMinCalls: 1 });
    const comparison = await framework.getProviderComparison({ timeWindowHours: hours, now, taskType: 'question_answering' });

    // The sequence's known counts.
    expect(metrics).toMatchObject({ totalRequests: 7, completed: 6, failed: 1, cacheHits: 1, consensus: { requests: 1 }, feedback: { count: 2 } });
    close(metrics.feedback.meanScore, 0.65);
    const row = (selector: string) => comparison.providers.find((p) => p.selector === selector);
    expect(row('openai:gpt-4o-mini')).toMatchObject({ succeeded: 4, failed: 0, cancelled: 0 });
    expect(row('anthropic:claude-haiku-4-5')).toMatchObject({ succeeded: 2, failed: 0 });
    expect(row('google:gemini-2.0-flash')).toMatchObject({ succeeded: 0, failed: 2, cancelled: 1, successRate: 0, latencyMs: null });
    expect(comparison.totalCalls).toBe(9);

    // Every figure as computed from the rows.
    const db = createPrismaClient(scratch.url);
    try {
      const rows = inWindow(await readAll(db), now, hours);
      expect(rows).toHaveLength(7);
      const e = expectedOverview(rows);
      expect([metrics.completed, metrics.failed, metrics.cacheHits, metrics.consensus.lowConfidence]).toEqual([e.completed, e.failed, e.cacheHits, e.lowConfidence]);
      expect(metrics.tokens).toEqual({ in: e.tokensIn, out: e.tokensOut, total: e.tokensIn + e.tokensOut });
      close(metrics.costUsd.total, e.cost);
      close(metrics.successRate, e.successRate);
      for (const k of ['mean', 'p50', 'p95'] as const) close(metrics.latencyMs?.[k], e.latency?.[k]);
      close(metrics.consensus.meanAgreement, e.meanAgreement);
      close(metrics.consensus.meanConfidence, e.meanConfidence);
      close(metrics.consensus.thresholdMetRate, e.thresholdMetRate);
      close(metrics.feedback.meanScore, e.feedbackMean);
      const x = expectedProviders(rows);
      expect(comparison.providers.map((p) => p.selector).sort()).toEqual([...x.bySelector.keys()].sort());
      for (const p of comparison.providers) {
        const want = x.bySelector.get(p.selector)!;
        expect([p.calls, p.succeeded, p.failed, p.cancelled, p.tokensIn, p.tokensOut], p.selector).toEqual([want.calls, want.succeeded, want.failed, want.cancelled, want.tokensIn, want.tokensOut]);
        close(p.trafficShare, want.trafficShare);
        for (const k of ['mean', 'p50', 'p95', 'p99'] as const) close(p.latencyMs?.[k], want.latency?.[k]);
        close(p.costPerRequestUsd, want.costPerRequest);
        expect([p.quality.agreedCalls, p.quality.dissentedCalls, p.quality.feedbackCalls]).toEqual([want.agreedCalls, want.dissentedCalls, want.feedbackCalls]);
        close(p.quality.feedbackMean, want.feedbackMean);
      }
      // Google never succeeded: the best provider is one that always did, by the stated criterion.
      expect(['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5']).toContain(metrics.bestProvider?.selector);
      expect(metrics.bestProvider?.successRate).toBe(1);

      // The facade's export: one CSV row per call, the cache hit as one row of its own.
      const file = join(scratchDir, 'sequence.csv');
      const exported = await framework.exportMetrics(file, { days: 1, format: 'csv' });
      expect(exported).toMatchObject({ interactions: 7, providerCalls: 9, rows: 10, includeText: false });
      const csv = parse<Record<string, string>>(readFileSync(file, 'utf8'), { columns: true });
      expect(csv.filter((r) => r['cache_hit'] === 'true').map((r) => r['call_index'])).toEqual(['']);
      expect(csv.filter((r) => r['call_status'] === 'cancelled').map((r) => r['provider'])).toEqual(['google']);
      expect(readFileSync(file, 'utf8')).not.toContain('capital of Italy');
    } finally {
      await db.$disconnect();
    }
  }, 180_000);
});
