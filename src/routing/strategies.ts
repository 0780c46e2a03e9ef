/**
 * Custom routing strategies (the product description's "custom routing strategies"): a named
 * strategy orders a planned route's candidates, in place of the routing policy's own ranking
 * (static order, or performance_based scoring in src/routing/bandit.ts). Plugins provide them
 * (src/plugins); `routing.custom_strategies` names one per task type (`"*"`: every task type).
 * They run in the planRequest activity, never in workflow code: the plan they produce is recorded
 * as the activity's result, so a replay reads it instead of asking the strategy again.
 */
import type { Config } from '../config/schema';
import type { Complexity, ProviderTarget, RoutePlan } from '../types';
import type { RandomSource } from './bandit';
import type { StatsLookup } from './stats';

export interface RoutingStrategyInput {
  taskType: string;
  complexity: Complexity;
  /** The route's candidates in route order (the first wave, then the fallbacks), demotions already applied. */
  candidates: readonly ProviderTarget[];
  /** How many of them the request calls first (the rest are its fallbacks, in order). */
  firstWave: number;
  /** The routing statistics of a candidate (success, latency, cost, agreement) when this worker has them, else null. */
  stats: StatsLookup | null;
  /** A draw in [0, 1) seeded by the workflow id: the same request gets the same draws. */
  random: RandomSource;
  routingPolicyVersion: number;
}

export interface RoutingStrategy {
  /**
   * The candidates, best first: every candidate exactly once (a reordering). The first
   * `firstWave` of the result are called; the others are the fallbacks, in that order.
   */
  rank(input: RoutingStrategyInput): readonly ProviderTarget[] | Promise<readonly ProviderTarget[]>;
}

export class RoutingStrategyRegistry {
  private readonly strategies = new Map<string, RoutingStrategy>();

  register(name: string, strategy: RoutingStrategy): void {
    if (this.strategies.has(name)) throw new Error(`routing strategy "${name}" is already registered`);
    this.strategies.set(name, strategy);
  }

  get(name: string): RoutingStrategy | undefined {
    return this.strategies.get(name);
  }

  names(): string[] {
    return [...this.strategies.keys()];
  }
}

/** The strategy `routing.custom_strategies` names for a task type (its own entry, else `"*"`), or null. */
export function customStrategyName(config: Pick<Config, 'routing'>, taskType: string): string | null {
  const named = config.routing.custom_strategies;
  return named[taskType] ?? named['*'] ?? null;
}

const key = (t: ProviderTarget) => `${t.provider}:${t.model}`;

/**
 * Order a plan's candidates with a custom strategy. The result must be a reordering of the
 * candidates; anything else (a candidate missing, added or repeated) is refused with an Error
 * naming the strategy, and the plan is left as it was.
 */
export async function applyRoutingStrategy(
  name: string,
  strategy: RoutingStrategy,
  plan: RoutePlan,
  input: Omit<RoutingStrategyInput, 'candidates' | 'firstWave' | 'complexity' | 'routingPolicyVersion'>,
): Promise<RoutePlan> {
  const candidates = [...plan.targets, ...plan.fallbacks];
  if (candidates.length < 2) return plan;
  const ranked = await strategy.rank({ ...input, complexity: plan.complexity, candidates, firstWave: plan.targets.length, routingPolicyVersion: plan.routingPolicyVersion });
  if (!Array.isArray(ranked)) throw new Error(`routing strategy "${name}" returned ${typeof ranked}, not a list of candidates`);
  const byKey = new Map(candidates.map((t) => [key(t), t]));
  const seen = new Set<string>();
  const ordered: ProviderTarget[] = [];
  for (const t of ranked as unknown[]) {
    const k = typeof t === 'object' && t !== null ? key(t as ProviderTarget) : String(t);
    const original = byKey.get(k);
    if (!original) throw new Error(`routing strategy "${name}" returned "${k}", which is not a candidate of the route (${[...byKey.keys()].join(', ')})`);
    if (seen.has(k)) throw new Error(`routing strategy "${name}" returned "${k}" twice`);
    seen.add(k);
    ordered.push(original);
  }
  if (ordered.length !== candidates.length) {
    throw new Error(`routing strategy "${name}" left out ${candidates.filter((t) => !seen.has(key(t))).map(key).join(', ')} (every candidate is returned once)`);
  }
  return { ...plan, targets: ordered.slice(0, plan.targets.length), fallbacks: ordered.slice(plan.targets.length), routingDecision: null };
}
