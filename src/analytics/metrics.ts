/**
 * The analytics API's figures over the memory's tables (Interaction, ProviderCall, Feedback), on
 * SQLite and PostgreSQL through the one Prisma client: counts, sums and means are aggregate
 * queries, percentiles ordered queries (percentiles.ts), and the per-provider quality figures one
 * paged pass over the succeeded calls of consensus or rated requests. Nothing loads a table.
 *
 * The window is the interactions whose completedAt lies in [now - timeWindowHours, now]; a
 * provider call belongs to the window of its interaction.
 */
import type { Prisma } from '../generated/prisma-sqlite/client';
import type { DatabaseClient } from '../memory/client';
import { parseOptions, PerformanceMetricsOptionsSchema, AnalyticsWindowSchema, type AnalyticsWindowOptions, type PerformanceMetricsOptions } from './options';
import { percentilesFromDatabase } from './percentiles';

export interface AnalyticsWindow {
  hours: number;
  /** ISO-8601 bounds, both inclusive. */
  since: string;
  until: string;
  taskType: string | null;
}

export interface PerformanceMetrics {
  window: AnalyticsWindow;
  totalRequests: number;
  completed: number;
  failed: number;
  /** completed / totalRequests; null with no request. */
  successRate: number | null;
  /** Answered from the response cache (no provider called); counted in the requests above. */
  cacheHits: number;
  /** End-to-end latency of completed requests (processingTimeMs: workflow start to completion). */
  latencyMs: { count: number; mean: number; p50: number; p95: number } | null;
  /** Summed over every request of the window (failed ones too: their calls cost). */
  tokens: { in: number; out: number; total: number };
  costUsd: { total: number; /** total / totalRequests */ perRequest: number | null };
  consensus: {
    /** Requests where consensus ran (consensusApplied). */
    requests: number;
    /** Mean agreement and confidence over those with a value. */
    meanAgreement: number | null;
    meanConfidence: number | null;
    /** Share of consensus requests (with a recorded outcome) whose agreement met the threshold. */
    thresholdMetRate: number | null;
    lowConfidence: number;
  };
  /** Explicit feedback given on the window's requests: every rating counts once. */
  feedback: { count: number; meanScore: number | null };
  /** See BEST_PROVIDER_CRITERION; null when no provider:model has enough decided calls. */
  bestProvider: BestProvider | null;
  bestProviderCriterion: string;
}

export interface BestProvider {
  selector: string;
  provider: string;
  model: string;
  successRate: number;
  quality: number | null;
  costPerRequestUsd: number;
  latencyP50Ms: number | null;
  decidedCalls: number;
}

export interface ProviderQuality {
  /** Succeeded calls of consensus requests that recorded dissent: sided with the chosen answer or not. */
  agreedCalls: number;
  dissentedCalls: number;
  /** agreedCalls / (agreedCalls + dissentedCalls); null without such calls. */
  agreementRate: number | null;
  /** Succeeded, non-dissenting calls of rated requests; each contributes its request's mean feedback. */
  feedbackCalls: number;
  feedbackMean: number | null;
  /** feedbackMean when there is feedback, else agreementRate (explicit feedback takes precedence, as in routing). */
  score: number | null;
}

export interface ProviderComparisonRow {
  /** `provider:model`. */
  selector: string;
  provider: string;
  model: string;
  /** All calls, cancelled ones (early stop, lost hedges) included. */
  calls: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** succeeded / (succeeded + failed): a cancelled call says nothing about the provider. Null without such calls. */
  successRate: number | null;
  /** calls / all calls of the window. */
  trafficShare: number;
  /** Latency of succeeded calls. */
  latencyMs: { count: number; mean: number; p50: number; p95: number; p99: number } | null;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  /** costUsd / calls. */
  costPerRequestUsd: number;
  quality: ProviderQuality;
}

export interface ProviderComparison {
  window: AnalyticsWindow;
  /** Requests (interactions) of the window and their provider calls. */
  requests: number;
  totalCalls: number;
  /** Most calls first, then by selector. */
  providers: ProviderComparisonRow[];
}

export const DEFAULT_BEST_PROVIDER_MIN_CALLS = 5;

export function bestProviderCriterion(minCalls: number): string {
  return (
    `among provider:models with at least ${minCalls} decided (succeeded or failed) calls in the window: ` +
    'highest success rate, then highest quality (mean feedback, else agreement rate), then lowest cost per request, then lowest p50 latency'
  );
}

const QUALITY_PAGE = 1000;

function windowOf(options: { timeWindowHours: number; taskType?: string | undefined; now?: Date | undefined }): { window: AnalyticsWindow; where: Prisma.InteractionWhereInput } {
  const until = options.now ?? new Date();
  const since = new Date(until.getTime() - options.timeWindowHours * 3_600_000);
  return {
    window: { hours: options.timeWindowHours, since: since.toISOString(), until: until.toISOString(), taskType: options.taskType ?? null },
    where: { completedAt: { gte: since, lte: until }, ...(options.taskType !== undefined && { taskType: options.taskType }) },
  };
}

const ratio = (n: number, d: number): number | null => (d > 0 ? n / d : null);

export async function getPerformanceMetrics(db: DatabaseClient, input: PerformanceMetricsOptions): Promise<PerformanceMetrics> {
  const options = parseOptions(PerformanceMetricsOptionsSchema, input, 'getPerformanceMetrics');
  const { window, where } = windowOf(options);
  const completedWhere: Prisma.InteractionWhereInput = { ...where, status: 'completed' };
  const consensusWhere: Prisma.InteractionWhereInput = { ...where, consensusApplied: true };

  const [total, completed, failed, cacheHits, sums, latency, consensus, thresholdKnown, thresholdMet, lowConfidence, feedback] = await Promise.all([
    db.interaction.count({ where }),
    db.interaction.count({ where: completedWhere }),
    db.interaction.count({ where: { ...where, status: 'failed' } }),
    db.interaction.count({ where: { ...where, cacheHit: true } }),
    db.interaction.aggregate({ where, _sum: { tokensIn: true, tokensOut: true, costUsd: true } }),
    db.interaction.aggregate({ where: completedWhere, _avg: { processingTimeMs: true }, _count: { _all: true } }),
    db.interaction.aggregate({ where: consensusWhere, _avg: { agreement: true, confidence: true }, _count: { _all: true } }),
    db.interaction.count({ where: { ...consensusWhere, thresholdMet: { not: null } } }),
    db.interaction.count({ where: { ...consensusWhere, thresholdMet: true } }),
    db.interaction.count({ where: { ...where, lowConfidence: true } }),
    db.feedback.aggregate({ where: { interaction: where }, _avg: { score: true }, _count: { _all: true } }),
  ]);

  const latencyCount = latency._count._all;
  const percentiles = await percentilesFromDatabase(latencyCount, { p50: 0.5, p95: 0.95 }, async (skip, take) =>
    (await db.interaction.findMany({ where: completedWhere, orderBy: [{ processingTimeMs: 'asc' }, { id: 'asc' }], skip, take, select: { processingTimeMs: true } })).map((r) => r.processingTimeMs),
  );

  const minCalls = options.bestProviderMinCalls ?? DEFAULT_BEST_PROVIDER_MIN_CALLS;
  const comparison = await getProviderComparison(db, { timeWindowHours: options.timeWindowHours, now: new Date(window.until), ...(options.taskType !== undefined && { taskType: options.taskType }) });
  const tokensIn = sums._sum.tokensIn ?? 0;
  const tokensOut = sums._sum.tokensOut ?? 0;
  const cost = sums._sum.costUsd ?? 0;
  return {
    window,
    totalRequests: total,
    completed,
    failed,
    successRate: ratio(completed, total),
    cacheHits,
    latencyMs: percentiles && latency._avg.processingTimeMs !== null ? { count: latencyCount, mean: latency._avg.processingTimeMs, ...percentiles } : null,
    tokens: { in: tokensIn, out: tokensOut, total: tokensIn + tokensOut },
    costUsd: { total: cost, perRequest: ratio(cost, total) },
    consensus: {
      requests: consensus._count._all,
      meanAgreement: consensus._avg.agreement,
      meanConfidence: consensus._avg.confidence,
      thresholdMetRate: ratio(thresholdMet, thresholdKnown),
      lowConfidence,
    },
    feedback: { count: feedback._count._all, meanScore: feedback._avg.score },
    bestProvider: pickBestProvider(comparison.providers, minCalls),
    bestProviderCriterion: bestProviderCriterion(minCalls),
  };
}

/** The best row by bestProviderCriterion(minCalls), or null when none has enough decided calls. */
export function pickBestProvider(rows: readonly ProviderComparisonRow[], minCalls: number): BestProvider | null {
  const eligible = rows.filter((r) => r.successRate !== null && r.succeeded + r.failed >= minCalls);
  const desc = (a: number | null, b: number | null) => (b ?? -Infinity) - (a ?? -Infinity);
  const asc = (a: number | null, b: number | null) => (a ?? Infinity) - (b ?? Infinity);
  eligible.sort(
    (a, b) =>
      desc(a.successRate, b.successRate) ||
      desc(a.quality.score, b.quality.score) ||
      asc(a.costPerRequestUsd, b.costPerRequestUsd) ||
      asc(a.latencyMs?.p50 ?? null, b.latencyMs?.p50 ?? null) ||
      (a.selector < b.selector ? -1 : a.selector > b.selector ? 1 : 0),
  );
  const best = eligible[0];
  if (!best || best.successRate === null) return null;
  return {
    selector: best.selector,
    provider: best.provider,
    model: best.model,
    successRate: best.successRate,
    quality: best.quality.score,
    costPerRequestUsd: best.costPerRequestUsd,
    latencyP50Ms: best.latencyMs?.p50 ?? null,
    decidedCalls: best.succeeded + best.failed,
  };
}

interface Group {
  provider: string;
  model: string;
  calls: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  latencyCount: number;
  latencyMean: number | null;
  agreed: number;
  dissented: number;
  feedbackCalls: number;
  feedbackSum: number;
}

export async function getProviderComparison(db: DatabaseClient, input: AnalyticsWindowOptions): Promise<ProviderComparison> {
  const options = parseOptions(AnalyticsWindowSchema, input, 'getProviderComparison');
  const { window, where } = windowOf(options);
  const [requests, rows] = await Promise.all([
    db.interaction.count({ where }),
    db.providerCall.groupBy({
      by: ['provider', 'model', 'status'],
      where: { interaction: where },
      _count: { _all: true, latencyMs: true },
      _sum: { costUsd: true, tokensIn: true, tokensOut: true },
      _avg: { latencyMs: true },
    }),
  ]);

  const groups = new Map<string, Group>();
  const groupOf = (provider: string, model: string): Group => {
    const selector = `${provider}:${model}`;
    let g = groups.get(selector);
    if (!g) {
      g = { provider, model, calls: 0, succeeded: 0, failed: 0, cancelled: 0, tokensIn: 0, tokensOut: 0, costUsd: 0, latencyCount: 0, latencyMean: null, agreed: 0, dissented: 0, feedbackCalls: 0, feedbackSum: 0 };
      groups.set(selector, g);
    }
    return g;
  };
  for (const row of rows) {
    const g = groupOf(row.provider, row.model);
    const n = row._count._all;
    g.calls += n;
    if (row.status === 'succeeded') {
      g.succeeded += n;
      g.latencyCount = row._count.latencyMs;
      g.latencyMean = row._avg.latencyMs;
    } else if (row.status === 'cancelled') g.cancelled += n;
    else g.failed += n;
    g.tokensIn += row._sum.tokensIn ?? 0;
    g.tokensOut += row._sum.tokensOut ?? 0;
    g.costUsd += row._sum.costUsd ?? 0;
  }

  // Quality: one keyset-paged pass over the succeeded calls of consensus or rated requests.
  const qualityWhere: Prisma.ProviderCallWhereInput = { status: 'succeeded', interaction: { ...where, OR: [{ consensusApplied: true }, { feedback: { some: {} } }] } };
  for (let after: string | null = null; ; ) {
    const page: { id: string; provider: string; model: string; interaction: { consensusApplied: boolean; dissenting: unknown; feedback: { score: number }[] } }[] = await db.providerCall.findMany({
      where: after === null ? qualityWhere : { AND: [qualityWhere, { id: { gt: after } }] },
      orderBy: { id: 'asc' },
      take: QUALITY_PAGE,
      select: { id: true, provider: true, model: true, interaction: { select: { consensusApplied: true, dissenting: true, feedback: { select: { score: true } } } } },
    });
    for (const call of page) {
      const g = groupOf(call.provider, call.model);
      const dissenting = Array.isArray(call.interaction.dissenting) ? (call.interaction.dissenting as unknown[]) : null;
      const dissented = dissenting !== null && dissenting.includes(call.provider);
      if (call.interaction.consensusApplied && dissenting !== null) {
        if (dissented) g.dissented++;
        else g.agreed++;
      }
      // Feedback rates the chosen answer: it says nothing about a provider that dissented from it.
      if (call.interaction.feedback.length > 0 && !dissented) {
        g.feedbackCalls++;
        g.feedbackSum += call.interaction.feedback.reduce((s, f) => s + f.score, 0) / call.interaction.feedback.length;
      }
    }
    if (page.length < QUALITY_PAGE) break;
    after = page[page.length - 1]!.id;
  }

  const totalCalls = [...groups.values()].reduce((s, g) => s + g.calls, 0);
  const providers: ProviderComparisonRow[] = [];
  for (const [selector, g] of groups) {
    const latencyWhere: Prisma.ProviderCallWhereInput = { interaction: where, provider: g.provider, model: g.model, status: 'succeeded', latencyMs: { not: null } };
    const percentiles = await percentilesFromDatabase(g.latencyCount, { p50: 0.5, p95: 0.95, p99: 0.99 }, async (skip, take) =>
      (await db.providerCall.findMany({ where: latencyWhere, orderBy: [{ latencyMs: 'asc' }, { id: 'asc' }], skip, take, select: { latencyMs: true } })).map((r) => r.latencyMs as number),
    );
    const agreementRate = ratio(g.agreed, g.agreed + g.dissented);
    const feedbackMean = ratio(g.feedbackSum, g.feedbackCalls);
    providers.push({
      selector,
      provider: g.provider,
      model: g.model,
      calls: g.calls,
      succeeded: g.succeeded,
      failed: g.failed,
      cancelled: g.cancelled,
      successRate: ratio(g.succeeded, g.succeeded + g.failed),
      trafficShare: totalCalls > 0 ? g.calls / totalCalls : 0,
      latencyMs: percentiles && g.latencyMean !== null ? { count: g.latencyCount, mean: g.latencyMean, ...percentiles } : null,
      tokensIn: g.tokensIn,
      tokensOut: g.tokensOut,
      costUsd: g.costUsd,
      costPerRequestUsd: g.calls > 0 ? g.costUsd / g.calls : 0,
      quality: { agreedCalls: g.agreed, dissentedCalls: g.dissented, agreementRate, feedbackCalls: g.feedbackCalls, feedbackMean, score: feedbackMean ?? agreementRate },
    });
  }
  providers.sort((a, b) => b.calls - a.calls || (a.selector < b.selector ? -1 : a.selector > b.selector ? 1 : 0));
  return { window, requests, totalCalls, providers };
}
