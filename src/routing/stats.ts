/**
 * Running statistics per (task type, complexity, provider, model), learned from our own history:
 * success rate, latency percentiles, cost per request, and quality (agreement with the chosen
 * answer when consensus ran; explicit user feedback when given, which takes precedence).
 *
 * Recent observations weigh more: every figure except the lifetime counts is exponentially
 * time-decayed with a configurable half-life, so a provider that got better (or worse) shows it
 * without waiting for its old record to be outvoted. Latency percentiles come from a log-bucketed
 * histogram (bounded size, about 4% relative error, mergeable, deterministic).
 *
 * Pure and deterministic (timestamps are inputs); summaries are small JSON, safe to carry in
 * workflow state. Entries exist at three levels, for cold starts: the exact key, the task type
 * over all complexities (`complexity: 'any'`), and the model over all task types (`taskType: '*'`).
 */
import type { Complexity } from '../types';

export const ANY_TASK_TYPE = '*';
export type StatsComplexity = Complexity | 'any';

export interface StatsKey {
  taskType: string;
  complexity: StatsComplexity;
  provider: string;
  model: string;
}

/** One provider call, as the statistics see it. */
export interface CallObservation {
  taskType: string;
  complexity: Complexity;
  provider: string;
  model: string;
  /** Epoch milliseconds. */
  at: number;
  succeeded: boolean;
  latencyMs: number | null;
  costUsd: number;
  /** Agreement with the chosen answer in [0, 1] (1 agreed, 0 dissented); null when unknown. */
  quality: number | null;
  /** Explicit user feedback in [0, 1]; null when none. Overrides `quality` for the quality estimate. */
  feedback: number | null;
}

export interface BetaParams {
  alpha: number;
  beta: number;
}

/** The running statistics of one key, as of `asOf`. */
export interface ProviderStatsSummary {
  key: StatsKey;
  /** `provider:model`. */
  selector: string;
  /** Lifetime counts. */
  calls: number;
  successes: number;
  /** Decayed number of observations (how much the recent figures rest on). */
  weight: number;
  /** Decayed success rate; null with no observation. */
  successRate: number | null;
  latencyMs: { p50: number; p95: number; p99: number } | null;
  /** Decayed mean cost of a call, USD. */
  costPerRequestUsd: number | null;
  /** Decayed mean quality (feedback where given, else agreement); null without any. */
  quality: number | null;
  qualityObservations: number;
  /** Decayed mean agreement with the chosen answer alone. */
  agreement: number | null;
  /** Decayed mean explicit feedback alone. */
  feedback: number | null;
  feedbackObservations: number;
  /** Beta posteriors (uniform prior) over success and quality, from the decayed counts. */
  posterior: { success: BetaParams; quality: BetaParams | null };
  firstObservedAt: string;
  lastObservedAt: string;
}

export interface RoutingStatsSnapshot {
  /** ISO-8601 time the figures are decayed to. */
  asOf: string;
  /** Null: no decay. */
  halfLifeMs: number | null;
  observations: number;
  entries: ProviderStatsSummary[];
}

export interface RoutingStatsOptions {
  /** Half-life of an observation's weight, in ms; null for no decay. Default one day. */
  halfLifeMs?: number | null;
}

export const DEFAULT_STATS_HALF_LIFE_MS = 24 * 60 * 60 * 1000;

/** Latency histogram: bucket i holds latencies in [g^i - 1, g^(i+1) - 1). */
const BUCKET_GROWTH = 1.08;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);

function bucketOf(latencyMs: number): number {
  return Math.max(0, Math.floor(Math.log(Math.max(0, latencyMs) + 1) / LOG_GROWTH));
}

/** Geometric middle of a bucket. */
function bucketValue(i: number): number {
  return Math.exp((i + 0.5) * LOG_GROWTH) - 1;
}

interface Accumulator {
  key: StatsKey;
  calls: number;
  successes: number;
  qualityObservations: number;
  feedbackObservations: number;
  firstAt: number;
  lastAt: number;
  /** Time the decayed figures below refer to. */
  refAt: number;
  w: number;
  wSuccess: number;
  wCost: number;
  /** Weight and weighted sum of the combined quality (feedback ?? agreement). */
  wQuality: number;
  sQuality: number;
  wAgreement: number;
  sAgreement: number;
  wFeedback: number;
  sFeedback: number;
  latency: Map<number, number>;
}

function keyString(k: StatsKey): string {
  return `${k.taskType}\u0000${k.complexity}\u0000${k.provider}\u0000${k.model}`;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export class RoutingStats {
  readonly halfLifeMs: number | null;
  private readonly table = new Map<string, Accumulator>();
  private count = 0;

  constructor(options: RoutingStatsOptions = {}) {
    const h = options.halfLifeMs === undefined ? DEFAULT_STATS_HALF_LIFE_MS : options.halfLifeMs;
    if (h !== null && !(h > 0)) throw new RangeError('halfLifeMs must be positive (or null for no decay)');
    this.halfLifeMs = h;
  }

  get observations(): number {
    return this.count;
  }

  /** Decay factor over `dt` ms (1 without decay). */
  private factor(dt: number): number {
    return this.halfLifeMs === null ? 1 : Math.pow(2, -Math.max(0, dt) / this.halfLifeMs);
  }

  /** Record one call at all three levels. */
  observe(o: CallObservation): void {
    this.count++;
    for (const key of [
      { taskType: o.taskType, complexity: o.complexity, provider: o.provider, model: o.model },
      { taskType: o.taskType, complexity: 'any' as const, provider: o.provider, model: o.model },
      { taskType: ANY_TASK_TYPE, complexity: 'any' as const, provider: o.provider, model: o.model },
    ]) {
      this.add(this.accumulator(key, o.at), o);
    }
  }

  private accumulator(key: StatsKey, at: number): Accumulator {
    const k = keyString(key);
    let acc = this.table.get(k);
    if (!acc) {
      acc = {
        key,
        calls: 0,
        successes: 0,
        qualityObservations: 0,
        feedbackObservations: 0,
        firstAt: at,
        lastAt: at,
        refAt: at,
        w: 0,
        wSuccess: 0,
        wCost: 0,
        wQuality: 0,
        sQuality: 0,
        wAgreement: 0,
        sAgreement: 0,
        wFeedback: 0,
        sFeedback: 0,
        latency: new Map(),
      };
      this.table.set(k, acc);
    }
    return acc;
  }

  /** Bring an accumulator's decayed figures forward to time `t`. */
  private decayTo(acc: Accumulator, t: number): void {
    if (t <= acc.refAt) return;
    const f = this.factor(t - acc.refAt);
    acc.refAt = t;
    if (f === 1) return;
    acc.w *= f;
    acc.wSuccess *= f;
    acc.wCost *= f;
    acc.wQuality *= f;
    acc.sQuality *= f;
    acc.wAgreement *= f;
    acc.sAgreement *= f;
    acc.wFeedback *= f;
    acc.sFeedback *= f;
    for (const [b, c] of acc.latency) {
      const d = c * f;
      if (d < 1e-9) acc.latency.delete(b);
      else acc.latency.set(b, d);
    }
  }

  private add(acc: Accumulator, o: CallObservation): void {
    // In order: decay what is there to now and add at full weight; late (out-of-order) rows are
    // added already decayed instead.
    this.decayTo(acc, o.at);
    const w = this.factor(acc.refAt - o.at);
    acc.calls++;
    acc.firstAt = Math.min(acc.firstAt, o.at);
    acc.lastAt = Math.max(acc.lastAt, o.at);
    acc.w += w;
    acc.wCost += w * Math.max(0, o.costUsd);
    if (o.succeeded) {
      acc.successes++;
      acc.wSuccess += w;
    }
    if (o.latencyMs !== null && Number.isFinite(o.latencyMs)) {
      const b = bucketOf(o.latencyMs);
      acc.latency.set(b, (acc.latency.get(b) ?? 0) + w);
    }
    if (o.quality !== null && Number.isFinite(o.quality)) {
      acc.wAgreement += w;
      acc.sAgreement += w * clamp01(o.quality);
    }
    if (o.feedback !== null && Number.isFinite(o.feedback)) {
      acc.feedbackObservations++;
      acc.wFeedback += w;
      acc.sFeedback += w * clamp01(o.feedback);
    }
    const q = o.feedback !== null && Number.isFinite(o.feedback) ? o.feedback : o.quality !== null && Number.isFinite(o.quality) ? o.quality : null;
    if (q !== null) {
      acc.qualityObservations++;
      acc.wQuality += w;
      acc.sQuality += w * clamp01(q);
    }
  }

  private summarize(acc: Accumulator, now: number): ProviderStatsSummary {
    const f = this.factor(now - acc.refAt);
    const w = acc.w * f;
    const wSuccess = acc.wSuccess * f;
    const wQuality = acc.wQuality * f;
    const sQuality = acc.sQuality * f;
    const latency = percentiles(acc.latency);
    return {
      key: acc.key,
      selector: `${acc.key.provider}:${acc.key.model}`,
      calls: acc.calls,
      successes: acc.successes,
      weight: round(w),
      successRate: acc.w > 0 ? round(acc.wSuccess / acc.w) : null,
      latencyMs: latency,
      costPerRequestUsd: acc.w > 0 ? round(acc.wCost / acc.w, 10) : null,
      quality: acc.wQuality > 0 ? round(acc.sQuality / acc.wQuality) : null,
      qualityObservations: acc.qualityObservations,
      agreement: acc.wAgreement > 0 ? round(acc.sAgreement / acc.wAgreement) : null,
      feedback: acc.wFeedback > 0 ? round(acc.sFeedback / acc.wFeedback) : null,
      feedbackObservations: acc.feedbackObservations,
      posterior: {
        success: { alpha: round(1 + wSuccess), beta: round(1 + Math.max(0, w - wSuccess)) },
        quality: acc.qualityObservations > 0 ? { alpha: round(1 + sQuality), beta: round(1 + Math.max(0, wQuality - sQuality)) } : null,
      },
      firstObservedAt: new Date(acc.firstAt).toISOString(),
      lastObservedAt: new Date(acc.lastAt).toISOString(),
    };
  }

  /** Summaries of every key as of `now` (epoch ms), sorted by key for stable output. */
  summaries(now: number): ProviderStatsSummary[] {
    return [...this.table.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, acc]) => this.summarize(acc, now));
  }

  snapshot(now: number): RoutingStatsSnapshot {
    return { asOf: new Date(now).toISOString(), halfLifeMs: this.halfLifeMs, observations: this.count, entries: this.summaries(now) };
  }
}

/** p50/p95/p99 of a weighted histogram (null when empty). */
function percentiles(hist: ReadonlyMap<number, number>): { p50: number; p95: number; p99: number } | null {
  const buckets = [...hist.entries()].sort(([a], [b]) => a - b);
  const total = buckets.reduce((s, [, c]) => s + c, 0);
  if (total <= 0) return null;
  const at = (q: number): number => {
    const target = q * total;
    let run = 0;
    for (const [b, c] of buckets) {
      run += c;
      if (run >= target) return Math.round(bucketValue(b) * 10) / 10;
    }
    return Math.round(bucketValue(buckets[buckets.length - 1]![0]) * 10) / 10;
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

// ---------------------------------------------------------------------------------------------
// Lookup with fallback to coarser levels

export type StatsLevel = 'exact' | 'task' | 'global';

export interface StatsMatch {
  summary: ProviderStatsSummary;
  level: StatsLevel;
}

export type StatsLookup = (query: { taskType: string; complexity: Complexity; provider: string; model: string }) => StatsMatch | null;

/**
 * Index a snapshot for lookups: the exact key when it has at least `minCalls` calls, else the task
 * type over all complexities, else the model over all task types, else whatever exists.
 */
export function statsLookup(snapshot: RoutingStatsSnapshot | null, minCalls = 5): StatsLookup {
  const index = new Map<string, ProviderStatsSummary>();
  for (const e of snapshot?.entries ?? []) index.set(keyString(e.key), e);
  return ({ taskType, complexity, provider, model }) => {
    const levels: [StatsLevel, StatsKey][] = [
      ['exact', { taskType, complexity, provider, model }],
      ['task', { taskType, complexity: 'any', provider, model }],
      ['global', { taskType: ANY_TASK_TYPE, complexity: 'any', provider, model }],
    ];
    let coarsest: StatsMatch | null = null;
    for (const [level, key] of levels) {
      const summary = index.get(keyString(key));
      if (!summary) continue;
      if (summary.calls >= minCalls) return { summary, level };
      coarsest = { summary, level };
    }
    return coarsest;
  };
}

// ---------------------------------------------------------------------------------------------
// From the database

/** One provider call joined with its interaction, as stored (see src/memory/stats-queries.ts). */
export interface ProviderCallStatRow {
  taskType: string;
  complexity: Complexity;
  provider: string;
  model: string;
  status: 'succeeded' | 'failed';
  latencyMs: number | null;
  costUsd: number;
  /** When the interaction completed. */
  at: Date | string;
  /** Agreement of this call's answer with the chosen one, in [0, 1], when known. */
  quality: number | null;
  /** Explicit user feedback in [0, 1], when given. */
  feedback: number | null;
}

/** The read side loadProviderStats needs (a MemoryStore-like query object). */
export interface ProviderStatsSource {
  /** Provider calls completed at or after `since`, oldest first, at most `limit` (the newest ones). */
  providerCallRows(options: { since: Date | null; limit: number }): Promise<ProviderCallStatRow[]>;
}

export interface LoadProviderStatsOptions extends RoutingStatsOptions {
  /** Only rows newer than this many ms before `now` (default: 30 days; null: no window). */
  windowMs?: number | null;
  /** At most this many rows, the newest (default 50 000). */
  limit?: number;
  /** Epoch ms the window is measured back from; without it only `limit` bounds the rows. */
  now?: number;
}

export function observationFromRow(row: ProviderCallStatRow): CallObservation {
  return {
    taskType: row.taskType,
    complexity: row.complexity,
    provider: row.provider,
    model: row.model,
    at: new Date(row.at).getTime(),
    succeeded: row.status === 'succeeded',
    latencyMs: row.latencyMs,
    costUsd: row.costUsd,
    quality: row.status === 'succeeded' ? row.quality : null,
    feedback: row.feedback,
  };
}

/** Build running statistics from the database rows of the window. */
export async function loadProviderStats(source: ProviderStatsSource, options: LoadProviderStatsOptions = {}): Promise<RoutingStats> {
  const windowMs = options.windowMs === undefined ? 30 * 24 * 60 * 60 * 1000 : options.windowMs;
  const since = windowMs !== null && options.now !== undefined ? new Date(options.now - windowMs) : null;
  const rows = await source.providerCallRows({ since, limit: options.limit ?? 50_000 });
  const stats = new RoutingStats(options.halfLifeMs === undefined ? {} : { halfLifeMs: options.halfLifeMs });
  const observations = rows.map(observationFromRow).sort((a, b) => a.at - b.at);
  for (const o of observations) stats.observe(o);
  return stats;
}
