/**
 * Route planning: which providers a request calls, in what order, and what it needs from them.
 * The most specific matching rule (or the default route) gives the candidates; under
 * performance_based routing, `rankRoute` then orders them by measured history (src/routing/bandit.ts).
 */
import { resolveSelector, selectorProblem } from '../config/load';
import type { Config, RoutingRule } from '../config/schema';
import { InvalidRequest, ModelProviderNotFound, zodIssues } from '../errors';
import { OrchestrateRequestSchema, type OrchestrateRequest, type ProviderTarget, type RoutePlan } from '../types';
import { decideRoute, orderByDecision, type RandomSource } from './bandit';
import type { ComplexityAssessment } from './complexity';
import type { RoutingPolicy } from './policy';
import type { RoutingStatsSnapshot, StatsLookup } from './stats';

/** The consensus strategies every worker registers (src/consensus/index.ts `defaultConsensusRegistry`). */
export const BUILT_IN_CONSENSUS_STRATEGIES: readonly string[] = ['lexical', 'similarity', 'voting', 'confidence'];

/**
 * The strategy names a worker built from this configuration knows: the built-in ones, `judge` when
 * `consensus.strategies.judge` is set, and every other name under `consensus.strategies` (a custom
 * strategy registered in the worker's `setup`, declared there so clients know it, settings may be `{}`).
 */
export function configuredConsensusStrategies(config: Config): string[] {
  const declared = Object.entries(config.consensus.strategies)
    .filter(([, settings]) => settings !== undefined)
    .map(([name]) => name);
  return [...new Set([...BUILT_IN_CONSENSUS_STRATEGIES, ...declared])];
}

export interface ValidateRequestOptions {
  /**
   * Check the request's consensus strategy (its own, else the task type's, else the default)
   * against these names. The client passes `configuredConsensusStrategies(config)`; the worker
   * checks against its registry instead, which may hold strategies registered in code.
   */
  consensusStrategies?: readonly string[];
}

/**
 * Validate a request against the schema and the configuration. Throws a typed error; changes nothing.
 * Every check here is one the worker's planning makes too, so a client holding the configuration
 * refuses what the worker would refuse before any workflow starts.
 */
export function validateRequest(config: Config, input: unknown, options: ValidateRequestOptions = {}): OrchestrateRequest {
  const parsed = OrchestrateRequestSchema.safeParse(input);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new InvalidRequest(`invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  const request = parsed.data;
  for (const selector of request.providers ?? []) {
    const problem = selectorProblem(config, selector);
    if (problem) throw new ModelProviderNotFound(`providers: ${problem}`, { selector });
  }
  if (request.minProviders !== undefined) {
    // With the complexity given, the route is known exactly; otherwise the largest one the task type can get.
    const available = maxRouteSize(config, request);
    if (request.minProviders > available) {
      throw new InvalidRequest(
        `minProviders ${request.minProviders} exceeds the ${available} provider(s) available to task type "${request.taskType}"${request.complexityOverride ? ` at complexity ${request.complexityOverride}` : ''}`,
        [{ path: 'minProviders', message: `at most ${available}` }],
      );
    }
  }
  if (options.consensusStrategies) {
    const known = options.consensusStrategies;
    const strategy = request.consensusStrategy ?? config.consensus.task_types[request.taskType] ?? config.consensus.default_strategy;
    if (!known.includes(strategy)) {
      const where =
        request.consensusStrategy !== undefined
          ? 'consensusStrategy'
          : config.consensus.task_types[request.taskType] !== undefined
            ? `consensus.task_types.${request.taskType}`
            : 'consensus.default_strategy';
      throw new InvalidRequest(`${where}: unknown consensus strategy "${strategy}" (registered: ${known.join(', ')})`, [
        { path: 'consensusStrategy', message: `one of ${known.join(', ')}` },
      ]);
    }
  }
  return request;
}

function unique(selectors: string[]): string[] {
  return [...new Set(selectors)];
}

function maxRouteSize(config: Config, request: OrchestrateRequest): number {
  if (request.providers) return unique(request.providers).length;
  if (request.complexityOverride) {
    const rule = matchRule(config.routing.rules, request.taskType, request.complexityOverride)?.rule;
    return rule ? unique([...rule.providers, ...rule.fallback]).length : unique([...config.routing.default_providers, ...config.routing.default_fallback]).length;
  }
  const routes = config.routing.rules
    .filter((r) => r.task_type === request.taskType)
    .map((r) => unique([...r.providers, ...r.fallback]).length);
  routes.push(unique([...config.routing.default_providers, ...config.routing.default_fallback]).length);
  return Math.max(...routes);
}

/** The most specific rule for a task type and complexity: exact complexity beats `any`; earlier beats later. */
export function matchRule(rules: readonly RoutingRule[], taskType: string, complexity: string): { rule: RoutingRule; index: number } | null {
  let best: { rule: RoutingRule; index: number; specificity: number } | null = null;
  rules.forEach((rule, index) => {
    if (rule.task_type !== taskType) return;
    if (rule.complexity !== 'any' && rule.complexity !== complexity) return;
    const specificity = rule.complexity === 'any' ? 1 : 2;
    if (!best || specificity > best.specificity) best = { rule, index, specificity };
  });
  return best;
}

function target(config: Config, selector: string): ProviderTarget {
  const resolved = resolveSelector(config, selector);
  if (!resolved) throw new ModelProviderNotFound(`unknown provider in route: ${selector}`, { selector });
  const perf = config.performance.models[resolved.provider];
  const contextWindow = config.models[resolved.provider]?.context_windows[resolved.model];
  return {
    ...resolved,
    ...(contextWindow !== undefined && { contextWindow }),
    timeoutMs: (perf?.timeout ?? config.performance.request_timeout) * 1000,
    maxAttempts: perf?.max_attempts ?? 3,
    initialBackoffMs: perf?.initial_backoff_ms ?? 500,
  };
}

export interface PlanInput {
  config: Config;
  request: OrchestrateRequest;
  assessment: ComplexityAssessment;
  complexitySource: RoutePlan['complexitySource'];
  routingPolicyVersion: number;
}

export function planRoute({ config, request, assessment, complexitySource, routingPolicyVersion }: PlanInput): RoutePlan {
  const { complexity } = assessment;
  const match = request.providers ? null : matchRule(config.routing.rules, request.taskType, complexity);
  const rule = match?.rule;
  const listed = unique(request.providers ?? rule?.providers ?? config.routing.default_providers);
  const chain = request.providers ? [] : unique(rule ? rule.fallback : config.routing.default_fallback).filter((s) => !listed.includes(s));

  const requireConsensus =
    request.requireConsensus ?? rule?.require_consensus ?? (complexity === 'complex' && config.routing.require_consensus_for_complex);
  const minProviders = request.minProviders ?? rule?.min_providers ?? (requireConsensus ? Math.min(2, listed.length) : config.routing.default_min_providers);

  if (minProviders > listed.length + chain.length) {
    throw new InvalidRequest(
      `minProviders ${minProviders} exceeds the ${listed.length + chain.length} provider(s) of the route ${rule?.id ?? 'default'}`,
      [{ path: 'minProviders', message: `at most ${listed.length + chain.length}` }],
    );
  }
  // Consensus asks every listed provider; otherwise call only as many as needed and keep the rest for failover.
  const firstWave = requireConsensus ? Math.max(listed.length, minProviders) : minProviders;
  const ordered = [...listed, ...chain].map((s) => target(config, s));
  const inRoute = new Set(ordered.map((t) => `${t.provider}:${t.model}`));
  // Escalation reaches past the route: the other enabled providers' default models, default route first.
  const escalation = request.providers
    ? []
    : unique([...config.routing.default_providers, ...Object.keys(config.models)])
        .filter((s) => config.models[s.split(':')[0] ?? '']?.enabled !== false)
        .map((s) => target(config, s))
        .filter((t) => !inRoute.has(`${t.provider}:${t.model}`) && inRoute.add(`${t.provider}:${t.model}`));
  const consensusStrategy = request.consensusStrategy ?? config.consensus.task_types[request.taskType] ?? config.consensus.default_strategy;
  const settings = config.consensus;
  return {
    complexity,
    complexityScore: assessment.score,
    complexitySource,
    complexityFeatures: assessment.features,
    targets: ordered.slice(0, firstWave),
    fallbacks: ordered.slice(firstWave),
    minProviders,
    requireConsensus,
    consensusStrategy,
    consensus: {
      strategy: consensusStrategy,
      earlyStop: settings.early_stop,
      embedAsTheyArrive: consensusStrategy === 'similarity',
      agreementThreshold: settings.confidence_threshold,
      escalation: settings.escalation.enabled ? escalation : [],
      maxProviders: settings.escalation.enabled ? Math.max(settings.escalation.max_providers, firstWave) : firstWave,
      onLowConfidence: settings.escalation.on_low_confidence,
    },
    // Filled by the planRequest activity (cache key, token estimates); off here.
    resilience: { cacheKey: null, admission: false, promptTokens: 0, maxTokens: 0, deadlineMs: config.performance.request_timeout * 1000, hedging: null },
    ruleId: request.providers ? 'request.providers' : rule ? (rule.id ?? `rules[${match.index}]`) : null,
    routingPolicyVersion,
    routingDecision: null,
    // Names given by the caller take the default route's mode.
    providerCalls: (request.providers ? undefined : rule?.provider_calls) ?? config.performance.provider_calls,
  };
}

export interface RankInput {
  plan: RoutePlan;
  policy: Pick<RoutingPolicy, 'version' | 'strategy' | 'weights' | 'demoted' | 'explorationRate' | 'explorationMethod' | 'objective'>;
  taskType: string;
  stats: RoutingStatsSnapshot | StatsLookup | null;
  random: RandomSource;
}

/**
 * Performance-based ordering of a static plan: every candidate of the route (first wave and
 * fallbacks) is scored from its own history, then the first wave is refilled from the top of the
 * ranking, so the same number of providers is called. A plan whose providers the caller named, or a
 * static policy, is returned unchanged.
 */
export function rankRoute({ plan, policy, taskType, stats, random }: RankInput): RoutePlan {
  if (policy.strategy !== 'performance_based' || plan.ruleId === 'request.providers') return plan;
  const candidates = [...plan.targets, ...plan.fallbacks];
  if (candidates.length < 2) return plan;
  const decision = decideRoute({ policy, taskType, complexity: plan.complexity, candidates, stats, random });
  const ordered = orderByDecision(candidates, decision);
  return { ...plan, targets: ordered.slice(0, plan.targets.length), fallbacks: ordered.slice(plan.targets.length), routingDecision: decision };
}

/** Attach each target's observed latency (p50, p95) for this task type and complexity, where the statistics have it. */
export function withObservedLatency(plan: RoutePlan, taskType: string, lookup: StatsLookup): RoutePlan {
  const attach = (t: ProviderTarget): ProviderTarget => {
    const latency = lookup({ taskType, complexity: plan.complexity, provider: t.provider, model: t.model })?.summary.latencyMs;
    return latency ? { ...t, observedLatencyMs: { p50: Math.round(latency.p50), p95: Math.round(latency.p95) } } : t;
  };
  return {
    ...plan,
    targets: plan.targets.map(attach),
    fallbacks: plan.fallbacks.map(attach),
    consensus: { ...plan.consensus, escalation: plan.consensus.escalation.map(attach) },
  };
}
