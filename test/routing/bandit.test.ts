import { describe, expect, it } from 'vitest';
import { decideRoute, orderByDecision, sampleBeta, seededRandom, type DecideRouteInput } from '../../src/routing/bandit';
import type { ExplorationMethod, Objective } from '../../src/routing/policy';
import { RoutingStats, type CallObservation } from '../../src/routing/stats';

const STEP = 60_000; // one request a minute
const T0 = Date.parse('2026-01-01T00:00:00Z');
const CANDIDATES = [
  { provider: 'a', model: 'm' },
  { provider: 'b', model: 'm' },
  { provider: 'c', model: 'm' },
];

function policy(overrides: Partial<DecideRouteInput['policy']> = {}): DecideRouteInput['policy'] {
  return { version: 4, weights: {}, demoted: {}, explorationRate: 0.05, explorationMethod: 'thompson', objective: { kind: 'quality_first' }, ...overrides };
}

function obs(provider: string, at: number, o: Partial<CallObservation> = {}): CallObservation {
  return { taskType: 'qa', complexity: 'simple', provider, model: 'm', at, succeeded: true, latencyMs: 100, costUsd: 0.001, quality: null, feedback: null, ...o };
}

/**
 * A simulated stream: every round the bandit ranks a, b, c and the first is called. Quality is
 * agreement with the chosen answer (Bernoulli). a: 0.75 throughout; b: 0.55, then 0.90 from
 * round `change`; c: 0.40. Success 97% for all.
 */
function simulate(method: ExplorationMethod, seed: number, options: { halfLifeRounds: number | null; rounds?: number; change?: number }) {
  const rounds = options.rounds ?? 1000;
  const change = options.change ?? 500;
  const stats = new RoutingStats({ halfLifeMs: options.halfLifeRounds === null ? null : options.halfLifeRounds * STEP });
  const random = seededRandom(seed);
  const world = seededRandom(seed * 7919 + 1);
  const p = policy({ explorationMethod: method });
  const picks: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const now = T0 + r * STEP;
    const quality: Record<string, number> = { a: 0.75, b: r < change ? 0.55 : 0.9, c: 0.4 };
    const decision = decideRoute({ policy: p, taskType: 'qa', complexity: 'simple', candidates: CANDIDATES, stats: stats.snapshot(now), random });
    const chosen = decision.chosen!.split(':')[0]!;
    const ok = world() < 0.97;
    stats.observe(obs(chosen, now, { succeeded: ok, quality: ok ? (world() < quality[chosen]! ? 1 : 0) : null }));
    picks.push(chosen);
  }
  const share = (from: number, to: number, who: string) => picks.slice(from, to).filter((x) => x === who).length / (to - from);
  /** Rounds after the change until b holds 80% of a 50-round window; null if never. */
  let noticedAfter: number | null = null;
  for (let t = change + 50; t <= rounds; t++) {
    if (share(t - 50, t, 'b') >= 0.8) {
      noticedAfter = t - change;
      break;
    }
  }
  return { before: share(change - 200, change, 'a'), noticedAfter, end: share(rounds - 200, rounds, 'b') };
}

const SEEDS = [1, 2, 3, 4, 5, 6];

describe('bandit convergence when a provider improves mid-way', () => {
  it('Thompson sampling (half-life 100 requests) prefers the best provider, then notices the improved one within 300 requests', () => {
    for (const seed of SEEDS) {
      const r = simulate('thompson', seed, { halfLifeRounds: 100 });
      expect(r.before, `seed ${seed}: share of a before the change`).toBeGreaterThanOrEqual(0.65);
      expect(r.noticedAfter, `seed ${seed}: rounds to notice b`).not.toBeNull();
      expect(r.noticedAfter!, `seed ${seed}: rounds to notice b`).toBeLessThanOrEqual(300);
      expect(r.end, `seed ${seed}: share of b at the end`).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('UCB (half-life 100 requests) notices the improved one within 250 requests', () => {
    for (const seed of SEEDS) {
      const r = simulate('ucb', seed, { halfLifeRounds: 100 });
      expect(r.before, `seed ${seed}`).toBeGreaterThanOrEqual(0.6);
      expect(r.noticedAfter, `seed ${seed}`).not.toBeNull();
      expect(r.noticedAfter!, `seed ${seed}`).toBeLessThanOrEqual(250);
      expect(r.end, `seed ${seed}`).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('the decay is what makes it notice: without it, old evidence keeps Thompson on the old favourite far longer', () => {
    const late = (h: number | null) => SEEDS.map((seed) => simulate('thompson', seed, { halfLifeRounds: h }).noticedAfter ?? 500);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(late(100))).toBeLessThan(mean(late(null)) / 2);
  });
});

describe('decideRoute', () => {
  function statsWith(entries: Record<string, { n: number; success?: number; quality?: number | null; cost?: number; latency?: number }>) {
    const stats = new RoutingStats({ halfLifeMs: null });
    for (const [provider, e] of Object.entries(entries)) {
      for (let i = 0; i < e.n; i++) {
        const ok = i < Math.round(e.n * (e.success ?? 1));
        const q = e.quality === undefined || e.quality === null ? null : i < Math.round(e.n * e.quality) ? 1 : 0;
        stats.observe(obs(provider, T0, { succeeded: ok, quality: ok ? q : null, costUsd: e.cost ?? 0.001, latencyMs: e.latency ?? 100 }));
      }
    }
    return stats.snapshot(T0);
  }

  it('is deterministic for a seed, and records candidates, their statistics, scores, the choice and the policy version', () => {
    const stats = statsWith({ a: { n: 50, quality: 0.8 }, b: { n: 50, quality: 0.5 } });
    const input = (seed: string): DecideRouteInput => ({ policy: policy(), taskType: 'qa', complexity: 'simple', candidates: CANDIDATES, stats, random: seededRandom(seed) });
    const d = decideRoute(input('request-1'));
    expect(decideRoute(input('request-1'))).toEqual(d);
    expect(d).toMatchObject({ policyVersion: 4, taskType: 'qa', complexity: 'simple', method: 'thompson', explorationRate: 0.05, objective: { kind: 'quality_first' } });
    expect(d.candidates.map((c) => c.selector)).toEqual(['a:m', 'b:m', 'c:m']);
    expect(d.candidates[0]!.stats).toMatchObject({ level: 'exact', calls: 50, successRate: 1, quality: 0.8 });
    expect(d.candidates[2]!.stats).toBeNull();
    expect(d.ranking).toHaveLength(3);
    expect(d.chosen).toBe(d.ranking[0]);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('the exploration rate is honoured and visible: the share of explored decisions matches it', () => {
    const stats = statsWith({ a: { n: 200, quality: 0.9 }, b: { n: 200, quality: 0.2 }, c: { n: 200, quality: 0.1 } });
    for (const rate of [0, 0.2]) {
      const random = seededRandom(`rate-${rate}`);
      const decisions = Array.from({ length: 2000 }, () => decideRoute({ policy: policy({ explorationRate: rate }), taskType: 'qa', complexity: 'simple', candidates: CANDIDATES, stats, random }));
      const explored = decisions.filter((d) => d.explored).length / decisions.length;
      expect(explored).toBeGreaterThan(rate - 0.03);
      expect(explored).toBeLessThanOrEqual(rate + 0.03);
      // Without the draw, a is first; an exploring decision puts a random one first.
      expect(decisions.filter((d) => !d.explored).every((d) => d.chosen === 'a:m')).toBe(true);
    }
  });

  it('demoted and zero-weight candidates go last; weights scale scores', () => {
    const stats = statsWith({ a: { n: 100, quality: 0.9 }, b: { n: 100, quality: 0.6 }, c: { n: 100, quality: 0.5 } });
    const decide = (p: DecideRouteInput['policy']) => decideRoute({ policy: p, taskType: 'qa', complexity: 'simple', candidates: CANDIDATES, stats, random: seededRandom(7) });
    const demoted = decide(policy({ explorationRate: 0, demoted: { a: { at: 't', source: 's', reason: 'r' } } }));
    expect(demoted.ranking.at(-1)).toBe('a:m');
    expect(demoted.candidates[0]).toMatchObject({ demoted: true, eligible: false });
    expect(decide(policy({ explorationRate: 0, weights: { 'a:m': 0 } })).ranking.at(-1)).toBe('a:m');
    expect(decide(policy({ explorationRate: 0, weights: { c: 3 } })).chosen).toBe('c:m');
    // Exploration never picks an ineligible candidate.
    const always = decide(policy({ explorationRate: 1, demoted: { a: { at: 't', source: 's', reason: 'r' } } }));
    expect(always.explored).toBe(true);
    expect(always.chosen).not.toBe('a:m');
  });

  it('quality first within a cost budget: the best candidate over budget goes after those within', () => {
    const stats = statsWith({ a: { n: 100, quality: 0.95, cost: 0.02 }, b: { n: 100, quality: 0.8, cost: 0.002 }, c: { n: 100, quality: 0.6, cost: 0.001 } });
    const objective: Objective = { kind: 'quality_first', maxCostUsd: 0.005 };
    const d = decideRoute({ policy: policy({ explorationRate: 0, objective }), taskType: 'qa', complexity: 'simple', candidates: CANDIDATES, stats, random: seededRandom(1) });
    expect(d.ranking).toEqual(['b:m', 'c:m', 'a:m']);
    expect(d.candidates.map((c) => c.withinBudget)).toEqual([false, true, true]);
    const latency = decideRoute({
      policy: policy({ explorationRate: 0, objective: { kind: 'quality_first', maxLatencyMs: 150 } }),
      taskType: 'qa',
      complexity: 'simple',
      candidates: CANDIDATES,
      stats: statsWith({ a: { n: 100, quality: 0.95, latency: 900 }, b: { n: 100, quality: 0.7, latency: 100 } }),
      random: seededRandom(1),
    });
    expect(latency.ranking.slice(0, 2)).toEqual(['b:m', 'c:m']);
  });

  it('a weighted objective trades quality for cost', () => {
    const stats = statsWith({ a: { n: 200, quality: 0.85, cost: 0.03 }, b: { n: 200, quality: 0.8, cost: 0.001 } });
    const candidates = CANDIDATES.slice(0, 2);
    const decide = (objective: Objective) => decideRoute({ policy: policy({ explorationRate: 0, explorationMethod: 'ucb', objective }), taskType: 'qa', complexity: 'simple', candidates, stats, random: seededRandom(1) }).chosen;
    expect(decide({ kind: 'weighted', quality: 1, success: 0, cost: 0, latency: 0 })).toBe('a:m');
    expect(decide({ kind: 'weighted', quality: 1, success: 1, cost: 1, latency: 0 })).toBe('b:m');
  });

  it('UCB tries a candidate with no observations first', () => {
    const stats = statsWith({ a: { n: 100, quality: 0.99 }, b: { n: 100, quality: 0.9 } });
    const d = decideRoute({ policy: policy({ explorationRate: 0, explorationMethod: 'ucb' }), taskType: 'qa', complexity: 'simple', candidates: CANDIDATES, stats, random: seededRandom(1) });
    expect(d.chosen).toBe('c:m');
  });

  it('orderByDecision puts route targets in the ranked order, unknown ones last', () => {
    const targets = [{ provider: 'a', model: 'm', timeoutMs: 1 }, { provider: 'x', model: 'y', timeoutMs: 2 }, { provider: 'b', model: 'm', timeoutMs: 3 }];
    expect(orderByDecision(targets, { ranking: ['b:m', 'a:m'] }).map((t) => t.timeoutMs)).toEqual([3, 1, 2]);
  });

  it('Beta sampling matches the distribution mean', () => {
    const random = seededRandom(42);
    for (const params of [{ alpha: 2, beta: 8 }, { alpha: 0.5, beta: 0.5 }, { alpha: 30, beta: 10 }]) {
      const n = 4000;
      let sum = 0;
      for (let i = 0; i < n; i++) sum += sampleBeta(params, random);
      expect(sum / n).toBeCloseTo(params.alpha / (params.alpha + params.beta), 1);
    }
  });
});
