/**
 * A/B experiments: their definition (zod, the boundary type of the store, the SDK and the CLI)
 * and their analysis.
 *
 * An experiment compares variants of a routing policy, a consensus strategy or a prompt template
 * on a share of one task type's live traffic (assignment.ts decides who is in which variant).
 * The first variant is the control. The primary metric is the share of good outcomes: the
 * request completed, and its answer was not judged poor (feedback below 0.5 when given, else
 * consensus not met when consensus ran). Success, latency and cost are reported beside it.
 *
 * Each scheduled run looks at every running experiment once:
 * - guard rails first: a variant whose error rate or cost is clearly worse than the control's
 *   (one-sided test at `guardrailAlpha`, at least `GUARDRAIL_FLOOR` samples per arm) stops the
 *   experiment, whatever the primary metric says;
 * - then the primary metric, two-proportion z-test per variant against the control, at the alpha
 *   this look may spend (statistics.ts lookDecision: O'Brien-Fleming-type spending over the
 *   planned samples per arm, Bonferroni over the variants), with the Bayesian P(better) beside it;
 * - a significantly better variant concludes the experiment as the winner (it becomes a proposal
 *   like any other); a control significantly better than every variant concludes it as well (the
 *   losers stop); at the planned horizon without a significant difference it concludes with no
 *   winner. Otherwise it keeps running.
 *
 * Pure and deterministic (no clock: times are passed in).
 */
import { z } from 'zod';
import { RoutingUpdateSchema, type RoutingUpdate } from '../routing/policy';
import {
  bayesianProbabilityBBetter,
  lookDecision,
  mannWhitneyU,
  mean,
  percentile,
  twoProportionZTest,
  type LookDecision,
  type MannWhitneyResult,
  type TwoProportionResult,
} from './statistics';

// ---------------------------------------------------------------------------------------------
// Definition

export const ExperimentKindSchema = z.enum(['routing_policy', 'consensus_strategy', 'prompt_template']);
export type ExperimentKind = z.infer<typeof ExperimentKindSchema>;

export const ExperimentStatusSchema = z.enum(['running', 'stopped', 'concluded']);
export type ExperimentStatus = z.infer<typeof ExperimentStatusSchema>;

/** A routing variant: the routing update its traffic is routed under (none for the control). */
export const RoutingVariantConfigSchema = z
  .object({
    /** An applyRoutingUpdate payload; `source` and `reason` may be left out (filled in when it becomes a proposal). */
    update: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export const ConsensusVariantConfigSchema = z.object({ strategy: z.string().min(1).max(64) }).strict();
export const PromptVariantConfigSchema = z.object({ systemPrompt: z.string().max(20_000).nullable() }).strict();

export const VariantSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'variant names are 1-32 chars of [a-z0-9_-]'),
    share: z.number().gt(0).max(1),
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type Variant = z.output<typeof VariantSchema>;

export const EXPERIMENT_ID_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export const ExperimentInputSchema = z
  .object({
    /** Default: derived from the name and creation time by the store. */
    id: z.string().regex(EXPERIMENT_ID_PATTERN, 'experiment ids are 1-64 chars of [a-z0-9_.-], starting with a letter or digit').optional(),
    name: z.string().min(1).max(200),
    kind: ExperimentKindSchema,
    taskType: z.string().regex(/^[a-z0-9_.-]{1,64}$/, 'taskType must be 1-64 chars of [a-z0-9_.-]'),
    /** The first variant is the control. */
    variants: z.array(VariantSchema).min(2).max(8),
    /** Share of the task type's requests in the experiment. */
    trafficShare: z.number().gt(0).max(1),
    /** Planned samples per variant (the horizon of the peeking guard). */
    minSamples: z.number().int().min(20).max(10_000_000),
    createdBy: z.string().min(1).max(200),
    reason: z.string().max(2000).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const total = e.variants.reduce((s, v) => s + v.share, 0);
    if (Math.abs(total - 1) > 1e-9) ctx.addIssue({ code: 'custom', path: ['variants'], message: `variant shares must sum to 1 (they sum to ${total})` });
    const names = new Set<string>();
    e.variants.forEach((v, i) => {
      if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant name "${v.name}"` });
      names.add(v.name);
      const schema = e.kind === 'routing_policy' ? RoutingVariantConfigSchema : e.kind === 'consensus_strategy' ? ConsensusVariantConfigSchema : PromptVariantConfigSchema;
      const parsed = schema.safeParse(v.config);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: ['variants', i, 'config', ...issue.path.map(String)], message: issue.message });
      }
      if (e.kind === 'routing_policy' && parsed.success && i > 0) {
        const update = (parsed.data as z.infer<typeof RoutingVariantConfigSchema>).update;
        if (!update) ctx.addIssue({ code: 'custom', path: ['variants', i, 'config', 'update'], message: 'a routing variant other than the control needs the routing update it stands for' });
        else {
          const check = RoutingUpdateSchema.safeParse({ source: 'experiment', reason: 'experiment variant', ...update });
          if (!check.success) {
            for (const issue of check.error.issues) ctx.addIssue({ code: 'custom', path: ['variants', i, 'config', 'update', ...issue.path.map(String)], message: issue.message });
          }
        }
      }
    });
  });
export type ExperimentInput = z.input<typeof ExperimentInputSchema>;
export type ParsedExperimentInput = z.output<typeof ExperimentInputSchema>;

/** A stored experiment. */
export interface Experiment {
  id: string;
  name: string;
  kind: ExperimentKind;
  taskType: string;
  variants: Variant[];
  trafficShare: number;
  minSamples: number;
  status: ExperimentStatus;
  /** While running: the latest interim analysis with the looks so far; once ended: the analysis that ended it. */
  result: ExperimentRecord | null;
  reason: string | null;
  createdBy: string;
  createdAt: string;
  stoppedAt: string | null;
}

/** One look that spent alpha. */
export interface ExperimentLook {
  at: string;
  fraction: number;
  alpha: number;
}

/** What Experiment.result holds. */
export interface ExperimentRecord {
  looks: ExperimentLook[];
  analysis: ExperimentAnalysis;
}

/** The routing update a routing variant stands for, with source and reason filled in. */
export function variantRoutingUpdate(experiment: Pick<Experiment, 'id' | 'kind' | 'variants'>, variantName: string): RoutingUpdate | null {
  if (experiment.kind !== 'routing_policy') return null;
  const variant = experiment.variants.find((v) => v.name === variantName);
  const config = RoutingVariantConfigSchema.safeParse(variant?.config ?? {});
  if (!config.success || !config.data.update) return null;
  const parsed = RoutingUpdateSchema.safeParse({ source: `experiment:${experiment.id}`, reason: `variant "${variantName}" won experiment ${experiment.id}`, ...config.data.update });
  return parsed.success ? parsed.data : null;
}

// ---------------------------------------------------------------------------------------------
// Observations and analysis

/** One interaction of an experiment, as the analysis sees it. */
export interface ExperimentObservation {
  variant: string;
  completed: boolean;
  /** The primary metric: completed and not judged poor. */
  good: boolean;
  latencyMs: number;
  costUsd: number;
}

export interface VariantSummary {
  name: string;
  samples: number;
  successRate: number | null;
  goodRate: number | null;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  meanCostUsd: number | null;
}

export interface VariantComparison {
  variant: string;
  /** Good outcomes, variant (B) against the control (A), two-sided. */
  good: TwoProportionResult | null;
  /** Bayesian P(good rate of the variant > control's), uniform priors. */
  probabilityBetter: number | null;
  /** Guard rail: the variant's success rate lower than the control's (one-sided). */
  errorRate: TwoProportionResult | null;
  /** Guard rail: the variant's cost higher (one-sided, variant as A). */
  cost: MannWhitneyResult | null;
  /** Latency: two-sided, variant as A (probabilityAGreater > 0.5: the variant is slower). */
  latency: MannWhitneyResult | null;
}

export interface ExperimentAnalysis {
  experimentId: string;
  at: string;
  control: string;
  variants: VariantSummary[];
  comparisons: VariantComparison[];
  look: LookDecision;
  /** Alpha per comparison at this look (look alpha / number of variants against the control). */
  alphaPerComparison: number;
  action: 'continue' | 'conclude' | 'stop';
  /** The winning variant (possibly the control) when concluded with one; null otherwise. */
  winner: string | null;
  reason: string;
  guardrail: { variant: string; metric: 'error_rate' | 'cost'; pValue: number } | null;
}

export interface ExperimentAnalysisOptions {
  /** Overall significance level of the primary metric, spent over the looks. */
  alpha: number;
  /** Significance level of the guard-rail tests. */
  guardrailAlpha: number;
  /** Information fraction of the previous look that spent alpha (0 for none). */
  previousFraction: number;
  at: string;
}

/** No guard-rail stop on fewer samples than this per arm. */
export const GUARDRAIL_FLOOR = 20;
/** A cost guard rail also needs the variant's mean cost this much above the control's. */
export const GUARDRAIL_COST_RATIO = 1.5;

/** No decision on the primary metric below this many samples per arm. */
export function decisionFloor(minSamples: number): number {
  return Math.max(GUARDRAIL_FLOOR, Math.ceil(minSamples / 5));
}

function summarise(name: string, obs: readonly ExperimentObservation[]): VariantSummary {
  const n = obs.length;
  const latencies = obs.filter((o) => o.completed).map((o) => o.latencyMs);
  return {
    name,
    samples: n,
    successRate: n > 0 ? obs.filter((o) => o.completed).length / n : null,
    goodRate: n > 0 ? obs.filter((o) => o.good).length / n : null,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP95Ms: percentile(latencies, 0.95),
    meanCostUsd: mean(obs.map((o) => o.costUsd)),
  };
}

export function analyseExperiment(
  experiment: Pick<Experiment, 'id' | 'variants' | 'minSamples'>,
  observations: readonly ExperimentObservation[],
  options: ExperimentAnalysisOptions,
): ExperimentAnalysis {
  const control = experiment.variants[0];
  if (!control) throw new RangeError(`experiment ${experiment.id} has no variants`);
  const byVariant = new Map<string, ExperimentObservation[]>(experiment.variants.map((v) => [v.name, []]));
  for (const o of observations) byVariant.get(o.variant)?.push(o);
  const obsOf = (name: string) => byVariant.get(name) ?? [];
  const variants = experiment.variants.map((v) => summarise(v.name, obsOf(v.name)));
  const treatments = experiment.variants.slice(1);
  const A = obsOf(control.name);
  const nA = A.length;
  const count = (xs: readonly ExperimentObservation[], f: (o: ExperimentObservation) => boolean) => xs.filter(f).length;

  const comparisons: VariantComparison[] = treatments.map((t) => {
    const B = obsOf(t.name);
    if (nA === 0 || B.length === 0) return { variant: t.name, good: null, probabilityBetter: null, errorRate: null, cost: null, latency: null };
    const goodA = { successes: count(A, (o) => o.good), total: nA };
    const goodB = { successes: count(B, (o) => o.good), total: B.length };
    const latA = A.filter((o) => o.completed).map((o) => o.latencyMs);
    const latB = B.filter((o) => o.completed).map((o) => o.latencyMs);
    return {
      variant: t.name,
      good: twoProportionZTest(goodA, goodB),
      probabilityBetter: bayesianProbabilityBBetter(goodA, goodB),
      errorRate: twoProportionZTest({ successes: count(A, (o) => o.completed), total: nA }, { successes: count(B, (o) => o.completed), total: B.length }, 'less'),
      cost: mannWhitneyU(
        B.map((o) => o.costUsd),
        A.map((o) => o.costUsd),
        'greater',
      ),
      latency: latA.length > 0 && latB.length > 0 ? mannWhitneyU(latB, latA) : null,
    };
  });

  const samplesPerArm = Math.min(...variants.map((v) => v.samples));
  const look = lookDecision({
    samplesPerArm,
    plannedSamplesPerArm: experiment.minSamples,
    previousFraction: options.previousFraction,
    alpha: options.alpha,
    floorSamplesPerArm: decisionFloor(experiment.minSamples),
  });
  const alphaPerComparison = treatments.length > 0 ? look.alpha / treatments.length : 0;
  const base = { experimentId: experiment.id, at: options.at, control: control.name, variants, comparisons, look, alphaPerComparison };

  // Guard rails: harm stops the experiment, before anything else.
  if (samplesPerArm >= GUARDRAIL_FLOOR) {
    for (const c of comparisons) {
      if (c.errorRate && c.errorRate.pValue < options.guardrailAlpha) {
        return {
          ...base,
          action: 'stop',
          winner: null,
          guardrail: { variant: c.variant, metric: 'error_rate', pValue: c.errorRate.pValue },
          reason: `guard rail: variant "${c.variant}" fails more often than "${control.name}" (success ${pct(c.errorRate.pB)} vs ${pct(c.errorRate.pA)}, p = ${c.errorRate.pValue.toExponential(2)})`,
        };
      }
      const costA = variants[0]?.meanCostUsd ?? null;
      const costB = variants.find((v) => v.name === c.variant)?.meanCostUsd ?? null;
      const costRatio = costA !== null && costB !== null && costA > 0 ? costB / costA : costB !== null && costB > 0 ? Infinity : 1;
      if (c.cost && c.cost.pValue < options.guardrailAlpha && costRatio >= GUARDRAIL_COST_RATIO) {
        return {
          ...base,
          action: 'stop',
          winner: null,
          guardrail: { variant: c.variant, metric: 'cost', pValue: c.cost.pValue },
          reason: `guard rail: variant "${c.variant}" costs ${Number.isFinite(costRatio) ? `${costRatio.toFixed(2)}x` : 'more than'} the control per request (p = ${c.cost.pValue.toExponential(2)})`,
        };
      }
    }
  }

  if (!look.canDecide) return { ...base, action: 'continue', winner: null, guardrail: null, reason: `no decision yet: ${look.reason}` };

  const significant = comparisons.filter((c) => c.good !== null && c.good.pValue < alphaPerComparison);
  const better = significant.filter((c) => c.good!.difference > 0).sort((x, y) => y.good!.difference - x.good!.difference || (x.variant < y.variant ? -1 : 1));
  const best = better[0];
  if (best) {
    return {
      ...base,
      action: 'conclude',
      winner: best.variant,
      guardrail: null,
      reason: `variant "${best.variant}" beats "${control.name}": good outcomes ${pct(best.good!.pB)} vs ${pct(best.good!.pA)} (p = ${best.good!.pValue.toExponential(2)} < ${alphaPerComparison.toExponential(2)}; P(better) = ${best.probabilityBetter!.toFixed(4)})`,
    };
  }
  if (treatments.length > 0 && significant.length === treatments.length && significant.every((c) => c.good!.difference < 0)) {
    return { ...base, action: 'conclude', winner: control.name, guardrail: null, reason: `the control "${control.name}" beats every variant on good outcomes; the variants stop` };
  }
  if (look.final) {
    return { ...base, action: 'conclude', winner: null, guardrail: null, reason: `no significant difference at the planned ${experiment.minSamples} samples per variant: no winner` };
  }
  return { ...base, action: 'continue', winner: null, guardrail: null, reason: `no significant difference yet (${look.reason})` };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** The looks so far plus this one (when it spent alpha). */
export function nextLooks(previous: readonly ExperimentLook[], analysis: ExperimentAnalysis): ExperimentLook[] {
  if (!analysis.look.canDecide) return [...previous];
  return [...previous, { at: analysis.at, fraction: analysis.look.fraction, alpha: analysis.look.alpha }];
}

/** Information fraction of the latest look that spent alpha. */
export function previousFraction(record: ExperimentRecord | null): number {
  const looks = record?.looks ?? [];
  return looks.length > 0 ? Math.max(...looks.map((l) => l.fraction)) : 0;
}
