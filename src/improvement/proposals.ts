/**
 * From what a run saw to what it proposes: each proposal carries its change (an
 * applyRoutingUpdate payload, a configuration change for a person to make, or an experiment), the
 * evidence it rests on, an estimated effect, a confidence in [0, 1] and the number of data points.
 *
 * Where the confidence comes from, by kind:
 * - demote: 1 - the Bonferroni-adjusted p-value of the strongest "worse" anomaly of the model
 *   (analysis.ts), so 0.99 means the run would see a change this large by chance in 1% of runs;
 * - promote (a demoted model that recovered): the posterior probability that its success rate is
 *   not worse than the other models' by more than `minErrorRateIncrease` (Beta-Binomial, uniform
 *   priors): "no evidence of a problem" is not enough, the data must show it is fine;
 * - weights: 1 - the adjusted p-value of the agreement test against every other model;
 * - timeout / hedging: the posterior probability that timeouts (or calls slower than three times
 *   the median) exceed 2% (5%) of calls. Configuration changes are never applied automatically;
 * - an experiment's winner: its Bayesian P(better than the control). Its estimated effect is not
 *   the rates seen when the experiment stopped (an early stop overstates the gap) but shrunk
 *   posterior means, with a 95% interval (`shrunkExperimentEstimate`).
 *
 * A demotion's evidence lists every significant "worse" anomaly of the model: which reference
 * (the previous window, the other models, or the model's last-healthy baseline, with its
 * window), which test and sidedness, its p-value and the Bonferroni-adjusted one.
 *
 * `decide` applies a routing change automatically only with at least `minDataPoints` data points
 * and a confidence of at least `autoApplyThreshold`; everything else waits for a person.
 *
 * Pure and deterministic.
 */
import { z } from 'zod';
import { RoutingUpdateSchema, type RoutingUpdate } from '../routing/policy';
import type { Anomaly, GroupRow, WindowAnalysis } from './analysis';
import { type Experiment, ExperimentInputSchema, type ExperimentAnalysis, variantRoutingUpdate } from './experiments';
import { decisionReason, type DecisionSettings, type Decision } from './decision';
import { shortId } from './hash';
import { betaPosterior, bonferroni, probabilityNotWorse, regularizedIncompleteBeta, twoProportionZTest } from './statistics';

// ---------------------------------------------------------------------------------------------
// Shapes (zod: they are read back from the database)

export const ProposalKindSchema = z.enum(['demote', 'promote', 'weights', 'rule', 'timeout', 'hedging', 'prompt_experiment', 'adopt_variant']);
export type ProposalKind = z.infer<typeof ProposalKindSchema>;

export const ProposalStatusSchema = z.enum(['pending', 'applied', 'accepted', 'rejected', 'superseded']);
/**
 * pending: waiting for a person; applied: the change is in effect (routing version, or experiment
 * created); accepted: a person approved a configuration change that must be made in config.yaml;
 * rejected: by a person, or by the routing-policy workflow; superseded: a newer run proposed again.
 */
export type ProposalStatus = z.infer<typeof ProposalStatusSchema>;

export const ProposalChangeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('routing_update'), update: RoutingUpdateSchema }).strict(),
  z
    .object({
      type: z.literal('config'),
      /** Key path in config.yaml. */
      path: z.string().min(1),
      value: z.union([z.number(), z.boolean(), z.string()]),
      note: z.string(),
    })
    .strict(),
  z.object({ type: z.literal('experiment'), experiment: ExperimentInputSchema }).strict(),
  z
    .object({
      type: z.literal('adopt_variant'),
      experimentId: z.string().min(1),
      variant: z.string().min(1),
      experimentKind: z.enum(['routing_policy', 'consensus_strategy', 'prompt_template']),
      config: z.record(z.string(), z.unknown()),
      note: z.string(),
    })
    .strict(),
]);
export type ProposalChange = z.input<typeof ProposalChangeSchema>;

export const EvidenceTestSchema = z
  .object({
    name: z.string(),
    statistic: z.number().nullable(),
    pValue: z.number().nullable(),
    adjustedPValue: z.number().nullable(),
    observations: z.number().int().nonnegative(),
    description: z.string(),
  })
  .strict();
export type EvidenceTest = z.infer<typeof EvidenceTestSchema>;

export const EvidenceSchema = z
  .object({
    summary: z.string(),
    tests: z.array(EvidenceTestSchema),
    figures: z.record(z.string(), z.union([z.number(), z.string(), z.null()])),
  })
  .strict();
export type Evidence = z.infer<typeof EvidenceSchema>;

export const EstimatedEffectSchema = z
  .object({
    metric: z.string(),
    current: z.number().nullable(),
    expected: z.number().nullable(),
    description: z.string(),
  })
  .strict();
export type EstimatedEffect = z.infer<typeof EstimatedEffectSchema>;

export interface Proposal {
  id: string;
  kind: ProposalKind;
  /** What it is about (`provider:model`, `experiment:<id>`, ...): a newer proposal for the same kind and target supersedes a pending older one. */
  target: string;
  summary: string;
  change: ProposalChange;
  evidence: Evidence;
  estimatedEffect: EstimatedEffect;
  /** In [0, 1]; see the module comment for its meaning per kind. */
  confidence: number;
  dataPoints: number;
}

export { decisionReason, type Decision, type DecisionSettings } from './decision';

/** 'apply' only for routing changes with enough data and enough confidence; otherwise 'pending'. */
export function decide(proposal: Pick<Proposal, 'change' | 'confidence' | 'dataPoints'>, settings: DecisionSettings): Decision {
  return decisionReason(proposal, settings).decision;
}

// ---------------------------------------------------------------------------------------------
// Building proposals from an analysis

export interface ProposalSettings {
  anomalyAlpha: number;
  minErrorRateIncrease: number;
  minCallsPerTest: number;
  /** Seconds per provider (performance.models.<p>.timeout); providers absent use `defaultTimeoutSeconds`. */
  timeouts: Record<string, number>;
  defaultTimeoutSeconds: number;
}

export interface PolicyView {
  /** Keys of policy.demoted (`provider` or `provider:model`). */
  demoted: string[];
  weights: Record<string, number>;
  version: number;
}

export interface ProposalContext {
  reportId: string;
  analysis: WindowAnalysis;
  /** The routing policy now; null when it could not be read (then nothing is promoted and weights start from 1). */
  policy: PolicyView | null;
  settings: ProposalSettings;
}

const TIMEOUT_TOLERANCE = 0.02;
const SLOW_TAIL_TOLERANCE = 0.05;

function proposalId(reportId: string, kind: ProposalKind, target: string): string {
  return shortId('p', `${reportId}:${kind}:${target}`);
}

function routingUpdate(update: RoutingUpdate): ProposalChange {
  return { type: 'routing_update', update };
}

function testOf(a: Anomaly): EvidenceTest {
  return { name: a.test, statistic: round(a.statistic, 4), pValue: a.pValue, adjustedPValue: a.adjustedPValue, observations: a.currentObservations + a.referenceObservations, description: a.description };
}

/** What an anomaly was compared with, and when that was observed. */
function basisText(a: Anomaly): string {
  const w = ` ${a.referenceWindow.start} to ${a.referenceWindow.end}`;
  return a.basis === 'peers' ? 'the other models now' : a.basis === 'baseline' ? `last-healthy baseline${w}` : `previous window${w}`;
}

function referenceText(a: Anomaly, figure: string): string {
  return a.basis === 'peers' ? `${figure} for the others` : a.basis === 'baseline' ? `${figure} in its last-healthy baseline` : `was ${figure}`;
}

const round = (x: number, digits = 6) => Math.round(x * 10 ** digits) / 10 ** digits;

function isDemoted(policy: PolicyView | null, provider: string, model: string): boolean {
  return policy !== null && (policy.demoted.includes(provider) || policy.demoted.includes(`${provider}:${model}`));
}

function modelGroups(analysis: WindowAnalysis): GroupRow[] {
  return analysis.groups.filter((g) => g.key.level === 'model');
}

function demotions(ctx: ProposalContext): Proposal[] {
  const out: Proposal[] = [];
  const worse = ctx.analysis.anomalies.filter((a) => a.direction === 'worse');
  const selectors = [...new Set(worse.map((a) => a.selector))].sort();
  for (const selector of selectors) {
    const evidence = worse.filter((a) => a.selector === selector).sort((x, y) => x.adjustedPValue - y.adjustedPValue);
    const strongest = evidence[0]!;
    if (isDemoted(ctx.policy, strongest.provider, strongest.model)) continue;
    const confidence = round(1 - strongest.adjustedPValue, 9);
    const dataPoints = strongest.currentObservations + strongest.referenceObservations;
    const id = proposalId(ctx.reportId, 'demote', selector);
    const reason = `improvement report ${ctx.reportId}: ${evidence.map((a) => `${a.description}, p = ${a.pValue.toExponential(2)}, adjusted ${a.adjustedPValue.toExponential(2)} over ${a.tests} tests`).join('; ')}`;
    const errorAnomaly = evidence.find((a) => a.metric === 'error_rate');
    const latencyAnomaly = evidence.find((a) => a.metric === 'latency');
    out.push({
      id,
      kind: 'demote',
      target: selector,
      summary: `demote ${selector}: ${evidence.map((a) => (a.metric === 'error_rate' ? `error rate ${pct(a.current)} (${referenceText(a, pct(a.reference))})` : `median latency ${Math.round(a.current)} ms (${referenceText(a, `${Math.round(a.reference)} ms`)})`)).join(', ')}`,
      change: routingUpdate({ kind: 'demote', target: selector, id, source: `improvement:${ctx.reportId}`, reason: clip(reason, 2000) }),
      evidence: {
        summary: `${evidence.length} significant degradation(s) of ${selector} among ${strongest.tests} tests this run`,
        tests: evidence.map(testOf),
        figures: {
          errorRate: errorAnomaly?.current ?? null,
          referenceErrorRate: errorAnomaly?.reference ?? null,
          errorRateBasis: errorAnomaly ? basisText(errorAnomaly) : null,
          latencyP50Ms: latencyAnomaly?.current ?? null,
          referenceLatencyP50Ms: latencyAnomaly?.reference ?? null,
          latencyBasis: latencyAnomaly ? basisText(latencyAnomaly) : null,
        },
      },
      estimatedEffect: errorAnomaly
        ? {
            metric: 'error_rate',
            current: errorAnomaly.current,
            expected: errorAnomaly.reference,
            description: `requests routed first to ${selector} go to the other providers of their route first; their first-call error rate should fall from ${pct(errorAnomaly.current)} towards ${pct(errorAnomaly.reference)}`,
          }
        : {
            metric: 'latency_p50_ms',
            current: latencyAnomaly!.current,
            expected: latencyAnomaly!.reference,
            description: `requests routed first to ${selector} go to the other providers of their route first; median latency should fall from ${Math.round(latencyAnomaly!.current)} ms towards ${Math.round(latencyAnomaly!.reference)} ms`,
          },
      confidence,
      dataPoints,
    });
  }
  return out;
}

function promotions(ctx: ProposalContext, demoting: ReadonlySet<string>): Proposal[] {
  const policy = ctx.policy;
  if (!policy) return [];
  const out: Proposal[] = [];
  const groups = modelGroups(ctx.analysis);
  for (const key of [...policy.demoted].sort()) {
    const i = key.indexOf(':');
    const provider = i < 0 ? key : key.slice(0, i);
    const model = i < 0 ? null : key.slice(i + 1);
    const matches = (g: GroupRow) => g.key.provider === provider && (model === null || g.key.model === model);
    const target = groups.filter(matches);
    if (target.length === 0) continue;
    if (target.some((g) => demoting.has(`${g.key.provider}:${g.key.model}`))) continue;
    if (ctx.analysis.anomalies.some((a) => a.direction === 'worse' && a.provider === provider && (model === null || a.model === model))) continue;
    const peers = groups.filter((g) => !matches(g) && !isDemoted(policy, g.key.provider, g.key.model!));
    const t = sum(target);
    const p = sum(peers);
    if (t.decided < ctx.settings.minCallsPerTest || p.decided < ctx.settings.minCallsPerTest) continue;
    const confidence = round(
      probabilityNotWorse(betaPosterior({ successes: p.succeeded, total: p.decided }), betaPosterior({ successes: t.succeeded, total: t.decided }), ctx.settings.minErrorRateIncrease),
      9,
    );
    if (confidence < 0.5) continue;
    const id = proposalId(ctx.reportId, 'promote', key);
    const rate = t.succeeded / t.decided;
    const peerRate = p.succeeded / p.decided;
    const recovered = ctx.analysis.anomalies.filter((a) => a.direction === 'better' && a.provider === provider && (model === null || a.model === model));
    out.push({
      id,
      kind: 'promote',
      target: key,
      summary: `promote ${key}: success ${pct(rate)} on ${t.decided} calls vs ${pct(peerRate)} for the other models`,
      change: routingUpdate({
        kind: 'promote',
        target: key,
        id,
        source: `improvement:${ctx.reportId}`,
        reason: `improvement report ${ctx.reportId}: ${key} succeeds ${pct(rate)} of ${t.decided} calls vs ${pct(peerRate)} for the others; P(not worse by more than ${pct(ctx.settings.minErrorRateIncrease)}) = ${confidence.toFixed(4)}`,
      }),
      evidence: {
        summary: `${key} is demoted; in this window it is not worse than the other models`,
        tests: [
          {
            name: 'Beta-Binomial P(not worse)',
            statistic: null,
            pValue: null,
            adjustedPValue: null,
            observations: t.decided + p.decided,
            description: `P(success rate of ${key} > others' - ${ctx.settings.minErrorRateIncrease}) = ${confidence.toFixed(4)}`,
          },
          ...recovered.map(testOf),
        ],
        figures: { successRate: round(rate), peersSuccessRate: round(peerRate), calls: t.decided, peerCalls: p.decided },
      },
      estimatedEffect: {
        metric: 'success_rate',
        current: round(peerRate),
        expected: round(rate),
        description: `${key} takes its place in its routes again; success rate of its calls ${pct(rate)} (others ${pct(peerRate)})`,
      },
      confidence,
      dataPoints: t.decided + p.decided,
    });
  }
  return out;
}

function sum(groups: readonly GroupRow[]): { succeeded: number; decided: number; agreements: number; agreementObservations: number } {
  let succeeded = 0;
  let decided = 0;
  let agreements = 0;
  let agreementObservations = 0;
  for (const g of groups) {
    succeeded += g.current.succeeded;
    decided += g.current.succeeded + g.current.failed;
    agreements += g.current.agreements;
    agreementObservations += g.current.agreementObservations;
  }
  return { succeeded, decided, agreements, agreementObservations };
}

/**
 * Weights from agreement with the chosen answer: a model gets a lower (higher) weight when it
 * agrees less (more) often than every other model, each one-sided z-test significant (an
 * intersection-union test, p = the largest); Bonferroni over the models tested. The weight is its
 * agreement rate over the others' pooled rate, clamped to [0.5, 2].
 */
function weightProposals(ctx: ProposalContext, demoting: ReadonlySet<string>): Proposal[] {
  const groups = modelGroups(ctx.analysis).filter((g) => !isDemoted(ctx.policy, g.key.provider, g.key.model!) && g.current.agreementObservations >= ctx.settings.minCallsPerTest);
  const tests = groups
    .map((g) => {
      const others = groups.filter((o) => o !== g);
      if (others.length === 0) return null;
      const sample = (x: GroupRow) => ({ successes: x.current.agreements, total: x.current.agreementObservations });
      const lower = others.map((o) => twoProportionZTest(sample(o), sample(g), 'less'));
      const higher = others.map((o) => twoProportionZTest(sample(o), sample(g), 'greater'));
      const pLower = Math.max(...lower.map((r) => r.pValue));
      const pHigher = Math.max(...higher.map((r) => r.pValue));
      const direction: 'lower' | 'higher' = pLower <= pHigher ? 'lower' : 'higher';
      return { g, peers: sum(others), direction, pValue: Math.min(pLower, pHigher) };
    })
    .filter((x): x is NonNullable<typeof x> => x !== null);
  const out: Proposal[] = [];
  for (const { g, peers, direction, pValue } of tests) {
    const selector = `${g.key.provider}:${g.key.model}`;
    if (demoting.has(selector)) continue;
    // Two directions per model: count both in the correction.
    const adjusted = bonferroni(pValue, 2 * tests.length);
    const rate = g.current.agreements / g.current.agreementObservations;
    const peerRate = peers.agreementObservations > 0 ? peers.agreements / peers.agreementObservations : 0;
    if (adjusted >= ctx.settings.anomalyAlpha || peerRate === 0) continue;
    const ratio = rate / peerRate;
    if ((direction === 'lower' && ratio > 0.9) || (direction === 'higher' && ratio < 1.1)) continue;
    const weight = Math.min(2, Math.max(0.5, Math.round(ratio * 20) / 20));
    const currentWeight = ctx.policy?.weights[selector] ?? 1;
    if (Math.abs(weight - currentWeight) < 0.1) continue;
    const id = proposalId(ctx.reportId, 'weights', selector);
    out.push({
      id,
      kind: 'weights',
      target: selector,
      summary: `weight ${selector} ${currentWeight} -> ${weight}: agreement ${pct(rate)} vs ${pct(peerRate)} for the other models`,
      change: routingUpdate({
        kind: 'set_weights',
        weights: { [selector]: weight },
        id,
        source: `improvement:${ctx.reportId}`,
        reason: `improvement report ${ctx.reportId}: ${selector} agrees with the chosen answer ${pct(rate)} of ${g.current.agreementObservations} times vs ${pct(peerRate)} for the others, ${direction} than each of them (adjusted p = ${adjusted.toExponential(2)})`,
      }),
      evidence: {
        summary: `agreement with the chosen answer ${direction} than every other model (${tests.length} models tested this run)`,
        tests: [{ name: 'two-proportion z (intersection-union)', statistic: null, pValue, adjustedPValue: adjusted, observations: g.current.agreementObservations + peers.agreementObservations, description: `agreement ${pct(rate)} vs ${pct(peerRate)}` }],
        figures: { agreementRate: round(rate), peersAgreementRate: round(peerRate), currentWeight, proposedWeight: weight },
      },
      estimatedEffect: {
        metric: 'weight',
        current: currentWeight,
        expected: weight,
        description: `performance-based routing ranks ${selector} ${weight > currentWeight ? 'higher' : 'lower'} (scores are multiplied by its weight)`,
      },
      confidence: round(1 - adjusted, 9),
      dataPoints: g.current.agreementObservations + peers.agreementObservations,
    });
  }
  return out;
}

/** P(rate > tolerance) under a uniform prior after k of n. */
function posteriorAbove(k: number, n: number, tolerance: number): number {
  return 1 - regularizedIncompleteBeta(tolerance, 1 + k, 1 + n - k);
}

function timeoutProposals(ctx: ProposalContext): Proposal[] {
  const out: Proposal[] = [];
  for (const g of ctx.analysis.groups.filter((x) => x.key.level === 'provider')) {
    const provider = g.key.provider;
    const n = g.current.succeeded + g.current.failed;
    const k = g.current.timeouts;
    if (k < 5 || n < ctx.settings.minCallsPerTest || g.current.latencyP95Ms === null) continue;
    const confidence = round(posteriorAbove(k, n, TIMEOUT_TOLERANCE), 9);
    if (confidence < 0.5) continue;
    const configured = ctx.settings.timeouts[provider] ?? ctx.settings.defaultTimeoutSeconds;
    const p95 = g.current.latencyP95Ms;
    let value: number;
    let note: string;
    if (p95 >= 0.8 * configured * 1000) {
      value = Math.ceil((p95 * 1.5) / 1000);
      note = `successful calls take up to ${Math.round(p95)} ms (p95), close to the ${configured} s timeout: slow answers are being cut off; raise it`;
    } else if (p95 < 0.5 * configured * 1000) {
      value = Math.max(2, Math.ceil((p95 * 2) / 1000));
      note = `successful calls finish within ${Math.round(p95)} ms (p95), yet ${k} calls hit the ${configured} s timeout: those calls hang; fail them sooner and retry`;
    } else continue;
    if (value === configured) continue;
    out.push({
      id: proposalId(ctx.reportId, 'timeout', provider),
      kind: 'timeout',
      target: provider,
      summary: `timeout of ${provider} ${configured} s -> ${value} s (${k} of ${n} calls timed out)`,
      change: { type: 'config', path: `performance.models.${provider}.timeout`, value, note },
      evidence: {
        summary: note,
        tests: [{ name: 'Beta-Binomial P(timeout rate > 2%)', statistic: null, pValue: null, adjustedPValue: null, observations: n, description: `${k} timeouts in ${n} calls` }],
        figures: { timeouts: k, calls: n, latencyP95Ms: p95, configuredTimeoutS: configured },
      },
      estimatedEffect: { metric: 'timeout_s', current: configured, expected: value, description: note },
      confidence,
      dataPoints: n,
    });
  }
  return out;
}

function hedgingProposals(ctx: ProposalContext): Proposal[] {
  const out: Proposal[] = [];
  for (const g of modelGroups(ctx.analysis)) {
    const n = g.current.latencyObservations;
    const slow = g.current.slowTail;
    const p90 = g.current.latencyP90Ms;
    if (n < ctx.settings.minCallsPerTest || slow === 0 || p90 === null) continue;
    const confidence = round(posteriorAbove(slow, n, SLOW_TAIL_TOLERANCE), 9);
    if (confidence < 0.5) continue;
    const selector = `${g.key.provider}:${g.key.model}`;
    const delay = Math.max(1, Math.round(p90));
    const note = `${slow} of ${n} successful calls to ${selector} took more than three times the median (${Math.round(g.current.latencyP50Ms ?? 0)} ms): a hedge call after ~${delay} ms (its p90) would cut that tail; enable resilience.hedging (after: ms, delay_ms: ${delay}) or after: p95`;
    out.push({
      id: proposalId(ctx.reportId, 'hedging', selector),
      kind: 'hedging',
      target: selector,
      summary: `hedge ${selector} after ${delay} ms (${slow} of ${n} calls in the slow tail)`,
      change: { type: 'config', path: 'resilience.hedging.delay_ms', value: delay, note },
      evidence: {
        summary: note,
        tests: [{ name: 'Beta-Binomial P(slow-tail share > 5%)', statistic: null, pValue: null, adjustedPValue: null, observations: n, description: `${slow} calls slower than 3x the median` }],
        figures: { latencyP50Ms: g.current.latencyP50Ms, latencyP90Ms: p90, latencyP95Ms: g.current.latencyP95Ms, slowCalls: slow, calls: n },
      },
      estimatedEffect: { metric: 'latency_p95_ms', current: g.current.latencyP95Ms, expected: p90, description: 'the slowest calls answered by whichever of the two calls finishes first' },
      confidence,
      dataPoints: n,
    });
  }
  return out;
}

/** Every proposal the analysis supports, in a stable order. */
export function buildProposals(ctx: ProposalContext): Proposal[] {
  const demote = demotions(ctx);
  const demoting = new Set(demote.map((p) => p.target));
  return [...demote, ...promotions(ctx, demoting), ...weightProposals(ctx, demoting), ...timeoutProposals(ctx), ...hedgingProposals(ctx)];
}

/** A tenth of the planned samples per arm, at least this many pseudo-observations. */
const MIN_PRIOR_STRENGTH = 10;

function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (regularizedIncompleteBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface ShrunkExperimentEstimate {
  /** Pseudo-observations of each arm's prior. */
  priorStrength: number;
  /** The prior's centre: both arms' pooled good rate. */
  pooledRate: number;
  control: number;
  variant: number;
  /** Central 95% posterior interval of the variant's good rate. */
  variantLow: number;
  variantHigh: number;
  /** Central 95% interval of the gain (variant - control), normal approximation of the two posteriors. */
  gainLow: number;
  gainHigh: number;
}

/**
 * The good rates a concluded experiment's arms are expected to have, shrunk: each arm's rate has
 * a Beta prior centred on both arms' pooled rate, worth `priorStrength` observations (a tenth of
 * the planned samples per arm, at least 10): the variants are alike unless the data say
 * otherwise. The posterior means are what is reported. An experiment stops as soon as the gap it
 * sees is large enough, so the rates seen at the stop overstate the gap, the more so the earlier
 * it stops (in 3000 simulated runs of the bench's experiment, 80% vs 90% with a look every 50
 * samples per arm, the winners stopped at 78.5% vs 91.1% on average, and at 92.9% for the variant
 * when they stopped at the second look); the shrunk estimates average 79.3% vs 90.3%.
 */
export function shrunkExperimentEstimate(control: { successes: number; total: number }, variant: { successes: number; total: number }, plannedSamplesPerArm: number): ShrunkExperimentEstimate {
  const priorStrength = Math.max(MIN_PRIOR_STRENGTH, plannedSamplesPerArm / 10);
  const pooledRate = (control.successes + variant.successes) / Math.max(1, control.total + variant.total);
  const posterior = (s: { successes: number; total: number }) => ({ a: s.successes + priorStrength * pooledRate, b: s.total - s.successes + priorStrength * (1 - pooledRate) });
  const pa = posterior(control);
  const pb = posterior(variant);
  const meanOf = (x: { a: number; b: number }) => x.a / (x.a + x.b);
  const varianceOf = (x: { a: number; b: number }) => (x.a * x.b) / ((x.a + x.b) ** 2 * (x.a + x.b + 1));
  const gain = meanOf(pb) - meanOf(pa);
  const sd = Math.sqrt(varianceOf(pa) + varianceOf(pb));
  return {
    priorStrength,
    pooledRate,
    control: meanOf(pa),
    variant: meanOf(pb),
    variantLow: betaQuantile(0.025, pb.a, pb.b),
    variantHigh: betaQuantile(0.975, pb.a, pb.b),
    gainLow: gain - 1.959964 * sd,
    gainHigh: gain + 1.959964 * sd,
  };
}

/** The proposal an experiment's winning variant becomes (none for the control or no winner). */
export function proposalFromExperiment(
  reportId: string,
  experiment: Pick<Experiment, 'id' | 'kind' | 'variants' | 'taskType' | 'name'> & Partial<Pick<Experiment, 'minSamples'>>,
  analysis: ExperimentAnalysis,
): Proposal | null {
  const winner = analysis.winner;
  if (analysis.action !== 'conclude' || winner === null || winner === analysis.control) return null;
  const comparison = analysis.comparisons.find((c) => c.variant === winner);
  if (!comparison?.good || comparison.probabilityBetter === null) return null;
  const arms = analysis.variants.filter((v) => v.name === winner || v.name === analysis.control);
  const samples = arms.reduce((s, v) => s + v.samples, 0);
  const nA = analysis.variants.find((v) => v.name === analysis.control)?.samples ?? 0;
  const nB = analysis.variants.find((v) => v.name === winner)?.samples ?? 0;
  const g = comparison.good;
  const target = `experiment:${experiment.id}`;
  // Planned samples per arm: the experiment's, else what this look's information fraction implies.
  const planned = experiment.minSamples ?? (analysis.look.fraction > 0 ? Math.min(nA, nB) / analysis.look.fraction : Math.min(nA, nB));
  const est = shrunkExperimentEstimate({ successes: Math.round(g.pA * nA), total: nA }, { successes: Math.round(g.pB * nB), total: nB }, planned);
  const shrinkage = `posterior means with a Beta prior on each arm centred on their pooled rate ${pct(est.pooledRate)}, worth ${round(est.priorStrength, 1)} observations (a tenth of the planned ${Math.round(planned)} per arm, at least ${MIN_PRIOR_STRENGTH}): an experiment stopped as soon as its gap looked large overstates that gap, the more so the earlier it stops`;
  const evidence: Evidence = {
    summary: analysis.reason,
    tests: [
      {
        name: 'two-proportion z (good outcomes)',
        statistic: round(g.z, 4),
        pValue: g.pValue,
        adjustedPValue: Math.min(1, g.pValue * Math.max(1, analysis.comparisons.length)),
        observations: samples,
        description: `good outcomes ${pct(g.pB)} vs ${pct(g.pA)} observed at the stop, ${nB} and ${nA} samples (alpha this look ${analysis.alphaPerComparison.toExponential(2)})`,
      },
      {
        name: 'Beta-Binomial posterior (shrunk estimate)',
        statistic: null,
        pValue: null,
        adjustedPValue: null,
        observations: samples,
        description: `expected good outcomes ${pct(est.variant)} (95% interval ${pct(est.variantLow)} to ${pct(est.variantHigh)}) vs ${pct(est.control)} for the control, gain ${points(est.variant - est.control)} (95% interval ${points(est.gainLow)} to ${points(est.gainHigh)}): ${shrinkage}`,
      },
    ],
    figures: {
      goodRate: round(g.pB),
      controlGoodRate: round(g.pA),
      estimatedGoodRate: round(est.variant),
      estimatedControlGoodRate: round(est.control),
      estimatedGoodRateLow95: round(est.variantLow),
      estimatedGoodRateHigh95: round(est.variantHigh),
      estimatedGainLow95: round(est.gainLow),
      estimatedGainHigh95: round(est.gainHigh),
      priorPseudoObservations: round(est.priorStrength, 3),
      probabilityBetter: round(comparison.probabilityBetter),
      samples,
    },
  };
  const estimatedEffect: EstimatedEffect = {
    metric: 'good_outcome_rate',
    current: round(est.control),
    expected: round(est.variant),
    description: `${experiment.taskType} requests: good outcomes from about ${pct(est.control)} to about ${pct(est.variant)} (95% interval ${pct(est.variantLow)} to ${pct(est.variantHigh)}); shrunk from the ${pct(g.pA)} vs ${pct(g.pB)} observed when the experiment stopped (${shrinkage})`,
  };
  const update = variantRoutingUpdate(experiment, winner);
  if (update) {
    const id = proposalId(reportId, 'rule', target);
    const kind: ProposalKind = update.kind === 'demote' ? 'demote' : update.kind === 'promote' ? 'promote' : update.kind === 'set_weights' ? 'weights' : 'rule';
    return {
      id,
      kind,
      target,
      summary: `adopt variant "${winner}" of experiment ${experiment.id} (${experiment.name})`,
      change: routingUpdate({ ...update, id, reason: clip(`${update.reason}: ${analysis.reason}`, 2000) }),
      evidence,
      estimatedEffect,
      confidence: round(comparison.probabilityBetter, 9),
      dataPoints: samples,
    };
  }
  const variant = experiment.variants.find((v) => v.name === winner);
  return {
    id: proposalId(reportId, 'adopt_variant', target),
    kind: 'adopt_variant',
    target,
    summary: `adopt variant "${winner}" of experiment ${experiment.id} (${experiment.name})`,
    change: {
      type: 'adopt_variant',
      experimentId: experiment.id,
      variant: winner,
      experimentKind: experiment.kind,
      config: variant?.config ?? {},
      note:
        experiment.kind === 'consensus_strategy'
          ? `set consensus.task_types.${experiment.taskType} to the variant's strategy`
          : `use the variant's system prompt for ${experiment.taskType} requests`,
    },
    evidence,
    estimatedEffect,
    confidence: round(comparison.probabilityBetter, 9),
    dataPoints: samples,
  };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function points(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} points`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
