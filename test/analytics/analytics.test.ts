/**
 * The analytics API on SQLite and PostgreSQL: known traffic written through the memory store's real
 * write path (persistInteraction, recordFeedback), every figure compared with the same figure
 * computed here, in plain TypeScript, from the rows read back from the database; the window and
 * task-type filters; an empty database; the export's row counts and contents (CSV parsed back,
 * JSON Lines), text left out by default; bad options as InvalidRequest naming the option, with no
 * file left behind (also when the database fails in the middle of an export).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAnalyticsCommands } from '../../client/analytics-cli';
import {
  bestProviderCriterion,
  EXPORT_COLUMNS,
  EXPORT_TEXT_COLUMNS,
  exportMetrics,
  getPerformanceMetrics,
  getProviderComparison,
  openAnalytics,
  pickBestProvider,
  type ProviderComparisonRow,
} from '../../src/analytics';
import { InvalidRequest } from '../../src/errors';
import { percentile } from '../../src/improvement/statistics';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { createMemoryStore, type InteractionRecord, type MemoryStore, type ProviderCallRecord } from '../../src/memory/repository';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';
import { close, expectedOverview, expectedProviders, inWindow, readAll, sum, type Stored } from './expected';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const HOUR = 3_600_000;
const PROVIDERS = [
  { provider: 'openai', model: 'gpt-4o-mini' },
  { provider: 'anthropic', model: 'claude-haiku' },
  { provider: 'google', model: 'gemini-flash' },
  { provider: 'openai', model: 'gpt-4o' },
] as const;
const SECRET_PROMPT = 'PROMPT-TEXT-must-not-be-exported';
const SECRET_ANSWER = 'ANSWER-TEXT-must-not-be-exported';
const SECRET_ERROR = 'ERROR-TEXT quoting the prompt';

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 60 interactions over the last 60 hours: two task types, four provider:models (anthropic never
 * fails), failed calls and failed requests, early-stop cancellations, cache hits (no calls),
 * consensus with dissent, feedback on some; several pairs share a completedAt (export paging ties).
 */
function traffic(): { records: InteractionRecord[]; feedback: { workflowId: string; score: number }[] } {
  const random = rng(13);
  const records: InteractionRecord[] = [];
  const feedback: { workflowId: string; score: number }[] = [];
  for (let i = 0; i < 60; i++) {
    // Two interactions every two hours, 17 s apart; pairs 0/1, 6/7, ... share their completedAt.
    const completedAt = new Date(NOW.getTime() - Math.floor(i / 2) * 2 * HOUR - (i % 2 === 1 && i % 6 !== 1 ? 17_000 : 0));
    const taskType = i % 3 === 0 ? 'summarize' : 'code_generation';
    const cacheHit = i % 10 === 9;
    const calls: ProviderCallRecord[] = [];
    if (!cacheHit) {
      const n = 1 + Math.floor(random() * 3);
      for (let c = 0; c < n; c++) {
        const p = PROVIDERS[Math.floor(random() * PROVIDERS.length)]!;
        const roll = random();
        const status: ProviderCallRecord['status'] = p.provider === 'anthropic' ? 'succeeded' : roll < 0.2 ? 'failed' : roll < 0.3 ? 'cancelled' : 'succeeded';
        calls.push({
          callIndex: c,
          provider: p.provider,
          model: p.model,
          attempts: status === 'failed' ? 3 : 1,
          status,
          hedged: c === 2,
          errorType: status === 'failed' ? 'ProviderUnavailable' : null,
          errorMessage: status === 'failed' ? SECRET_ERROR : null,
          latencyMs: status === 'cancelled' && random() < 0.5 ? null : Math.round(50 + random() * 2000) + 0.25,
          firstTokenMs: c === 0 ? 12.5 : null,
          tokensIn: 10 + Math.floor(random() * 100),
          tokensOut: status === 'succeeded' ? 5 + Math.floor(random() * 200) : 0,
          costUsd: status === 'failed' ? 0 : Math.round(random() * 1e6) / 1e9,
          finishReason: status === 'succeeded' ? 'stop' : null,
          providerRequestId: `req-${i}-${c}`,
        });
      }
    }
    const succeeded = calls.filter((c) => c.status === 'succeeded');
    const failed = !cacheHit && succeeded.length === 0;
    const consensus = succeeded.length >= 2;
    const dissenting = consensus && random() < 0.5 ? [succeeded[succeeded.length - 1]!.provider] : [];
    const agreement = consensus ? (succeeded.length - dissenting.length) / succeeded.length : null;
    records.push({
      workflowId: `request-analytics-${i}`,
      runId: `run-${i}`,
      requestId: `analytics-${i}`,
      userId: `user-${i % 4}`,
      taskType,
      complexity: i % 2 === 0 ? 'simple' : 'complex',
      complexityScore: 0.1 * (i % 10),
      prompt: `${SECRET_PROMPT} #${i}, with "quotes", commas and\na newline`,
      systemPrompt: null,
      response: failed ? null : `${SECRET_ANSWER} #${i}`,
      confidence: consensus ? agreement : null,
      agreement,
      consensusStrategy: consensus ? 'similarity' : 'none',
      consensusApplied: consensus,
      status: failed ? 'failed' : 'completed',
      errorType: failed ? 'InsufficientResponses' : null,
      errorMessage: failed ? SECRET_ERROR : null,
      routingPolicyVersion: 1 + (i % 2),
      routingRule: null,
      thresholdMet: consensus ? dissenting.length === 0 : null,
      lowConfidence: consensus && dissenting.length > 0 && i % 4 === 0,
      dissenting,
      cancelledCalls: calls.filter((c) => c.status === 'cancelled').length,
      latencySavedMs: null,
      cacheHit,
      providersUsed: succeeded.map((c) => `${c.provider}:${c.model}`),
      tokensIn: calls.reduce((s, c) => s + c.tokensIn, 0),
      tokensOut: calls.reduce((s, c) => s + c.tokensOut, 0),
      costUsd: calls.reduce((s, c) => s + c.costUsd, 0),
      processingTimeMs: cacheHit ? 20 + i : 100 + Math.round(random() * 5000),
      startedAt: new Date(completedAt.getTime() - 1000),
      completedAt,
      providerCalls: calls,
    });
    if (!failed && i % 5 === 0) feedback.push({ workflowId: `request-analytics-${i}`, score: Math.round(random() * 10) / 10 });
    if (!failed && i % 15 === 0) feedback.push({ workflowId: `request-analytics-${i}`, score: 1 });
  }
  return { records, feedback };
}

async function expectNoStrayFiles(dir: string, allowed: string[]): Promise<void> {
  expect(readdirSync(dir).sort()).toEqual([...allowed].sort());
}

// The in-memory form of the database percentiles' method (src/analytics/percentiles.ts).
describe('percentile (type 7, linear between closest ranks)', () => {
  it('gives the textbook values (numpy.percentile / percentile_cont)', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([7], 0.95)).toBe(7);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([15, 20, 35, 40, 50], 0.4)).toBeCloseTo(29, 12);
    expect(percentile([15, 20, 35, 40, 50], 0.95)).toBeCloseTo(48, 12);
    expect(percentile([15, 20, 35, 40, 50], 0)).toBe(15);
    expect(percentile([15, 20, 35, 40, 50], 1)).toBe(50);
    expect(() => percentile([1], 1.5)).toThrow(RangeError);
  });
});

const databases: { name: string; open: () => Promise<ScratchDatabase> }[] = [
  { name: 'SQLite', open: () => Promise.resolve(scratchSqlite()) },
  { name: 'PostgreSQL', open: () => scratchPostgres('analytics') },
];

describe.each(databases)('analytics on $name', ({ name, open }) => {
  let scratch: ScratchDatabase;
  let db: DatabaseClient;
  let store: MemoryStore;
  let outDir: string;

  beforeAll(async () => {
    scratch = await open();
    await applyMigrations(scratch.url);
    db = createPrismaClient(scratch.url);
    store = createMemoryStore(scratch.url);
    outDir = mkdtempSync(path.join(os.tmpdir(), 'analytics-export-'));
  });
  afterAll(async () => {
    await store?.close();
    await db?.$disconnect();
    await scratch?.drop();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('an empty database: zeros and nulls, no best provider, an export with a header and no rows', async () => {
    const metrics = await getPerformanceMetrics(db, { timeWindowHours: 24, now: NOW });
    expect(metrics).toMatchObject({
      totalRequests: 0,
      completed: 0,
      failed: 0,
      successRate: null,
      cacheHits: 0,
      latencyMs: null,
      tokens: { in: 0, out: 0, total: 0 },
      costUsd: { total: 0, perRequest: null },
      consensus: { requests: 0, meanAgreement: null, meanConfidence: null, thresholdMetRate: null, lowConfidence: 0 },
      feedback: { count: 0, meanScore: null },
      bestProvider: null,
    });
    expect(await getProviderComparison(db, { timeWindowHours: 24, now: NOW })).toMatchObject({ requests: 0, totalCalls: 0, providers: [] });
    const file = path.join(outDir, 'empty.csv');
    const result = await exportMetrics(db, file, { days: 7, format: 'csv', now: NOW });
    expect(result).toMatchObject({ interactions: 0, providerCalls: 0, rows: 0 });
    expect(readFileSync(file, 'utf8').trim()).toBe(EXPORT_COLUMNS.join(','));
    rmSync(file);
  });

  describe('with known traffic', () => {
    let rows: Stored[];
    let records: InteractionRecord[];

    beforeAll(async () => {
      const t = traffic();
      records = t.records;
      for (const r of t.records) expect(await store.persistInteraction(r)).toEqual({ stored: true });
      for (const f of t.feedback) await store.recordFeedback({ ...f, source: 'test' });
      rows = await readAll(db);
      expect(rows).toHaveLength(60);
    }, 120_000);

    for (const [hours, taskType] of [[24, undefined], [48, 'code_generation'], [1000, undefined], [6, 'summarize']] as const) {
      it(`getPerformanceMetrics matches the rows (${hours} h${taskType ? `, ${taskType}` : ''})`, async () => {
        const m = await getPerformanceMetrics(db, { timeWindowHours: hours, now: NOW, ...(taskType && { taskType }) });
        const w = inWindow(rows, NOW, hours, taskType);
        const e = expectedOverview(w);
        expect(w.length).toBeGreaterThan(0);
        expect(m.window).toEqual({ hours, since: new Date(NOW.getTime() - hours * HOUR).toISOString(), until: NOW.toISOString(), taskType: taskType ?? null });
        expect([m.totalRequests, m.completed, m.failed, m.cacheHits]).toEqual([e.totalRequests, e.completed, e.failed, e.cacheHits]);
        close(m.successRate, e.successRate);
        expect(m.latencyMs?.count).toBe(e.latency?.count);
        close(m.latencyMs?.mean, e.latency?.mean);
        close(m.latencyMs?.p50, e.latency?.p50);
        close(m.latencyMs?.p95, e.latency?.p95);
        expect(m.tokens).toEqual({ in: e.tokensIn, out: e.tokensOut, total: e.tokensIn + e.tokensOut });
        close(m.costUsd.total, e.cost);
        close(m.costUsd.perRequest, e.cost / e.totalRequests);
        expect(m.consensus.requests).toBe(e.consensusRequests);
        close(m.consensus.meanAgreement, e.meanAgreement);
        close(m.consensus.meanConfidence, e.meanConfidence);
        close(m.consensus.thresholdMetRate, e.thresholdMetRate);
        expect(m.consensus.lowConfidence).toBe(e.lowConfidence);
        expect(m.feedback.count).toBe(e.feedbackCount);
        close(m.feedback.meanScore, e.feedbackMean);
        expect(m.bestProviderCriterion).toBe(bestProviderCriterion(5));
      });

      it(`getProviderComparison matches the rows (${hours} h${taskType ? `, ${taskType}` : ''})`, async () => {
        const c = await getProviderComparison(db, { timeWindowHours: hours, now: NOW, ...(taskType && { taskType }) });
        const w = inWindow(rows, NOW, hours, taskType);
        const e = expectedProviders(w);
        expect(c.requests).toBe(w.length);
        expect(c.totalCalls).toBe(e.totalCalls);
        expect(c.providers.map((p) => p.selector).sort()).toEqual([...e.bySelector.keys()].sort());
        expect(c.providers.map((p) => p.calls)).toEqual([...c.providers.map((p) => p.calls)].sort((a, b) => b - a));
        for (const p of c.providers) {
          const x = e.bySelector.get(p.selector)!;
          expect([p.calls, p.succeeded, p.failed, p.cancelled, p.tokensIn, p.tokensOut], p.selector).toEqual([x.calls, x.succeeded, x.failed, x.cancelled, x.tokensIn, x.tokensOut]);
          close(p.successRate, x.successRate);
          close(p.trafficShare, x.trafficShare);
          expect(p.latencyMs?.count).toBe(x.latency?.count);
          for (const k of ['mean', 'p50', 'p95', 'p99'] as const) close(p.latencyMs?.[k], x.latency?.[k]);
          close(p.costUsd, x.cost);
          close(p.costPerRequestUsd, x.costPerRequest);
          expect([p.quality.agreedCalls, p.quality.dissentedCalls, p.quality.feedbackCalls], p.selector).toEqual([x.agreedCalls, x.dissentedCalls, x.feedbackCalls]);
          close(p.quality.agreementRate, x.agreementRate);
          close(p.quality.feedbackMean, x.feedbackMean);
          close(p.quality.score, x.score);
        }
        close(sum(c.providers.map((p) => p.trafficShare)), 1);
      });
    }

    it('the best provider is the one the stated criterion picks: anthropic, which never failed', async () => {
      const m = await getPerformanceMetrics(db, { timeWindowHours: 1000, now: NOW });
      const c = await getProviderComparison(db, { timeWindowHours: 1000, now: NOW });
      expect(m.bestProvider?.selector).toBe('anthropic:claude-haiku');
      expect(m.bestProvider?.successRate).toBe(1);
      expect(m.bestProvider).toEqual(pickBestProvider(c.providers, 5));
      // With a minimum no provider reaches, there is none.
      const strict = await getPerformanceMetrics(db, { timeWindowHours: 1000, now: NOW, bestProviderMinCalls: 10_000 });
      expect(strict.bestProvider).toBeNull();
      expect(strict.bestProviderCriterion).toContain('at least 10000 decided');
    });

    it('the criterion breaks success-rate ties by quality, then cost', () => {
      const row = (selector: string, successRate: number, score: number | null, cost: number): ProviderComparisonRow => ({
        selector, provider: selector.split(':')[0]!, model: selector.split(':')[1]!, calls: 10, succeeded: 10 * successRate, failed: 10 - 10 * successRate, cancelled: 0,
        successRate, trafficShare: 0.25, latencyMs: null, tokensIn: 0, tokensOut: 0, costUsd: cost * 10, costPerRequestUsd: cost,
        quality: { agreedCalls: 0, dissentedCalls: 0, agreementRate: null, feedbackCalls: 0, feedbackMean: null, score },
      });
      expect(pickBestProvider([row('a:1', 0.9, 1, 0.001), row('b:1', 1, 0.5, 0.01), row('c:1', 1, 0.8, 0.02)], 5)?.selector).toBe('c:1');
      expect(pickBestProvider([row('b:1', 1, 0.8, 0.01), row('c:1', 1, 0.8, 0.02)], 5)?.selector).toBe('b:1');
      expect(pickBestProvider([row('b:1', 1, null, 0.01), row('c:1', 1, 0.1, 0.02)], 5)?.selector).toBe('c:1');
    });

    if (name === 'PostgreSQL') {
      it("percentiles equal PostgreSQL's percentile_cont", async () => {
        const [overall] = await db.$queryRawUnsafe<{ p50: number; p95: number }[]>(
          `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY "processingTimeMs") AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY "processingTimeMs") AS p95
             FROM "Interaction" WHERE status = 'completed' AND "completedAt" >= $1 AND "completedAt" <= $2`,
          new Date(NOW.getTime() - 24 * HOUR), NOW,
        );
        const m = await getPerformanceMetrics(db, { timeWindowHours: 24, now: NOW });
        close(m.latencyMs?.p50, Number(overall!.p50));
        close(m.latencyMs?.p95, Number(overall!.p95));
        const perProvider = await db.$queryRawUnsafe<{ provider: string; model: string; p99: number }[]>(
          `SELECT provider, model, percentile_cont(0.99) WITHIN GROUP (ORDER BY "latencyMs") AS p99 FROM "ProviderCall"
            WHERE status = 'succeeded' AND "latencyMs" IS NOT NULL GROUP BY provider, model`,
        );
        const c = await getProviderComparison(db, { timeWindowHours: 1000, now: NOW });
        for (const r of perProvider) close(c.providers.find((p) => p.selector === `${r.provider}:${r.model}`)?.latencyMs?.p99, Number(r.p99));
      });
    }

    it('CSV export: one row per provider call (a call-less interaction is one row), parsed back equal to the rows, no text', async () => {
      const file = path.join(outDir, 'week.csv');
      const result = await exportMetrics(db, file, { days: 2, format: 'csv', now: NOW, pageSize: 4 });
      const w = inWindow(rows, NOW, 48);
      const calls = sum(w.map((r) => r.providerCalls.length));
      const expectedRows = sum(w.map((r) => Math.max(1, r.providerCalls.length)));
      expect(result).toMatchObject({ path: file, format: 'csv', interactions: w.length, providerCalls: calls, rows: expectedRows, includeText: false });
      const text = readFileSync(file, 'utf8');
      for (const secret of [SECRET_PROMPT, SECRET_ANSWER, SECRET_ERROR]) expect(text).not.toContain(secret);
      const parsed = parse<Record<string, string>>(text, { columns: true });
      expect(Object.keys(parsed[0]!)).toEqual([...EXPORT_COLUMNS]);
      expect(parsed).toHaveLength(expectedRows);
      // Every (interaction, call) exactly once, despite completedAt ties across pages.
      const keys = parsed.map((r) => `${r['workflow_id']}#${r['call_index']}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(parsed.map((r) => r['workflow_id']))).toEqual(new Set(w.map((r) => r.workflowId)));
      for (const line of parsed) {
        const row = w.find((r) => r.workflowId === line['workflow_id'])!;
        expect(line['task_type']).toBe(row.taskType);
        expect(line['status']).toBe(row.status);
        expect(Number(line['processing_time_ms'])).toBe(row.processingTimeMs);
        expect(Number(line['cost_usd'])).toBeCloseTo(row.costUsd, 12);
        expect(line['cache_hit']).toBe(String(row.cacheHit));
        expect(line['completed_at']).toBe(row.completedAt.toISOString());
        expect(line['dissenting']).toBe((row.dissenting as string[]).join(';'));
        expect(Number(line['feedback_count'])).toBe(row.feedback.length);
        if (line['call_index'] === '') {
          expect(row.providerCalls).toHaveLength(0);
          continue;
        }
        const call = row.providerCalls.find((c) => c.callIndex === Number(line['call_index']))!;
        expect([line['provider'], line['model'], line['call_status'], line['call_error_type']]).toEqual([call.provider, call.model, call.status, call.errorType ?? '']);
        expect(line['latency_ms']).toBe(call.latencyMs === null ? '' : String(call.latencyMs));
        expect(Number(line['call_tokens_in'])).toBe(call.tokensIn);
      }
      // Ordered by completion time.
      const times = parsed.map((r) => r['completed_at']!);
      expect(times).toEqual([...times].sort());
      await expectNoStrayFiles(outDir, ['week.csv']);
      rmSync(file);
    });

    it('CSV export with includeText carries prompts, answers and error messages intact; taskType filters', async () => {
      const file = path.join(outDir, 'text.csv');
      const result = await exportMetrics(db, file, { days: 2, format: 'csv', now: NOW, includeText: true, taskType: 'summarize' });
      const w = inWindow(rows, NOW, 48, 'summarize');
      expect(result.interactions).toBe(w.length);
      const parsed = parse<Record<string, string>>(readFileSync(file, 'utf8'), { columns: true });
      expect(Object.keys(parsed[0]!)).toEqual([...EXPORT_COLUMNS, ...EXPORT_TEXT_COLUMNS]);
      for (const line of parsed) {
        const row = w.find((r) => r.workflowId === line['workflow_id'])!;
        expect(line['task_type']).toBe('summarize');
        expect(line['prompt']).toBe(row.prompt);
        expect(line['response']).toBe(row.response ?? '');
        expect(line['error_message']).toBe(row.errorMessage ?? '');
        if (line['call_index'] !== '') expect(line['call_error_message']).toBe(row.providerCalls.find((c) => c.callIndex === Number(line['call_index']))!.errorMessage ?? '');
      }
      rmSync(file);
    });

    it('JSON Lines export: one interaction per line with its calls nested, no text by default', async () => {
      const file = path.join(outDir, 'all.jsonl');
      const result = await exportMetrics(db, file, { days: 30, format: 'json', now: NOW, pageSize: 7 });
      expect(result).toMatchObject({ interactions: 60, providerCalls: sum(rows.map((r) => r.providerCalls.length)), rows: 60 });
      const text = readFileSync(file, 'utf8');
      for (const secret of [SECRET_PROMPT, SECRET_ANSWER, SECRET_ERROR]) expect(text).not.toContain(secret);
      const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { workflowId: string; providerCalls: { callIndex: number; status: string; costUsd: number }[]; tokensIn: number; prompt?: string });
      expect(lines).toHaveLength(60);
      for (const line of lines) {
        const row = rows.find((r) => r.workflowId === line.workflowId)!;
        expect(line.tokensIn).toBe(row.tokensIn);
        expect(line.prompt).toBeUndefined();
        expect(line.providerCalls.map((c) => [c.callIndex, c.status])).toEqual([...row.providerCalls].sort((a, b) => a.callIndex - b.callIndex).map((c) => [c.callIndex, c.status]));
      }
      rmSync(file);
    });

    it('bad options are InvalidRequest naming the option, before any file is written', async () => {
      const issuePath = async (p: Promise<unknown>) => {
        const err = await p.then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidRequest);
        return (err as InvalidRequest).issues.map((i) => i.path);
      };
      expect(await issuePath(getPerformanceMetrics(db, { timeWindowHours: -1 }))).toEqual(['timeWindowHours']);
      expect(await issuePath(getPerformanceMetrics(db, { timeWindowHours: Number.NaN }))).toEqual(['timeWindowHours']);
      expect(await issuePath(getProviderComparison(db, { timeWindowHours: 0 }))).toEqual(['timeWindowHours']);
      expect(await issuePath(getProviderComparison(db, { timeWindowHours: 24, taskType: '' }))).toEqual(['taskType']);
      const file = path.join(outDir, 'bad.csv');
      expect(await issuePath(exportMetrics(db, file, { days: -7, format: 'csv' }))).toEqual(['days']);
      expect(await issuePath(exportMetrics(db, file, { days: 7, format: 'xml' as 'csv' }))).toEqual(['format']);
      await expect(exportMetrics(db, file, { days: 7, format: 'parquet' as 'csv' })).rejects.toThrow(/parquet is not supported/);
      expect(await issuePath(exportMetrics(db, path.join(outDir, 'missing', 'x.csv'), { days: 7, format: 'csv' }))).toEqual(['path']);
      mkdirSync(path.join(outDir, 'a-folder'));
      expect(await issuePath(exportMetrics(db, path.join(outDir, 'a-folder'), { days: 7, format: 'csv' }))).toEqual(['path']);
      expect(await issuePath(exportMetrics(db, '', { days: 7, format: 'csv' }))).toEqual(['path']);
      await expectNoStrayFiles(outDir, ['a-folder']);
      rmSync(path.join(outDir, 'a-folder'), { recursive: true });
    });

    it('a database failure in the middle of an export leaves no file (and an earlier export of the path intact)', async () => {
      const file = path.join(outDir, 'keep.csv');
      await exportMetrics(db, file, { days: 1, format: 'csv', now: NOW });
      const before = readFileSync(file, 'utf8');
      let reads = 0;
      const failing = new Proxy(db, {
        get(target, prop, receiver) {
          if (prop !== 'interaction') return Reflect.get(target, prop, receiver) as unknown;
          return {
            findMany: (args: Parameters<DatabaseClient['interaction']['findMany']>[0]) => {
              if (++reads === 3) return Promise.reject(new Error('connection lost mid-export'));
              return target.interaction.findMany(args);
            },
          };
        },
      });
      for (const format of ['csv', 'json'] as const) {
        reads = 0;
        await expect(exportMetrics(failing, file, { days: 30, format, now: NOW, pageSize: 5 })).rejects.toThrow('connection lost mid-export');
        expect(reads).toBe(3);
        expect(readFileSync(file, 'utf8')).toBe(before);
      }
      await expectNoStrayFiles(outDir, ['keep.csv']);
      rmSync(file);
    });

    it('CLI: metrics --json equals the API; the tables name every provider; export writes the file; bad hours exit through InvalidRequest', async () => {
      const lines: string[] = [];
      const program = () =>
        addAnalyticsCommands(new Command('orchestrator').exitOverride(), { open: () => Promise.resolve(openAnalytics(scratch.url)), out: (l) => lines.push(l) });
      await program().parseAsync(['node', 'cli', 'metrics', '--hours', '20000', '--json']);
      const printed = JSON.parse(lines.join('\n')) as { metrics: { totalRequests: number; bestProvider: { selector: string } }; providers: { totalCalls: number } };
      expect(printed.metrics.totalRequests).toBe(60);
      expect(printed.metrics.bestProvider.selector).toBe('anthropic:claude-haiku');
      expect(printed.providers.totalCalls).toBe(sum(rows.map((r) => r.providerCalls.length)));
      lines.length = 0;
      await program().parseAsync(['node', 'cli', 'metrics', '--hours', '20000', '--task-type', 'summarize']);
      const table = lines.join('\n');
      expect(table).toMatch(/requests\s+20 \(/);
      expect(table).toContain('task type summarize');
      for (const p of PROVIDERS) expect(table).toContain(`${p.provider}:${p.model}`);
      lines.length = 0;
      const file = path.join(outDir, 'cli.csv');
      await program().parseAsync(['node', 'cli', 'export', '--days', '3000', '--format', 'csv', '--out', file]);
      expect(lines.join('\n')).toMatch(/exported 60 interactions/);
      expect(parse<unknown>(readFileSync(file, 'utf8'), { columns: true }).length).toBe(sum(rows.map((r) => Math.max(1, r.providerCalls.length))));
      rmSync(file);
      await expect(program().parseAsync(['node', 'cli', 'metrics', '--hours', '-3'])).rejects.toThrow(/timeWindowHours: timeWindowHours must be greater than 0/);
      await expect(program().parseAsync(['node', 'cli', 'export', '--days', '1', '--format', 'parquet', '--out', file])).rejects.toThrow(/Allowed choices are csv, json/);
      await expectNoStrayFiles(outDir, []);
    });

    it('records written with the ids used here are the ones read back (sanity of the fixture)', () => {
      expect(new Set(rows.map((r) => r.workflowId))).toEqual(new Set(records.map((r) => r.workflowId)));
      expect(rows.some((r) => r.providerCalls.some((c) => c.status === 'cancelled'))).toBe(true);
      expect(rows.some((r) => r.status === 'failed')).toBe(true);
      expect(rows.some((r) => r.consensusApplied && (r.dissenting as string[]).length > 0)).toBe(true);
      expect(rows.filter((r) => r.feedback.length > 1).length).toBeGreaterThan(0);
    });
  });
});
