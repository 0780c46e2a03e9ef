/**
 * Performance-based ranking of a route's candidates (provider/model pairs) by a configurable
 * objective, with exploration so that a provider that got better is noticed.
 *
 * - Thompson sampling: each candidate's success and quality are drawn from their Beta posteriors
 *   (time-decayed counts, see stats.ts), and the draws are scored. Uncertain candidates sometimes
 *   draw high and get tried; the decay widens the posterior of a candidate not tried for a while.
 * - UCB: the score of the posterior means plus `c * sqrt(ln N / n)` (N, n: decayed counts of all
 *   candidates and of this one); never-tried candidates come first.
 * - On top of either, with probability `explorationRate` (configurable, recorded in every
 *   decision) a uniformly random eligible candidate goes first.
 *
 * Deterministic given its random source, which is a parameter: `seededRandom(requestId)` gives a
 * decision that replays identically. No clock, no Node imports: safe inside workflow code.
 */
import type { Complexity } from '../types';
import { demotionOf, weightOf, type ExplorationMethod, type Objective, type RoutingPolicy } from './policy';
import { statsLookup, type BetaParams, type RoutingStatsSnapshot, type StatsLevel, type StatsLookup } from './stats';

/** Uniform in [0, 1). */
export type RandomSource = () => number;

/** 32-bit FNV-1a of a string. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32, seeded by a number or by the hash of a string (a request id, say). */
export function seededRandom(seed: number | string): RandomSource {
  let a = (typeof seed === 'string' ? hash32(seed) : seed) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(random: RandomSource): number {
  return Math.min(1 - 1e-12, Math.max(1e-12, random()));
}

function normal(random: RandomSource): number {
  return Math.sqrt(-2 * Math.log(uniform(random))) * Math.cos(2 * Math.PI * uniform(random));
}

/** Gamma(shape, 1) by Marsaglia and Tsang. */
function sampleGamma(shape: number, random: RandomSource): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(uniform(random), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniform(random);
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta({ alpha, beta }: BetaParams, random: RandomSource): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  return x + y > 0 ? x / (x + y) : 0.5;
}

function betaMean({ alpha, beta }: BetaParams): number {
  return alpha / (alpha + beta);
}

// ---------------------------------------------------------------------------------------------

export interface BanditCandidate {
  provider: string;
  model: string;
}

export interface CandidateEvaluation {
  selector: string;
  provider: string;
  model: string;
  weight: number;
  demoted: boolean;
  /** False when demoted or weighted 0: ranked after every eligible candidate. */
  eligible: boolean;
  /** The statistics used, and at which level (exact key, task type, model); null when none. */
  stats: {
    level: StatsLevel;
    calls: number;
    successRate: number | null;
    quality: number | null;
    costPerRequestUsd: number | null;
    latencyP95Ms: number | null;
  } | null;
  /**
   * What the score was computed from: sampled success and quality (Thompson), or their posterior
   * means and the optimism bonus added to the score (UCB; 0 for Thompson).
   */
  estimate: { success: number; quality: number | null; bonus: number };
  withinBudget: boolean;
  score: number;
}

/** Why the route came out in this order: goes into the workflow result and the database. */
export interface RoutingDecision {
  policyVersion: number;
  taskType: string;
  complexity: Complexity;
  method: ExplorationMethod;
  objective: Objective;
  explorationRate: number;
  /** True when the first place went to a random eligible candidate (the exploration draw). */
  explored: boolean;
  candidates: CandidateEvaluation[];
  /** Selectors, best first. */
  ranking: string[];
  chosen: string | null;
}

export interface DecideRouteInput {
  policy: Pick<RoutingPolicy, 'version' | 'weights' | 'demoted' | 'explorationRate' | 'explorationMethod' | 'objective'>;
  taskType: string;
  complexity: Complexity;
  /** In route order; ties keep this order. */
  candidates: readonly BanditCandidate[];
  /** A snapshot (indexed here) or a lookup built once with statsLookup(). */
  stats: RoutingStatsSnapshot | StatsLookup | null;
  random: RandomSource;
  /** UCB exploration constant (default 0.4, for rewards in [0, 1] and decayed counts). */
  ucbC?: number;
  /** Calls an exact-key entry needs before it is preferred over coarser levels (default 5). */
  minCalls?: number;
}

const UNIFORM: BetaParams = { alpha: 1, beta: 1 };
export const DEFAULT_UCB_C = 0.4;
/** Added to the score of a candidate with no observations at all, so UCB tries it first. */
const UNTRIED_BONUS = 1000;

export function decideRoute(input: DecideRouteInput): RoutingDecision {
  const { policy, taskType, complexity, random } = input;
  const lookup = typeof input.stats === 'function' ? input.stats : statsLookup(input.stats, input.minCalls ?? 5);
  const method = policy.explorationMethod;
  const c = input.ucbC ?? DEFAULT_UCB_C;

  const matched = input.candidates.map((cand) => ({ cand, match: lookup({ taskType, complexity, provider: cand.provider, model: cand.model }) }));
  // Quality counts only when some candidate has quality data; otherwise it would be noise for all.
  const useQuality = matched.some(({ match }) => (match?.summary.qualityObservations ?? 0) > 0);
  const totalWeight = matched.reduce((s, { match }) => s + (match?.summary.weight ?? 0), 0);

  const exploreDraw = random();
  const estimates = matched.map(({ match }) => {
    const post = match?.summary.posterior;
    const successPost = post?.success ?? UNIFORM;
    const qualityPost = post?.quality ?? UNIFORM;
    if (method === 'thompson') {
      return { success: sampleBeta(successPost, random), quality: useQuality ? sampleBeta(qualityPost, random) : null, bonus: 0 };
    }
    // UCB: posterior means plus one optimism bonus on the score; untried candidates go first.
    const n = match?.summary.weight ?? 0;
    const bonus = n > 1e-9 ? c * Math.sqrt(Math.log(totalWeight + 1) / n) : UNTRIED_BONUS;
    return { success: betaMean(successPost), quality: useQuality ? betaMean(qualityPost) : null, bonus };
  });

  const objective = policy.objective;
  const costs = matched.map(({ match }) => match?.summary.costPerRequestUsd ?? null);
  const latencies = matched.map(({ match }) => match?.summary.latencyMs?.p95 ?? null);
  const maxCost = Math.max(0, ...costs.map((x) => x ?? 0));
  const maxLatency = Math.max(0, ...latencies.map((x) => x ?? 0));

  const evaluations: CandidateEvaluation[] = matched.map(({ cand, match }, i) => {
    const estimate = estimates[i]!;
    const weight = weightOf(policy, cand.provider, cand.model);
    const demoted = demotionOf(policy, cand.provider, cand.model) !== null;
    const cost = costs[i] ?? null;
    const latency = latencies[i] ?? null;
    const quality = estimate.quality ?? 1;
    let score: number;
    let withinBudget = true;
    if (objective.kind === 'quality_first') {
      // Unknown cost or latency counts as within budget: the way to learn it is to try.
      withinBudget = (objective.maxCostUsd === undefined || cost === null || cost <= objective.maxCostUsd) && (objective.maxLatencyMs === undefined || latency === null || latency <= objective.maxLatencyMs);
      score = (estimate.success * quality + estimate.bonus) * weight;
    } else {
      // Unknown cost/latency scores as cheapest/fastest (optimism under uncertainty).
      const costNorm = cost === null || maxCost === 0 ? 0 : cost / maxCost;
      const latencyNorm = latency === null || maxLatency === 0 ? 0 : latency / maxLatency;
      const total = objective.quality + objective.success + objective.cost + objective.latency;
      score = ((objective.quality * (estimate.quality ?? estimate.success) + objective.success * estimate.success + objective.cost * (1 - costNorm) + objective.latency * (1 - latencyNorm)) / total + estimate.bonus) * weight;
    }
    const s = match?.summary;
    return {
      selector: `${cand.provider}:${cand.model}`,
      provider: cand.provider,
      model: cand.model,
      weight,
      demoted,
      eligible: !demoted && weight > 0,
      stats: s
        ? { level: match.level, calls: s.calls, successRate: s.successRate, quality: s.quality, costPerRequestUsd: s.costPerRequestUsd, latencyP95Ms: s.latencyMs?.p95 ?? null }
        : null,
      estimate: { success: round(estimate.success), quality: estimate.quality === null ? null : round(estimate.quality), bonus: round(estimate.bonus) },
      withinBudget,
      score: round(score),
    };
  });

  const order = evaluations.map((_, i) => i);
  order.sort((a, b) => {
    const x = evaluations[a]!;
    const y = evaluations[b]!;
    if (x.eligible !== y.eligible) return x.eligible ? -1 : 1;
    if (x.withinBudget !== y.withinBudget) return x.withinBudget ? -1 : 1;
    if (x.score !== y.score) return y.score - x.score;
    return a - b;
  });

  const eligible = order.filter((i) => evaluations[i]!.eligible);
  let explored = false;
  if (exploreDraw < policy.explorationRate && eligible.length > 1) {
    const pick = eligible[Math.min(eligible.length - 1, Math.floor(random() * eligible.length))]!;
    order.splice(order.indexOf(pick), 1);
    order.unshift(pick);
    explored = true;
  }

  const ranking = order.map((i) => evaluations[i]!.selector);
  return {
    policyVersion: policy.version,
    taskType,
    complexity,
    method,
    objective,
    explorationRate: policy.explorationRate,
    explored,
    candidates: evaluations,
    ranking,
    chosen: ranking[0] ?? null,
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Order route targets (anything with provider and model) as the decision ranked them. */
export function orderByDecision<T extends BanditCandidate>(items: readonly T[], decision: Pick<RoutingDecision, 'ranking'>): T[] {
  const rank = new Map(decision.ranking.map((s, i) => [s, i]));
  return items
    .map((item, i) => ({ item, i, r: rank.get(`${item.provider}:${item.model}`) ?? decision.ranking.length + i }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map(({ item }) => item);
}
