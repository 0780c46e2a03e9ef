/**
 * Route planning: which providers a request calls, in what order, and what it needs from them.
 * Static rules from config.yaml for now; the most specific matching rule wins.
 */
import { resolveSelector, selectorProblem } from '../config/load';
import type { Config, RoutingRule } from '../config/schema';
import { InvalidRequest, ModelProviderNotFound, zodIssues } from '../errors';
import { OrchestrateRequestSchema, type OrchestrateRequest, type ProviderTarget, type RoutePlan } from '../types';
import type { ComplexityAssessment } from './complexity';

/** Validate a request against the schema and the configuration. Throws a typed error; changes nothing. */
export function validateRequest(config: Config, input: unknown): OrchestrateRequest {
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
    const available = maxRouteSize(config, request);
    if (request.minProviders > available) {
      throw new InvalidRequest(
        `minProviders ${request.minProviders} exceeds the ${available} provider(s) available to task type "${request.taskType}"`,
        [{ path: 'minProviders', message: `at most ${available}` }],
      );
    }
  }
  return request;
}

function unique(selectors: string[]): string[] {
  return [...new Set(selectors)];
}

function maxRouteSize(config: Config, request: OrchestrateRequest): number {
  if (request.providers) return unique(request.providers).length;
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
  return {
    ...resolved,
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
  return {
    complexity,
    complexityScore: assessment.score,
    complexitySource,
    complexityFeatures: assessment.features,
    targets: ordered.slice(0, firstWave),
    fallbacks: ordered.slice(firstWave),
    minProviders,
    requireConsensus,
    consensusStrategy: config.consensus.default_strategy,
    ruleId: request.providers ? 'request.providers' : rule ? (rule.id ?? `rules[${match.index}]`) : null,
    routingPolicyVersion,
  };
}
