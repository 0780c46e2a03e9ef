/** The report's figures from rows: buckets, percentiles per provider, success rates, cost, agreement bins, Wilson intervals. */
import { describe, expect, it } from 'vitest';
import type { ReportData } from '../../src/report/queries';
import { bucketSizeMs, reportSeries, wilsonInterval } from '../../src/report/series';

const END = new Date('2026-11-30T12:00:00Z');
const H = 3_600_000;
const window = (hours: number) => ({ start: new Date(END.getTime() - hours * H), end: END });

function data(over: Partial<ReportData>): ReportData {
  return { window: window(2), calls: [], interactions: [], policyVersions: [], proposals: [], experiments: [], truncated: [], ...over };
}

describe('report series', () => {
  it('picks the smallest bucket giving at most 48 of them', () => {
    expect(bucketSizeMs(window(1))).toBe(5 * 60_000);
    expect(bucketSizeMs(window(2))).toBe(5 * 60_000);
    expect(bucketSizeMs(window(24))).toBe(30 * 60_000);
    expect(bucketSizeMs(window(48))).toBe(H);
    expect(bucketSizeMs(window(24 * 7))).toBe(6 * H);
  });

  it('latency percentiles per provider and bucket, success without cancelled calls, cost, agreement bins', () => {
    const t = (minutesBeforeEnd: number) => new Date(END.getTime() - minutesBeforeEnd * 60_000);
    const call = (provider: string, status: string, latencyMs: number | null, at: Date, costUsd = 0.01) => ({ provider, model: 'm', status, latencyMs, costUsd, at });
    const s = reportSeries(
      data({
        window: window(1),
        calls: [
          // First 5-minute bucket (55..60 min before the end): 100, 200, 300, 400 ms for a.
          ...[100, 200, 300, 400].map((ms) => call('a', 'succeeded', ms, t(58))),
          call('a', 'failed', null, t(57)),
          call('a', 'cancelled', 900, t(57)),
          // Last bucket: b only.
          call('b', 'succeeded', 50, t(1), 0.5),
        ],
        interactions: [
          { status: 'completed', consensusApplied: true, agreement: 0.95, costUsd: 0, processingTimeMs: 1, at: t(58) },
          { status: 'failed', consensusApplied: true, agreement: 0.05, costUsd: 0, processingTimeMs: 1, at: t(58) },
          { status: 'completed', consensusApplied: false, agreement: 0.5, costUsd: 0, processingTimeMs: 1, at: t(1) },
          { status: 'completed', consensusApplied: true, agreement: 1, costUsd: 0, processingTimeMs: 1, at: t(1) },
        ],
      }),
    );
    expect(s.buckets.starts).toHaveLength(12);
    const a = s.latency.find((l) => l.provider === 'a')!;
    expect(a.p50[0]).toBe(250);
    expect(a.p95[0]).toBeCloseTo(385, 9); // numpy linear: 300 + 0.85 * 100
    expect(a.p50.slice(1)).toEqual(Array(11).fill(null));
    expect(s.latency.find((l) => l.provider === 'b')!.p50[11]).toBe(50);

    const requests = s.success.find((x) => x.name === 'requests')!;
    expect(requests.rate[0]).toBe(0.5);
    expect(requests.rate[11]).toBe(1);
    // a: 4 succeeded, 1 failed, the cancelled one left out.
    expect(s.success.find((x) => x.name === 'a')).toMatchObject({ total: 5 });
    expect(s.success.find((x) => x.name === 'a')!.rate[0]).toBe(0.8);

    expect(s.cost).toEqual([
      { provider: 'a', calls: 6, costUsd: expect.closeTo(0.06, 12) as unknown },
      { provider: 'b', calls: 1, costUsd: 0.5 },
    ]);
    // Only consensus requests count; agreement 1.0 goes in the last bin.
    expect(s.agreementSamples).toBe(3);
    expect(s.agreement.map((b) => b.count)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  });

  it('an empty window gives no series (the page shows "no data")', () => {
    const s = reportSeries(data({}));
    expect(s).toMatchObject({ latency: [], success: [], cost: [], agreementSamples: 0, experiments: [] });
  });

  it('Wilson score intervals match the textbook values', () => {
    // Newcombe (1998), Table I / the usual references: 0/10 -> [0, 0.2775], 5/10 -> [0.2366, 0.7634], 81/263 -> [0.2553, 0.3662].
    const r = (x: { low: number; high: number }) => [Number(x.low.toFixed(4)), Number(x.high.toFixed(4))];
    expect(r(wilsonInterval(0, 10))).toEqual([0, 0.2775]);
    expect(r(wilsonInterval(5, 10))).toEqual([0.2366, 0.7634]);
    expect(r(wilsonInterval(81, 263))).toEqual([0.2553, 0.3662]);
    expect(() => wilsonInterval(1, 0)).toThrow(RangeError);
  });
});
