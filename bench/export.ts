/**
 * npm run bench:export: exportMetrics streams with bounded memory.
 *
 * A temp SQLite database gets 10,000 generated interactions (three provider calls each, a 1 KB
 * prompt and answer, feedback on every tenth), spread evenly over ten days. Each measurement runs
 * in a fresh child process (so one run's heap does not hide the next one's), which opens the
 * database, warms the client with one query, records its RSS (the baseline), then does the work
 * while sampling RSS every 5 ms; peak RSS growth = peak - baseline (resourceUsage().maxRSS is
 * reported too). Measured:
 *   - export --days 2  to CSV: 2,000 interactions, 6,000 rows
 *   - export --days 10 to CSV: 10,000 interactions, 30,000 rows (and with --include-text, and to JSON Lines)
 *   - for comparison, loading the same 10,000 interactions with their calls in one findMany
 * Targets: growth of the 10,000 export within GROWTH_SLACK_MB of the 2,000 export's (memory does
 * not scale with rows), under GROWTH_MAX_MB, and at least MIN_ROWS_PER_S CSV rows/s. Ends with one
 * JSON line of figures and targets.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportMetrics } from '../src/analytics';
import type { Prisma } from '../src/generated/prisma-sqlite/client';
import { createPrismaClient } from '../src/memory/client';
import { applyMigrations } from '../src/memory/migrate';
import { round } from './stats';

const INTERACTIONS = Number(process.env['BENCH_EXPORT_INTERACTIONS'] ?? 10_000);
const DAYS = 10;
const CALLS_PER_INTERACTION = 3;
const GROWTH_SLACK_MB = 16;
const GROWTH_MAX_MB = 64;
const MIN_ROWS_PER_S = 2_000;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const MB = 1024 * 1024;
/** The exports run with V8's old space capped at this: a streamed export fits whatever the row count. */
const HEAP_CAP_MB = 64;

interface ChildResult {
  mode: string;
  days: number;
  rows: number;
  interactions: number;
  ms: number;
  baselineRssMb: number;
  peakRssMb: number;
  growthMb: number;
  maxRssMb: number;
  bytes: number;
}

async function seed(url: string): Promise<void> {
  await applyMigrations(url);
  const db = createPrismaClient(url);
  const filler = 'lorem ipsum dolor sit amet '.repeat(40); // ~1 KB of text per prompt and answer
  const providers = [
    ['openai', 'gpt-4o-mini'],
    ['anthropic', 'claude-haiku'],
    ['google', 'gemini-flash'],
  ] as const;
  const span = DAYS * 86_400_000;
  try {
    for (let start = 0; start < INTERACTIONS; start += 500) {
      const interactions: Prisma.InteractionCreateManyInput[] = [];
      const calls: Prisma.ProviderCallCreateManyInput[] = [];
      const feedback: Prisma.FeedbackCreateManyInput[] = [];
      for (let i = start; i < Math.min(start + 500, INTERACTIONS); i++) {
        const id = randomUUID();
        // Evenly over the ten days before NOW (the newest first): --days 2 selects a fifth.
        const completedAt = new Date(NOW.getTime() - Math.floor(((i + 0.5) / INTERACTIONS) * span));
        interactions.push({
          id,
          workflowId: `request-bench-export-${i}`,
          userId: `user-${i % 50}`,
          taskType: i % 2 === 0 ? 'code_generation' : 'summarize',
          complexity: 'medium',
          complexityScore: 0.5,
          prompt: `prompt ${i}: ${filler}`,
          response: `answer ${i}: ${filler}`,
          confidence: 0.8,
          agreement: 0.67,
          consensusStrategy: 'similarity',
          consensusApplied: true,
          status: i % 20 === 0 ? 'failed' : 'completed',
          routingPolicyVersion: 1,
          dissenting: ['google'],
          providersUsed: providers.map(([p, m]) => `${p}:${m}`),
          tokensIn: 300,
          tokensOut: 600,
          costUsd: 0.0012,
          processingTimeMs: 800 + (i % 1000),
          startedAt: new Date(completedAt.getTime() - 900),
          completedAt,
        });
        providers.forEach(([provider, model], callIndex) =>
          calls.push({ interactionId: id, callIndex, provider, model, attempts: 1, status: 'succeeded', latencyMs: 300 + ((i * 7 + callIndex * 13) % 900), tokensIn: 100, tokensOut: 200, costUsd: 0.0004, finishReason: 'stop', providerRequestId: `req-${i}-${callIndex}` }),
        );
        if (i % 10 === 0) feedback.push({ interactionId: id, score: (i % 7) / 6, source: 'bench' });
      }
      await db.interaction.createMany({ data: interactions });
      await db.providerCall.createMany({ data: calls });
      await db.feedback.createMany({ data: feedback });
    }
  } finally {
    await db.$disconnect();
  }
}

/** In a child: baseline, then the work while sampling RSS. */
async function child(url: string, mode: string, days: number, out: string): Promise<void> {
  const db = createPrismaClient(url);
  // Warm-up: the same query shapes and modules once on a few rows (one-time costs are not per row).
  if (mode === 'load-all') await db.interaction.findMany({ take: 5, include: { providerCalls: true, feedback: { select: { score: true } } } });
  else await exportMetrics(db, `${out}.warmup`, { days: 0.001, format: mode.startsWith('json') ? 'json' : 'csv', now: NOW, includeText: mode.endsWith('+text') });
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const started = performance.now();
  let rows = 0;
  let interactions = 0;
  let bytes = 0;
  if (mode === 'load-all') {
    // What a non-streaming export would hold: every interaction of the period with its calls.
    const all = await db.interaction.findMany({
      where: { completedAt: { gte: new Date(NOW.getTime() - days * 86_400_000), lte: NOW } },
      include: { providerCalls: true, feedback: { select: { score: true } } },
      omit: { prompt: true, response: true, systemPrompt: true, messages: true, errorMessage: true, result: true },
    });
    interactions = all.length;
    rows = all.reduce((s, r) => s + r.providerCalls.length, 0);
  } else {
    const format = mode.startsWith('json') ? 'json' : 'csv';
    const result = await exportMetrics(db, out, { days, format, now: NOW, includeText: mode.endsWith('+text') });
    rows = result.rows;
    interactions = result.interactions;
    bytes = statSync(out).size;
  }
  const ms = performance.now() - started;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  await db.$disconnect();
  const result: ChildResult = {
    mode,
    days,
    rows,
    interactions,
    ms,
    baselineRssMb: baseline / MB,
    peakRssMb: peak / MB,
    growthMb: (peak - baseline) / MB,
    // Linux reports kilobytes.
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    bytes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function measure(url: string, dir: string, mode: string, days: number, options: { capped?: boolean; mayFail?: boolean } = {}): Promise<ChildResult | null> {
  const capped = options.capped ?? mode !== 'load-all';
  const out = path.join(dir, `export-${mode.replace('+', '-')}-${days}d.${mode.startsWith('json') ? 'jsonl' : 'csv'}`);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, '--expose-gc', ...(capped ? [`--max-old-space-size=${HEAP_CAP_MB}`] : []), __filename, '--child', url, mode, String(days), out], { stdio: ['ignore', 'pipe', options.mayFail ? 'ignore' : 'inherit'] });
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return options.mayFail ? resolve(null) : reject(new Error(`child ${mode} ${days}d exited with ${code}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(last) as ChildResult);
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-export-'));
  const url = `file:${path.join(dir, 'bench.db')}`;
  try {
    const seeded = performance.now();
    await seed(url);
    console.log(`seeded ${INTERACTIONS} interactions, ${INTERACTIONS * CALLS_PER_INTERACTION} provider calls in ${round((performance.now() - seeded) / 1000, 1)} s (${path.join(dir, 'bench.db')})`);
    const runs: ChildResult[] = [];
    for (const [mode, days] of [['csv', 2], ['csv', DAYS], ['csv+text', DAYS], ['json', DAYS], ['load-all', 2], ['load-all', DAYS]] as const) {
      const r = (await measure(url, dir, mode, days))!;
      runs.push(r);
      const rate = r.rows / (r.ms / 1000);
      console.log(
        `  ${mode.padEnd(9)} ${String(days).padStart(2)} d: ${String(r.interactions).padStart(6)} interactions, ${String(r.rows).padStart(6)} rows in ${round(r.ms, 0)} ms` +
          ` (${round(rate, 0)} rows/s)  RSS ${round(r.baselineRssMb)} -> peak ${round(r.peakRssMb)} MB (growth ${round(r.growthMb)} MB, maxRSS ${round(r.maxRssMb)} MB)${r.bytes ? `  ${round(r.bytes / MB)} MB file` : ''}`,
      );
    }
    const find = (mode: string, days: number) => runs.find((r) => r.mode === mode && r.days === days)!;
    const small = find('csv', 2);
    const large = find('csv', DAYS);
    const loadAll = find('load-all', DAYS);
    // The same full load with the exports' heap cap: does it fit at all?
    const loadAllCapped = await measure(url, dir, 'load-all', DAYS, { capped: true, mayFail: true });
    console.log(`  load-all  ${DAYS} d with the exports' ${HEAP_CAP_MB} MB heap cap: ${loadAllCapped ? `fits (growth ${round(loadAllCapped.growthMb)} MB)` : 'runs out of memory'}`);
    const rowsPerS = large.rows / (large.ms / 1000);
    const growthDelta = large.growthMb - small.growthMb;
    const met = growthDelta <= GROWTH_SLACK_MB && large.growthMb <= GROWTH_MAX_MB && rowsPerS >= MIN_ROWS_PER_S;
    console.log(`\nRSS growth exporting ${large.interactions} vs ${small.interactions} interactions: ${round(large.growthMb)} vs ${round(small.growthMb)} MB (loading the ${loadAll.interactions} at once: ${round(loadAll.growthMb)} MB)`);
    console.log(met ? 'Targets met.' : 'TARGET MISSED.');
    console.log(
      JSON.stringify({
        bench: 'export',
        interactions: large.interactions,
        csv_rows: large.rows,
        rows_per_s: round(rowsPerS, 0),
        interactions_per_s: round(large.interactions / (large.ms / 1000), 0),
        export_ms: round(large.ms, 0),
        rss_growth_mb: round(large.growthMb),
        rss_growth_2000_mb: round(small.growthMb),
        rss_growth_text_mb: round(find('csv+text', DAYS).growthMb),
        rss_growth_json_mb: round(find('json', DAYS).growthMb),
        rss_growth_load_all_mb: round(loadAll.growthMb),
        rss_growth_load_all_2000_mb: round(find('load-all', 2).growthMb),
        heap_cap_mb: HEAP_CAP_MB,
        load_all_fits_heap_cap: loadAllCapped !== null,
        peak_rss_mb: round(large.peakRssMb),
        max_rss_mb: round(large.maxRssMb),
        baseline_rss_mb: round(large.baselineRssMb),
        targets: { rss_growth_delta_mb_max: GROWTH_SLACK_MB, rss_growth_mb_max: GROWTH_MAX_MB, rows_per_s_min: MIN_ROWS_PER_S },
        met,
      }),
    );
    if (!met) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  void child(args[1]!, args[2]!, Number(args[3]), args[4]!).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  void main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
