/**
 * Event payloads from what the emitting activities hold: the request as it arrived, the route plan,
 * the stored interaction, the stored result of an earlier run. Pure functions; never any prompt or
 * answer text (the builders pick fields, they never spread a record).
 */
import type { InteractionRecord } from '../memory/repository';
import type { OrchestrationResult, RoutePlan } from '../types';
import type { OrchestratorEvents } from './types';

type RequestRef = OrchestratorEvents['request.started'];

/** The ids an activity knows about its request: from the workflow input, which may not be valid yet. */
export interface RequestIds {
  workflowId: string;
  requestId?: string | null | undefined;
  taskType?: string | undefined;
  userId?: string | undefined;
}

/** The request's ids from a request that may not have passed validation (only short strings are taken). */
export function requestIdsOf(workflowId: string, request: unknown): RequestIds {
  const r = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined);
  return { workflowId, requestId: text(r['requestId']) ?? null, taskType: text(r['taskType']), userId: text(r['userId']) };
}

export function requestRef(ids: RequestIds, attempt: number, at = Date.now()): RequestRef {
  return {
    workflowId: ids.workflowId,
    requestId: ids.requestId ?? ids.workflowId,
    taskType: ids.taskType ?? '',
    ...(ids.userId !== undefined && { userId: ids.userId }),
    attempt,
    at,
  };
}

const target = ({ provider, model }: { provider: string; model: string }) => ({ provider, model });

export function routedEvent(ref: RequestRef, plan: RoutePlan): OrchestratorEvents['request.routed'] {
  const decision = plan.routingDecision;
  const route = plan.ruleId === null ? 'default route' : plan.ruleId === 'request.providers' ? "the request's providers" : `rule ${plan.ruleId}`;
  return {
    ...ref,
    complexity: plan.complexity,
    strategy: decision ? 'performance_based' : 'static',
    providers: plan.targets.map(target),
    fallbacks: plan.fallbacks.map(target),
    requireConsensus: plan.requireConsensus,
    consensusStrategy: plan.consensusStrategy,
    ruleId: plan.ruleId,
    policyVersion: plan.routingPolicyVersion,
    experiment: plan.experiment ? { id: plan.experiment.id, variant: plan.experiment.variant } : null,
    reason: decision ? `${route}, ranked by history${decision.explored ? ' (exploration draw)' : ''}` : route,
  };
}

/** What a stored interaction says happened, in order: the consensus decision (when one ran), then the outcome. */
export function outcomeEvents(record: InteractionRecord, attempt: number, at = Date.now()): ({ name: 'consensus.reached'; payload: OrchestratorEvents['consensus.reached'] } | { name: 'request.completed'; payload: OrchestratorEvents['request.completed'] } | { name: 'request.failed'; payload: OrchestratorEvents['request.failed'] })[] {
  const ref = requestRef({ workflowId: record.workflowId, requestId: record.requestId, taskType: record.taskType, userId: record.userId }, attempt, at);
  if (record.status === 'failed') return [{ name: 'request.failed', payload: { ...ref, errorType: record.errorType ?? 'UnknownError', latencyMs: record.processingTimeMs } }];
  const events: ReturnType<typeof outcomeEvents> = [];
  if (record.consensusApplied && record.confidence !== null) {
    events.push({
      name: 'consensus.reached',
      payload: {
        ...ref,
        strategy: record.consensusStrategy,
        confidence: record.confidence,
        agreement: record.agreement,
        responses: record.providerCalls.filter((c) => c.status === 'succeeded').length,
        thresholdMet: record.thresholdMet ?? null,
        lowConfidence: record.lowConfidence ?? false,
      },
    });
  }
  events.push({
    name: 'request.completed',
    payload: { ...ref, latencyMs: record.processingTimeMs, costUsd: record.costUsd, providers: [...record.providersUsed], confidence: record.confidence, cached: record.cacheHit ?? false, repeated: false },
  });
  return events;
}

/** A run that returned an earlier run's stored answer: that run's figures, marked `repeated`. */
export function repeatedCompletion(ref: RequestRef, result: OrchestrationResult): OrchestratorEvents['request.completed'] {
  const m = result.metadata;
  return { ...ref, latencyMs: m.processingTimeMs, costUsd: m.costUsd, providers: [...m.providersUsed], confidence: m.confidence, cached: m.cacheHit, repeated: true };
}
