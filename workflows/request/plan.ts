/** Plans as recorded by earlier workflow versions, brought to today's shape. */
import type { RoutePlan } from '../../src/types';

/**
 * Plans recorded before early stop, escalation and the resilience features existed lack those
 * sections: they run (and replay) as they did then, without them. Recorded histories in
 * test/histories/v1-* prove it.
 */
export function withDefaults(plan: RoutePlan): RoutePlan {
  const recorded = plan as Partial<RoutePlan> & Omit<RoutePlan, 'consensus' | 'routingDecision' | 'resilience'>;
  return {
    ...plan,
    routingDecision: recorded.routingDecision ?? null,
    consensus: recorded.consensus ?? {
      strategy: plan.consensusStrategy,
      earlyStop: false,
      agreementThreshold: 0,
      escalation: [],
      maxProviders: plan.targets.length + plan.fallbacks.length,
      onLowConfidence: 'flag',
    },
    resilience: recorded.resilience ?? { cacheKey: null, admission: false, promptTokens: 0, maxTokens: 0, deadlineMs: 0, hedging: null },
  };
}
