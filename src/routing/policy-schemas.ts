/**
 * The routing policy's zod schemas (the policy, a stored version, the updates and rollbacks) and the
 * types inferred from them. Validation happens here, at the boundaries: the client, the activities,
 * and the routing-policy workflow when a change arrives (it loads this module only then).
 *
 * Kept apart from the pure rules (./policy-rules) because workflow code must not evaluate zod at
 * module scope: the SDK evaluates the workflow bundle's module scope again for every workflow run,
 * and building these schemas (and zod itself) cost ~45 ms of CPU per request when the request
 * workflow reached them through workflows/routing-policy.ts.
 */
import { z } from 'zod';
import { RoutingRuleSchema } from '../config/schema';
import { ProviderSelectorSchema } from '../types';
import { policyError, policyFromConfig, type PolicyUpdateError } from './policy-rules';

// ---------------------------------------------------------------------------------------------
// Policy

export const RoutingStrategySchema = z.enum(['static', 'performance_based']);
export type RoutingStrategy = z.infer<typeof RoutingStrategySchema>;

export const ExplorationMethodSchema = z.enum(['thompson', 'ucb']);
export type ExplorationMethod = z.infer<typeof ExplorationMethodSchema>;

/**
 * How candidates are ranked when the strategy is performance_based.
 * - quality_first: highest expected quality (success x agreement) among the candidates within the
 *   budget (mean cost per request, p95 latency); candidates over budget come after.
 * - weighted: a weighted score of quality, success, cheapness and speed (cost and latency are
 *   normalised by the most expensive / slowest candidate, so the weights are unit-free).
 */
export const ObjectiveSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('quality_first'),
      maxCostUsd: z.number().positive().optional(),
      maxLatencyMs: z.number().positive().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('weighted'),
      quality: z.number().min(0).default(1),
      success: z.number().min(0).default(1),
      cost: z.number().min(0).default(0.5),
      latency: z.number().min(0).default(0.25),
    })
    .strict()
    .refine((o) => o.quality + o.success + o.cost + o.latency > 0, 'at least one weight must be positive'),
]);
export type Objective = z.infer<typeof ObjectiveSchema>;

export const DemotionSchema = z
  .object({
    at: z.string(),
    source: z.string(),
    reason: z.string(),
  })
  .strict();
export type Demotion = z.infer<typeof DemotionSchema>;

/** A weight multiplies a candidate's score; 1 is neutral, 0 takes it out of the first wave. */
const WeightSchema = z.number().min(0).max(100);

export const RoutingPolicySchema = z
  .object({
    /** Database version number (RoutingPolicyVersion.version); 0 until first recorded. */
    version: z.number().int().nonnegative(),
    strategy: RoutingStrategySchema,
    rules: z.array(RoutingRuleSchema),
    defaultProviders: z.array(z.string().min(1)).min(1),
    defaultFallback: z.array(z.string().min(1)),
    /** Keyed by `provider` or `provider:model` (the more specific key wins). */
    weights: z.record(z.string(), WeightSchema),
    /** Keyed by `provider` or `provider:model`: moved behind the others, used only as fallback. */
    demoted: z.record(z.string(), DemotionSchema),
    /** Share of decisions that pick a random eligible candidate first, in [0, 1]. */
    explorationRate: z.number().min(0).max(1),
    explorationMethod: ExplorationMethodSchema,
    objective: ObjectiveSchema,
    /** ISO-8601, from the caller (the workflow's deterministic clock). */
    updatedAt: z.string(),
    source: z.string(),
    reason: z.string(),
    /** The version this one was derived from (the rollback target for a rollback); null for a seed. */
    basedOn: z.number().int().nonnegative().nullable(),
  })
  .strict();
export type RoutingPolicy = z.infer<typeof RoutingPolicySchema>;

/** The shape workers wrote at start before the routing-policy workflow existed. */
const LegacyStoredPolicySchema = z.object({
  strategy: z.string().optional(),
  default_providers: z.array(z.string().min(1)).min(1),
  default_fallback: z.array(z.string().min(1)).optional(),
  rules: z.array(RoutingRuleSchema),
});

// ---------------------------------------------------------------------------------------------
// Updates

const meta = {
  /** Optional caller-chosen id: the workflow reports the outcome under it (routingChangeOutcome query). */
  id: z.string().min(1).max(128).optional(),
  /** Who or what asks: 'cli:alice', 'optimizer', ... */
  source: z.string().min(1).max(200),
  reason: z.string().min(1).max(2000),
};

export const RoutingUpdateSchema = z.discriminatedUnion('kind', [
  /** Add a rule, or replace the rule with the same id or the same (task_type, complexity). */
  z.object({ kind: z.literal('set_rule'), rule: RoutingRuleSchema, ...meta }).strict(),
  z.object({ kind: z.literal('remove_rule'), ruleId: z.string().min(1), ...meta }).strict(),
  /** Merge weights (a weight of exactly 1 removes the entry); `replace` drops the others first. */
  z.object({ kind: z.literal('set_weights'), weights: z.record(ProviderSelectorSchema, WeightSchema), replace: z.boolean().default(false), ...meta }).strict(),
  z.object({ kind: z.literal('demote'), target: ProviderSelectorSchema, ...meta }).strict(),
  z.object({ kind: z.literal('promote'), target: ProviderSelectorSchema, ...meta }).strict(),
  z.object({ kind: z.literal('set_exploration'), rate: z.number().min(0).max(1), method: ExplorationMethodSchema.optional(), ...meta }).strict(),
  z.object({ kind: z.literal('set_objective'), objective: ObjectiveSchema, ...meta }).strict(),
  z.object({ kind: z.literal('set_strategy'), strategy: RoutingStrategySchema, ...meta }).strict(),
]);
/** Go back to the content of an earlier version (recorded as a new version). */
export const RoutingRollbackSchema = z.object({ version: z.number().int().min(1), ...meta }).strict();
export type RoutingRollback = z.input<typeof RoutingRollbackSchema>;

/** What senders send (defaults may be omitted). */
export type RoutingUpdate = z.input<typeof RoutingUpdateSchema>;
/** After validation, defaults filled in. */
export type ParsedRoutingUpdate = z.output<typeof RoutingUpdateSchema>;
export type RoutingUpdateKind = ParsedRoutingUpdate['kind'];
export type RoutingRuleInput = z.input<typeof RoutingRuleSchema>;

/** Zod's issues as PolicyIssue entries; `ruleCode` for issues under `rule` (the set_rule update). */
function zodIssues(error: z.ZodError, code: (first: PropertyKey | undefined) => PolicyUpdateError['code']): PolicyUpdateError['issues'] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', code: code(i.path[0]), message: i.message }));
}

/** A routing update as received (from a signal, the client or the optimizer), validated with defaults filled in, or why not. */
export function parseRoutingUpdate(update: unknown): { ok: true; update: ParsedRoutingUpdate } | { ok: false; error: PolicyUpdateError } {
  const parsed = RoutingUpdateSchema.safeParse(update);
  if (parsed.success) return { ok: true, update: parsed.data };
  const kind = typeof update === 'object' && update !== null && typeof (update as { kind?: unknown }).kind === 'string' ? (update as { kind: string }).kind : 'update';
  return { ok: false, error: policyError(kind, zodIssues(parsed.error, (first) => (first === 'rule' ? 'InvalidRule' : 'InvalidUpdate'))) };
}

/** A rollback as received, validated, or why not. */
export function parseRoutingRollback(rollback: unknown): { ok: true; rollback: z.output<typeof RoutingRollbackSchema> } | { ok: false; error: PolicyUpdateError } {
  const parsed = RoutingRollbackSchema.safeParse(rollback);
  if (parsed.success) return { ok: true, rollback: parsed.data };
  return { ok: false, error: policyError('rollback', zodIssues(parsed.error, () => 'InvalidUpdate')) };
}

/**
 * Read a stored version's JSON back into a policy: the workflow's own shape, or the older
 * `{ strategy, default_providers, rules }` shape (completed with neutral defaults). Null when it is neither.
 */
export function policyFromStored(version: number, json: unknown, meta: { source: string; reason: string; createdAt: string }): RoutingPolicy | null {
  const own = RoutingPolicySchema.safeParse(typeof json === 'object' && json !== null ? { ...json, version } : json);
  if (own.success) return own.data;
  const legacy = LegacyStoredPolicySchema.safeParse(json);
  if (!legacy.success) return null;
  const routing = {
    rules: legacy.data.rules,
    default_providers: legacy.data.default_providers,
    default_fallback: legacy.data.default_fallback ?? [],
    ...(legacy.data.strategy !== undefined && { default_strategy: legacy.data.strategy }),
  };
  return { ...policyFromConfig({ routing }, meta.createdAt, meta.source, meta.reason), version };
}
