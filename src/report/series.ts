/**
 * The report's figures from its rows: time buckets of latency percentiles per provider and of
 * success rates, cost per provider, the agreement histogram, and experiment variants with 95%
 * Wilson intervals on their good-outcome rate. Pure (no clock, no I/O).
 */
import { normalQuantile, percentile } from '../improvement/statistics';
import type { ExperimentRow, ReportData, ReportWindow } from './queries';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BUCKET_SIZES = [5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 7 * 24 * HOUR];
const MAX_BUCKETS = 48;

/** The smallest bucket size that splits the window into at most 48 buckets. */
export function bucketSizeMs(window: ReportWindow): number {
  const span = window.end.getTime() - window.start.getTime();
  return BUCKET_SIZES.find((size) => span / size <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS);
}

export interface Buckets {
  sizeMs: number;
  /** Bucket start times (ms since the epoch). */
  starts: number[];
}

export function bucketsOf(window: ReportWindow): Buckets {
  const sizeMs = bucketSizeMs(window);
  const starts: number[] = [];
  for (let t = window.start.getTime(); t < window.end.getTime(); t += sizeMs) starts.push(t);
  return { sizeMs, starts };
}

function bucketIndex(b: Buckets, at: Date): number {
  return Math.min(b.starts.length - 1, Math.max(0, Math.floor((at.getTime() - b.starts[0]!) / b.sizeMs)));
}

/** One value per bucket; null where the bucket holds no data. */
export type BucketSeries = (number | null)[];

export interface LatencySeries {
  provider: string;
  p50: BucketSeries;
  p95: BucketSeries;
}

export interface SuccessSeries {
  name: string;
  rate: BucketSeries;
  total: number;
}

export interface ProviderCost {
  provider: string;
  costUsd: number;
  calls: number;
}

export interface AgreementBin {
  /** Lower edge, in [0, 1). */
  from: number;
  to: number;
  count: number;
}

export interface VariantInterval {
  name: string;
  control: boolean;
  samples: number;
  goodRate: number | null;
  /** 95% Wilson score interval of the good-outcome rate (null without samples). */
  low: number | null;
  high: number | null;
  probabilityBetter: number | null;
}

export interface ExperimentView {
  id: string;
  name: string;
  kind: string;
  taskType: string;
  status: string;
  action: string | null;
  winner: string | null;
  reason: string | null;
  analysedAt: string | null;
  variants: VariantInterval[];
}

export interface ReportSeries {
  buckets: Buckets;
  latency: LatencySeries[];
  success: SuccessSeries[];
  cost: ProviderCost[];
  agreement: AgreementBin[];
  agreementSamples: number;
  experiments: ExperimentView[];
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

function perBucket<T>(b: Buckets, rows: readonly T[], at: (row: T) => Date): T[][] {
  const out: T[][] = b.starts.map(() => []);
  for (const r of rows) out[bucketIndex(b, at(r))]!.push(r);
  return out;
}

function rateSeries<T>(b: Buckets, rows: readonly T[], at: (row: T) => Date, ok: (row: T) => boolean): BucketSeries {
  return perBucket(b, rows, at).map((bucket) => (bucket.length === 0 ? null : bucket.filter(ok).length / bucket.length));
}

/** 95% Wilson score interval for `successes` of `n`. */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): { low: number; high: number } {
  if (!(n > 0)) throw new RangeError(`n must be positive (got ${n})`);
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const p = successes / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

function experimentView(e: ExperimentRow): ExperimentView {
  const a = e.result?.analysis ?? null;
  const variants: VariantInterval[] = (a?.variants ?? []).map((v) => {
    const interval = v.samples > 0 && v.goodRate !== null ? wilsonInterval(Math.round(v.goodRate * v.samples), v.samples) : null;
    const comparison = a?.comparisons.find((c) => c.variant === v.name);
    return {
      name: v.name,
      control: v.name === a?.control,
      samples: v.samples,
      goodRate: v.goodRate,
      low: interval?.low ?? null,
      high: interval?.high ?? null,
      probabilityBetter: comparison?.probabilityBetter ?? null,
    };
  });
  return {
    id: e.id,
    name: e.name,
    kind: e.kind,
    taskType: e.taskType,
    status: e.status,
    action: a?.action ?? null,
    winner: a?.winner ?? null,
    reason: a?.reason ?? null,
    analysedAt: a?.at ?? null,
    variants,
  };
}

export function reportSeries(data: ReportData): ReportSeries {
  const b = bucketsOf(data.window);
  const byProvider = groupBy(data.calls, (c) => c.provider);

  const latency: LatencySeries[] = [];
  for (const [provider, calls] of byProvider) {
    const timed = calls.filter((c) => c.status === 'succeeded' && c.latencyMs !== null);
    if (timed.length === 0) continue;
    const buckets = perBucket(b, timed, (c) => c.at).map((bucket) => bucket.map((c) => c.latencyMs!));
    latency.push({ provider, p50: buckets.map((v) => percentile(v, 0.5)), p95: buckets.map((v) => percentile(v, 0.95)) });
  }

  const success: SuccessSeries[] = [];
  if (data.interactions.length > 0) {
    success.push({ name: 'requests', rate: rateSeries(b, data.interactions, (i) => i.at, (i) => i.status === 'completed'), total: data.interactions.length });
  }
  for (const [provider, calls] of byProvider) {
    // Cancelled calls (early stop, hedging losers) are neither successes nor failures.
    const decided = calls.filter((c) => c.status !== 'cancelled');
    if (decided.length === 0) continue;
    success.push({ name: provider, rate: rateSeries(b, decided, (c) => c.at, (c) => c.status === 'succeeded'), total: decided.length });
  }

  const cost = [...byProvider].map(([provider, calls]) => ({ provider, calls: calls.length, costUsd: calls.reduce((s, c) => s + c.costUsd, 0) }));

  const agreement: AgreementBin[] = Array.from({ length: 10 }, (_, i) => ({ from: i / 10, to: (i + 1) / 10, count: 0 }));
  let agreementSamples = 0;
  for (const i of data.interactions) {
    if (!i.consensusApplied || i.agreement === null) continue;
    agreement[Math.min(9, Math.max(0, Math.floor(i.agreement * 10)))]!.count += 1;
    agreementSamples += 1;
  }

  return { buckets: b, latency, success, cost, agreement, agreementSamples, experiments: data.experiments.map(experimentView) };
}
