/**
 * The analytics figures computed independently, in plain TypeScript, from the rows read back from
 * the database (one findMany of everything: fine for test-sized data), for comparison with what
 * src/analytics computes with aggregate and ordered queries.
 */
import { expect } from 'vitest';
import type { DatabaseClient } from '../../src/memory/client';

const HOUR = 3_600_000;

export type Stored = Awaited<ReturnType<typeof readAll>>[number];

export async function readAll(db: DatabaseClient) {
  return db.interaction.findMany({ include: { providerCalls: true, feedback: true } });
}

/** Type-7 percentile, written here again (sort, interpolate) rather than imported. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}
export const mean = (v: number[]) => (v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length);
export const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

export function inWindow(rows: Stored[], now: Date, hours: number, taskType?: string): Stored[] {
  const since = now.getTime() - hours * HOUR;
  return rows.filter((r) => r.completedAt.getTime() >= since && r.completedAt.getTime() <= now.getTime() && (taskType === undefined || r.taskType === taskType));
}

export function expectedOverview(rows: Stored[]) {
  const completed = rows.filter((r) => r.status === 'completed');
  const consensus = rows.filter((r) => r.consensusApplied);
  const withThreshold = consensus.filter((r) => r.thresholdMet !== null);
  const ratings = rows.flatMap((r) => r.feedback.map((f) => f.score));
  const latencies = completed.map((r) => r.processingTimeMs);
  return {
    totalRequests: rows.length,
    completed: completed.length,
    failed: rows.filter((r) => r.status === 'failed').length,
    successRate: rows.length ? completed.length / rows.length : null,
    cacheHits: rows.filter((r) => r.cacheHit).length,
    latency: latencies.length ? { count: latencies.length, mean: mean(latencies), p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) } : null,
    tokensIn: sum(rows.map((r) => r.tokensIn)),
    tokensOut: sum(rows.map((r) => r.tokensOut)),
    cost: sum(rows.map((r) => r.costUsd)),
    consensusRequests: consensus.length,
    meanAgreement: mean(consensus.flatMap((r) => (r.agreement === null ? [] : [r.agreement]))),
    meanConfidence: mean(consensus.flatMap((r) => (r.confidence === null ? [] : [r.confidence]))),
    thresholdMetRate: withThreshold.length ? withThreshold.filter((r) => r.thresholdMet).length / withThreshold.length : null,
    lowConfidence: rows.filter((r) => r.lowConfidence).length,
    feedbackCount: ratings.length,
    feedbackMean: mean(ratings),
  };
}

export function expectedProviders(rows: Stored[]) {
  const calls = rows.flatMap((r) => r.providerCalls.map((c) => ({ ...c, interaction: r })));
  const selectors = [...new Set(calls.map((c) => `${c.provider}:${c.model}`))];
  return {
    totalCalls: calls.length,
    bySelector: new Map(
      selectors.map((selector) => {
        const mine = calls.filter((c) => `${c.provider}:${c.model}` === selector);
        const ok = mine.filter((c) => c.status === 'succeeded');
        const failed = mine.filter((c) => c.status === 'failed').length;
        const latencies = ok.flatMap((c) => (c.latencyMs === null ? [] : [c.latencyMs]));
        const voted = ok.filter((c) => c.interaction.consensusApplied && Array.isArray(c.interaction.dissenting));
        const dissented = voted.filter((c) => (c.interaction.dissenting as string[]).includes(c.provider)).length;
        const rated = ok.filter((c) => c.interaction.feedback.length > 0 && !(Array.isArray(c.interaction.dissenting) && (c.interaction.dissenting as string[]).includes(c.provider)));
        const feedbackMean = mean(rated.map((c) => mean(c.interaction.feedback.map((f) => f.score))!));
        const agreementRate = voted.length ? (voted.length - dissented) / voted.length : null;
        const cost = sum(mine.map((c) => c.costUsd));
        return [
          selector,
          {
            calls: mine.length,
            succeeded: ok.length,
            failed,
            cancelled: mine.filter((c) => c.status === 'cancelled').length,
            successRate: ok.length + failed ? ok.length / (ok.length + failed) : null,
            trafficShare: mine.length / calls.length,
            latency: latencies.length ? { count: latencies.length, mean: mean(latencies), p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) } : null,
            tokensIn: sum(mine.map((c) => c.tokensIn)),
            tokensOut: sum(mine.map((c) => c.tokensOut)),
            cost,
            costPerRequest: cost / mine.length,
            agreedCalls: voted.length - dissented,
            dissentedCalls: dissented,
            agreementRate,
            feedbackCalls: rated.length,
            feedbackMean,
            score: feedbackMean ?? agreementRate,
          },
        ] as const;
      }),
    ),
  };
}

export const close = (a: number | null | undefined, b: number | null | undefined) => {
  if (a === null || a === undefined || b === null || b === undefined) expect(a ?? null).toBe(b ?? null);
  else expect(a).toBeCloseTo(b, 9);
};

