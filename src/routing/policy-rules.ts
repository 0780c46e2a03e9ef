/**
 * The routing policy's rules, as pure functions: what the routing-policy workflow holds and request
 * planning reads. Rules (as in config.yaml), provider weights and demotions, the exploration rate
 * and method, and the ranking objective, under a version number that the database assigns.
 *
 * Pure and deterministic: this module runs inside workflow code. No Node imports, no clock of its
 * own (timestamps are passed in), no randomness, and no zod: the schemas and the types inferred
 * from them are in ./policy-schemas (imported here for types only), since the SDK evaluates a
 * workflow bundle's module scope again for every workflow run. Parsing an update is
 * `parseRoutingUpdate` there; `applyParsedUpdate` here applies the result.
 */
import type { Config, RoutingRule } from '../config/schema';
import type { Demotion, ParsedRoutingUpdate, RoutingPolicy, RoutingStrategy } from './policy-schemas';

// ---------------------------------------------------------------------------------------------
// Policy

/** What is stored as a version's JSON: the policy without its number (the row holds the number). */
export type RoutingPolicyBody = Omit<RoutingPolicy, 'version'>;

export const DEFAULT_EXPLORATION_RATE = 0.1;

export function policyBody(policy: RoutingPolicy): RoutingPolicyBody {
  const { version: _version, ...body } = policy;
  return body;
}

// ---------------------------------------------------------------------------------------------
// Known providers (from the worker's configuration)

export interface KnownProvider {
  defaultModel: string;
  models: string[];
  enabled: boolean;
}
/** JSON-serialisable, so it can travel into workflow code. */
export type KnownProviders = Record<string, KnownProvider>;

export function knownProvidersFromConfig(config: Pick<Config, 'models'>): KnownProviders {
  const out: KnownProviders = {};
  for (const [name, p] of Object.entries(config.models)) {
    out[name] = { defaultModel: p.default_model, models: [...new Set([p.default_model, ...p.models])], enabled: p.enabled };
  }
  return out;
}

/** The seed policy: the routing section of config.yaml, nothing learned yet. */
export function policyFromConfig(
  config: { routing: Pick<Config['routing'], 'rules' | 'default_providers' | 'default_fallback'> & { default_strategy?: string } },
  at: string,
  source = 'config.yaml',
  reason = 'routing rules loaded from configuration',
): RoutingPolicy {
  const configured = config.routing.default_strategy;
  return {
    version: 0,
    // Exactly RoutingStrategySchema's values; anything else (or nothing) is static.
    strategy: configured === 'static' || configured === 'performance_based' ? configured : 'static',
    rules: config.routing.rules.map((r) => ({ ...r, providers: [...r.providers], fallback: [...r.fallback] })),
    defaultProviders: [...config.routing.default_providers],
    defaultFallback: [...config.routing.default_fallback],
    weights: {},
    demoted: {},
    explorationRate: DEFAULT_EXPLORATION_RATE,
    explorationMethod: 'thompson',
    objective: { kind: 'quality_first' },
    updatedAt: at,
    source,
    reason,
    basedOn: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Updates

export type PolicyUpdateErrorCode =
  | 'InvalidUpdate'
  | 'UnknownProvider'
  | 'DisabledProvider'
  | 'UnknownModel'
  | 'InvalidRule'
  | 'UnknownRule'
  | 'UnknownVersion'
  | 'InvalidPolicy'
  | 'PersistFailed'
  /** A run-time change that the new config.yaml base overrides (see rebasePolicy). */
  | 'BaseConflict';

export interface PolicyIssue {
  /** Where in the update (or policy): `rule.providers.1`, `weights.mistral`, ... */
  path: string;
  code: PolicyUpdateErrorCode;
  message: string;
}

/** Why an update was refused. JSON-serialisable (it is kept in workflow state and shown by queries). */
export interface PolicyUpdateError {
  code: PolicyUpdateErrorCode;
  message: string;
  issues: PolicyIssue[];
}

export type ApplyUpdateResult =
  | { ok: true; changed: true; policy: RoutingPolicy; update: ParsedRoutingUpdate; summary: string }
  | { ok: true; changed: false; policy: RoutingPolicy; update: ParsedRoutingUpdate; summary: string }
  | { ok: false; error: PolicyUpdateError };

export function policyError(what: string, issues: PolicyIssue[]): PolicyUpdateError {
  const first = issues[0];
  return {
    code: first?.code ?? 'InvalidUpdate',
    message: `${what} rejected: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  };
}

/** Why a selector is unusable against the known providers, or null when it is fine. */
export function selectorIssue(known: KnownProviders, selector: string, path: string): PolicyIssue | null {
  const i = selector.indexOf(':');
  const name = i < 0 ? selector : selector.slice(0, i);
  const model = i < 0 ? undefined : selector.slice(i + 1);
  const provider = Object.hasOwn(known, name) ? known[name] : undefined;
  const configured = Object.keys(known).filter((k) => known[k]?.enabled);
  if (!provider) return { path, code: 'UnknownProvider', message: `unknown provider "${name}" (configured: ${configured.join(', ')})` };
  if (!provider.enabled) return { path, code: 'DisabledProvider', message: `provider "${name}" is disabled` };
  if (model !== undefined && !provider.models.includes(model)) {
    return { path, code: 'UnknownModel', message: `unknown model "${model}" for provider "${name}" (configured: ${provider.models.join(', ')})` };
  }
  return null;
}

function ruleIssues(rule: RoutingRule, known: KnownProviders, path: string): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  rule.providers.forEach((s, i) => {
    const issue = selectorIssue(known, s, `${path}.providers.${i}`);
    if (issue) issues.push(issue);
  });
  rule.fallback.forEach((s, i) => {
    const issue = selectorIssue(known, s, `${path}.fallback.${i}`);
    if (issue) issues.push(issue);
  });
  const available = new Set([...rule.providers, ...rule.fallback]).size;
  if (rule.min_providers !== undefined && rule.min_providers > available) {
    issues.push({ path: `${path}.min_providers`, code: 'InvalidRule', message: `min_providers ${rule.min_providers} exceeds the ${available} distinct providers and fallbacks of this rule` });
  }
  return issues;
}

/** Every problem with a whole policy against the known providers (used for rollbacks and loads). */
export function validatePolicy(policy: RoutingPolicy, known: KnownProviders): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  policy.rules.forEach((r, i) => issues.push(...ruleIssues(r, known, `rules.${i}`)));
  policy.defaultProviders.forEach((s, i) => {
    const issue = selectorIssue(known, s, `defaultProviders.${i}`);
    if (issue) issues.push(issue);
  });
  policy.defaultFallback.forEach((s, i) => {
    const issue = selectorIssue(known, s, `defaultFallback.${i}`);
    if (issue) issues.push(issue);
  });
  return issues;
}

/** The id a rule is known by: its own, else `<task_type>:<complexity>`. */
export function ruleId(rule: Pick<RoutingRule, 'id' | 'task_type' | 'complexity'>): string {
  return rule.id ?? `${rule.task_type}:${rule.complexity}`;
}

/** Stable JSON (sorted keys) for change detection. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** True when two policies route the same way (metadata such as version, source and time ignored). */
export function samePolicyContent(a: RoutingPolicyBody | RoutingPolicy, b: RoutingPolicyBody | RoutingPolicy): boolean {
  const strip = ({ strategy, rules, defaultProviders, defaultFallback, weights, demoted, explorationRate, explorationMethod, objective }: RoutingPolicyBody) => ({
    strategy,
    rules,
    defaultProviders,
    defaultFallback,
    weights,
    // The time and author of a demotion are metadata; which targets are demoted is content.
    demoted: Object.keys(demoted).sort(),
    explorationRate,
    explorationMethod,
    objective,
  });
  return canonical(strip(a)) === canonical(strip(b));
}

function describeUpdate(u: ParsedRoutingUpdate): string {
  switch (u.kind) {
    case 'set_rule':
      return `set rule ${ruleId(u.rule)} (${u.rule.task_type}/${u.rule.complexity} -> ${u.rule.providers.join(', ')}${u.rule.fallback.length ? `; fallback ${u.rule.fallback.join(', ')}` : ''}${u.rule.require_consensus ? '; consensus' : ''}${u.rule.min_providers !== undefined ? `; min ${u.rule.min_providers}` : ''})`;
    case 'remove_rule':
      return `remove rule ${u.ruleId}`;
    case 'set_weights':
      return `${u.replace ? 'replace' : 'set'} weights ${Object.entries(u.weights).map(([k, v]) => `${k}=${v}`).join(', ')}`;
    case 'demote':
      return `demote ${u.target}`;
    case 'promote':
      return `promote ${u.target}`;
    case 'set_exploration':
      return `exploration ${u.rate}${u.method ? ` (${u.method})` : ''}`;
    case 'set_objective':
      return `objective ${u.objective.kind}`;
    case 'set_strategy':
      return `strategy ${u.strategy}`;
  }
}

/**
 * Apply one update (parsed: `parseRoutingUpdate` in ./policy-schemas) to a policy. Pure: returns the next policy (version = current + 1, provisional:
 * the workflow replaces it with the number the database assigns), `changed: false` when the update
 * changes nothing, or a typed error naming every problem found.
 *
 * @param at ISO-8601 time of the change (from the workflow's deterministic clock).
 */
export function applyParsedUpdate(policy: RoutingPolicy, u: ParsedRoutingUpdate, known: KnownProviders, at: string = policy.updatedAt): ApplyUpdateResult {
  const next: RoutingPolicy = {
    ...policy,
    rules: [...policy.rules],
    weights: { ...policy.weights },
    demoted: { ...policy.demoted },
    version: policy.version + 1,
    updatedAt: at,
    source: u.source,
    reason: u.reason,
    basedOn: policy.version,
  };
  const reject = (issues: PolicyIssue[]): ApplyUpdateResult => ({ ok: false, error: policyError(u.kind, issues) });

  switch (u.kind) {
    case 'set_rule': {
      const issues = ruleIssues(u.rule, known, 'rule');
      if (issues.length > 0) return reject(issues);
      const id = ruleId(u.rule);
      const rule: RoutingRule = { ...u.rule, id };
      // The new rule must be the only one for its id and for its (task_type, complexity): it then
      // wins exactly where it says, whatever the order of the others.
      const clashes = (r: RoutingRule) => ruleId(r) === id || (r.task_type === rule.task_type && r.complexity === rule.complexity);
      const first = next.rules.findIndex(clashes);
      const kept = next.rules.filter((r) => !clashes(r));
      // In place of the first rule it replaces (no rule before that one clashes), else at the end.
      if (first < 0) kept.push(rule);
      else kept.splice(first, 0, rule);
      next.rules = kept;
      break;
    }
    case 'remove_rule': {
      const kept = next.rules.filter((r) => ruleId(r) !== u.ruleId);
      if (kept.length === next.rules.length) {
        return reject([{ path: 'ruleId', code: 'UnknownRule', message: `no rule "${u.ruleId}" (rules: ${next.rules.map(ruleId).join(', ') || 'none'})` }]);
      }
      next.rules = kept;
      break;
    }
    case 'set_weights': {
      const issues = Object.keys(u.weights)
        .map((s) => selectorIssue(known, s, `weights.${s}`))
        .filter((i): i is PolicyIssue => i !== null);
      if (issues.length > 0) return reject(issues);
      if (u.replace) next.weights = {};
      for (const [k, w] of Object.entries(u.weights)) {
        if (w === 1) delete next.weights[k];
        else next.weights[k] = w;
      }
      break;
    }
    case 'demote': {
      const issue = selectorIssue(known, u.target, 'target');
      if (issue) return reject([issue]);
      if (!Object.hasOwn(next.demoted, u.target)) next.demoted[u.target] = { at, source: u.source, reason: u.reason };
      break;
    }
    case 'promote': {
      // No provider check: promoting something that is no longer configured only cleans up.
      delete next.demoted[u.target];
      break;
    }
    case 'set_exploration':
      next.explorationRate = u.rate;
      if (u.method) next.explorationMethod = u.method;
      break;
    case 'set_objective':
      next.objective = u.objective;
      break;
    case 'set_strategy':
      next.strategy = u.strategy;
      break;
  }
  const summary = describeUpdate(u);
  if (samePolicyContent(next, policy)) return { ok: true, changed: false, policy, update: u, summary };
  return { ok: true, changed: true, policy: next, update: u, summary };
}

// ---------------------------------------------------------------------------------------------
// Reading a policy

function selectorParts(selector: string, known: KnownProviders): { provider: string; model: string | undefined } {
  const i = selector.indexOf(':');
  const provider = i < 0 ? selector : selector.slice(0, i);
  return { provider, model: i < 0 ? known[provider]?.defaultModel : selector.slice(i + 1) };
}

/** The demotion that applies to a provider/model (the model-level one first), or null. */
export function demotionOf(policy: Pick<RoutingPolicy, 'demoted'>, provider: string, model: string): Demotion | null {
  return policy.demoted[`${provider}:${model}`] ?? policy.demoted[provider] ?? null;
}

/** The weight of a provider/model (the model-level one first); 1 when none is set. */
export function weightOf(policy: Pick<RoutingPolicy, 'weights'>, provider: string, model: string): number {
  return policy.weights[`${provider}:${model}`] ?? policy.weights[provider] ?? 1;
}

/** Move demoted selectors behind the others: out of `primary` into the end of `fallback` (unless all are demoted). */
function demote(primary: string[], fallback: string[], policy: RoutingPolicy, known: KnownProviders): { primary: string[]; fallback: string[] } {
  const isDemoted = (s: string) => {
    const { provider, model } = selectorParts(s, known);
    return (model !== undefined && demotionOf(policy, provider, model) !== null) || Object.hasOwn(policy.demoted, provider);
  };
  const keep = primary.filter((s) => !isDemoted(s));
  if (keep.length === 0) return { primary, fallback: [...fallback.filter((s) => !isDemoted(s)), ...fallback.filter(isDemoted)] };
  return {
    primary: keep,
    fallback: [...fallback.filter((s) => !isDemoted(s)), ...primary.filter(isDemoted), ...fallback.filter(isDemoted)],
  };
}

/**
 * The configuration request planning should use under this policy: config.yaml with its routing
 * rules and default route replaced by the policy's, demoted providers moved to the back of each
 * route's fallback chain. `planRoute({ config: configWithPolicy(config, policy), ..., routingPolicyVersion: policy.version })`.
 */
export function configWithPolicy(config: Config, policy: RoutingPolicy): Config {
  const known = knownProvidersFromConfig(config);
  const defaults = demote(policy.defaultProviders, policy.defaultFallback, policy, known);
  return {
    ...config,
    routing: {
      ...config.routing,
      default_providers: defaults.primary,
      default_fallback: defaults.fallback,
      rules: policy.rules.map((r) => {
        const route = demote(r.providers, r.fallback, policy, known);
        return { ...r, providers: route.primary, fallback: route.fallback };
      }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The base (config.yaml) and the run-time changes layered on it

/**
 * The part of the policy config.yaml defines: `routing.default_strategy`, `routing.rules`,
 * `routing.default_providers` and `routing.default_fallback`. Everything else in the policy
 * (weights, demotions, exploration, objective) only ever comes from run-time changes.
 */
export interface RoutingBase {
  strategy: RoutingStrategy;
  rules: RoutingRule[];
  defaultProviders: string[];
  defaultFallback: string[];
}

/** What a worker announces at start (applyBaseConfig signal): its config.yaml base and providers. */
export interface RoutingBaseConfig {
  base: RoutingBase;
  knownProviders: KnownProviders;
  /** Hash of `base` (for display; the workflow compares content). */
  hash: string;
  /** Who announces it, e.g. `worker@host:pid` (for logs). */
  source: string;
  /** Optional: the workflow reports the outcome under it (routingChangeOutcome query). */
  id?: string;
}

export function baseOf(policy: Pick<RoutingPolicy, 'strategy' | 'rules' | 'defaultProviders' | 'defaultFallback'>): RoutingBase {
  return {
    strategy: policy.strategy,
    rules: policy.rules.map((r) => ({ ...r, providers: [...r.providers], fallback: [...r.fallback] })),
    defaultProviders: [...policy.defaultProviders],
    defaultFallback: [...policy.defaultFallback],
  };
}

/** The routing base of a configuration (the same fields policyFromConfig reads). */
export function baseFromConfig(config: Parameters<typeof policyFromConfig>[0]): RoutingBase {
  return baseOf(policyFromConfig(config, ''));
}

/** Canonical JSON of a base (rule ids filled in), for hashing and comparing. */
export function canonicalBase(base: RoutingBase): string {
  return canonical({ ...base, rules: base.rules.map(normalRule) });
}

export function sameBase(a: RoutingBase, b: RoutingBase): boolean {
  return canonicalBase(a) === canonicalBase(b);
}

/** A rule with its id filled in, so `{ task_type: 'qa' }` and `{ id: 'qa:any', task_type: 'qa' }` compare equal. */
function normalRule(rule: RoutingRule): RoutingRule {
  return { ...rule, id: ruleId(rule) };
}

function sameRule(a: RoutingRule | undefined, b: RoutingRule | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonical(normalRule(a)) === canonical(normalRule(b));
}

const list = (items: readonly string[]) => (items.length > 0 ? items.join(',') : '(none)');
const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function rulesById(rules: readonly RoutingRule[]): Map<string, RoutingRule> {
  return new Map(rules.map((r) => [ruleId(r), r]));
}

/**
 * What changed from one base to the next, one item per change, e.g.
 * `['rule +translation-any', 'rule ~code_review:any', 'default_providers openai,anthropic -> google']`.
 * Empty when they are the same.
 */
export function describeBaseChange(from: RoutingBase, to: RoutingBase): string[] {
  const out: string[] = [];
  if (from.strategy !== to.strategy) out.push(`strategy ${from.strategy} -> ${to.strategy}`);
  const before = rulesById(from.rules);
  const after = rulesById(to.rules);
  for (const [id, rule] of after) {
    if (!before.has(id)) out.push(`rule +${id}`);
    else if (!sameRule(before.get(id), rule)) out.push(`rule ~${id}`);
  }
  for (const id of before.keys()) if (!after.has(id)) out.push(`rule -${id}`);
  const common = (rules: RoutingRule[], other: Map<string, RoutingRule>) => rules.map(ruleId).filter((id) => other.has(id));
  if (out.every((o) => !o.startsWith('rule ')) && !sameList(common(from.rules, after), common(to.rules, before))) out.push('rules reordered');
  if (!sameList(from.defaultProviders, to.defaultProviders)) out.push(`default_providers ${list(from.defaultProviders)} -> ${list(to.defaultProviders)}`);
  if (!sameList(from.defaultFallback, to.defaultFallback)) out.push(`default_fallback ${list(from.defaultFallback)} -> ${list(to.defaultFallback)}`);
  return out;
}

/**
 * The run-time changes a policy carries on top of its base, one item per change
 * (`rule +qa-simple`, `rule -review-any`, `strategy performance_based`, `demoted openai`, ...).
 */
export function describeLayers(base: RoutingBase, policy: RoutingPolicy): string[] {
  const out: string[] = [];
  if (policy.strategy !== base.strategy) out.push(`strategy ${policy.strategy}`);
  const inBase = rulesById(base.rules);
  const inPolicy = rulesById(policy.rules);
  for (const [id, rule] of inPolicy) {
    if (!inBase.has(id)) out.push(`rule +${id}`);
    else if (!sameRule(inBase.get(id), rule)) out.push(`rule ~${id}`);
  }
  for (const id of inBase.keys()) if (!inPolicy.has(id)) out.push(`rule -${id}`);
  if (!sameList(policy.defaultProviders, base.defaultProviders)) out.push(`default_providers ${list(policy.defaultProviders)}`);
  if (!sameList(policy.defaultFallback, base.defaultFallback)) out.push(`default_fallback ${list(policy.defaultFallback)}`);
  for (const [k, w] of Object.entries(policy.weights)) out.push(`weight ${k}=${w}`);
  for (const k of Object.keys(policy.demoted)) out.push(`demoted ${k}`);
  if (policy.explorationRate !== DEFAULT_EXPLORATION_RATE || policy.explorationMethod !== 'thompson') out.push(`exploration ${policy.explorationRate} (${policy.explorationMethod})`);
  if (policy.objective.kind !== 'quality_first' || policy.objective.maxCostUsd !== undefined || policy.objective.maxLatencyMs !== undefined) out.push(`objective ${policy.objective.kind}`);
  return out;
}

/** A run-time change the new base overrides, or that no longer fits the configured providers. */
export interface BaseConflict {
  /** What it is about: `rule translation-any`, `strategy`, `demotion mistral`, `weight google:gemini-x`. */
  item: string;
  /** The run-time change that was dropped: `set_rule`, `remove_rule`, `set_strategy`, `demote`, ... */
  kind: string;
  /** Who made the run-time change, when known (a demotion records it). */
  source: string | null;
  message: string;
  issues: PolicyIssue[];
}

export interface RebaseResult {
  /** The base with the run-time changes re-applied (version = current + 1, provisional). */
  policy: RoutingPolicy;
  /** The run-time changes kept, as describeLayers names them. */
  kept: string[];
  conflicts: BaseConflict[];
}

/**
 * Re-apply the run-time changes of `policy` (what differs from `oldBase`) on `newBase`. A change
 * conflicts when config.yaml changed the same thing between the two bases (a rule of the same id,
 * or of the same task type and complexity; the strategy; the default route) or when it names a
 * provider or model `known` no longer has: config.yaml wins and the conflict is returned by name.
 * Pure and deterministic (workflow code).
 */
export function rebasePolicy(input: { policy: RoutingPolicy; oldBase: RoutingBase; newBase: RoutingBase; known: KnownProviders; at: string; source: string; reason: string }): RebaseResult {
  const { policy, oldBase, newBase, known } = input;
  const conflicts: BaseConflict[] = [];
  const conflict = (item: string, kind: string, message: string, issues: PolicyIssue[] = [], source: string | null = null) =>
    conflicts.push({ item, kind, source, message, issues: issues.length > 0 ? issues : [{ path: item, code: 'BaseConflict', message }] });
  const oldRules = rulesById(oldBase.rules);
  const newRules = rulesById(newBase.rules);
  const current = rulesById(policy.rules);
  const slot = (r: RoutingRule) => `${r.task_type}/${r.complexity}`;
  let rules: RoutingRule[] = newBase.rules.map((r) => ({ ...r, providers: [...r.providers], fallback: [...r.fallback] }));

  // Base rules removed at run time (not replaced by another rule for the same task type and complexity).
  for (const [id, old] of oldRules) {
    if (current.has(id)) continue;
    if (policy.rules.some((r) => slot(r) === slot(old))) continue; // replaced: handled with the replacement below
    const now = newRules.get(id);
    if (now === undefined) continue; // config.yaml removed it too
    if (sameRule(now, old)) rules = rules.filter((r) => ruleId(r) !== id);
    else conflict(`rule ${id}`, 'remove_rule', `removed at run time, but config.yaml changed it; config.yaml's rule ${id} applies`);
  }

  // Rules added or changed at run time.
  for (const rule of policy.rules) {
    const id = ruleId(rule);
    const old = oldRules.get(id);
    const now = newRules.get(id);
    if (old !== undefined && sameRule(old, rule)) continue; // a base rule as it was
    if (now !== undefined && sameRule(now, rule)) continue; // config.yaml now says the same
    if (!sameRule(old, now)) {
      const what = old === undefined ? 'config.yaml now defines a rule with this id' : now === undefined ? 'config.yaml removed this rule' : 'config.yaml changed this rule';
      conflict(`rule ${id}`, 'set_rule', `set at run time, but ${what}; config.yaml's version applies`);
      continue;
    }
    const clash = rules.find((r) => ruleId(r) !== id && slot(r) === slot(rule) && !sameRule(oldRules.get(ruleId(r)), r));
    if (clash) {
      conflict(`rule ${id}`, 'set_rule', `set at run time for ${slot(rule)}, but config.yaml's rule ${ruleId(clash)} for ${slot(rule)} is new or changed; config.yaml's rule applies`);
      continue;
    }
    const issues = ruleIssues(rule, known, `rule ${id}`);
    if (issues.length > 0) {
      conflict(`rule ${id}`, 'set_rule', `set at run time, but it no longer fits the configured providers: ${issues.map((i) => i.message).join('; ')}`, issues);
      continue;
    }
    const replaces = (r: RoutingRule) => ruleId(r) === id || slot(r) === slot(rule);
    const first = rules.findIndex(replaces);
    const kept = rules.filter((r) => !replaces(r));
    if (first < 0) kept.push(normalRule(rule));
    else kept.splice(first, 0, normalRule(rule));
    rules = kept;
  }

  // Strategy and default route: a run-time value stays unless config.yaml changed the same field.
  function scalar<T>(item: string, kind: string, base: T, next: T, mine: T, same: (a: T, b: T) => boolean, valid: (v: T) => PolicyIssue[]): T {
    if (same(mine, base)) return next; // not changed at run time
    if (same(mine, next)) return next; // config.yaml caught up
    if (!same(base, next)) {
      conflict(item, kind, `changed at run time, but config.yaml changed it too; config.yaml's value applies`);
      return next;
    }
    const issues = valid(mine);
    if (issues.length > 0) {
      conflict(item, kind, `changed at run time, but it no longer fits the configured providers: ${issues.map((i) => i.message).join('; ')}`, issues);
      return next;
    }
    return mine;
  }
  const selectors = (path: string) => (items: string[]) => items.map((s, i) => selectorIssue(known, s, `${path}.${i}`)).filter((i): i is PolicyIssue => i !== null);
  const strategy = scalar('strategy', 'set_strategy', oldBase.strategy, newBase.strategy, policy.strategy, (a, b) => a === b, () => []);
  const defaultProviders = scalar('default_providers', 'rollback', oldBase.defaultProviders, newBase.defaultProviders, policy.defaultProviders, sameList, selectors('defaultProviders'));
  const defaultFallback = scalar('default_fallback', 'rollback', oldBase.defaultFallback, newBase.defaultFallback, policy.defaultFallback, sameList, selectors('defaultFallback'));

  // Weights and demotions are run-time only: kept while their provider and model are configured.
  const weights: Record<string, number> = {};
  for (const [k, w] of Object.entries(policy.weights)) {
    const issue = selectorIssue(known, k, `weights.${k}`);
    if (issue) conflict(`weight ${k}`, 'set_weights', `dropped: ${issue.message}`, [issue]);
    else weights[k] = w;
  }
  const demoted: Record<string, Demotion> = {};
  for (const [k, d] of Object.entries(policy.demoted)) {
    const issue = selectorIssue(known, k, `demoted.${k}`);
    if (issue) conflict(`demotion ${k}`, 'demote', `demoted by ${d.source}, dropped: ${issue.message}`, [issue], d.source);
    else demoted[k] = d;
  }

  const next: RoutingPolicy = {
    ...policy,
    strategy,
    rules,
    defaultProviders: [...defaultProviders],
    defaultFallback: [...defaultFallback],
    weights,
    demoted,
    version: policy.version + 1,
    updatedAt: input.at,
    source: input.source,
    reason: input.reason,
    basedOn: policy.version,
  };
  return { policy: next, kept: describeLayers(newBase, next), conflicts };
}
