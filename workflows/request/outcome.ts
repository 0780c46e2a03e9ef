/** The request's outcome: per-call usage, totals, and the result returned to the client. */
import { workflowInfo } from '@temporalio/workflow';
import type { OrchestrateRequest, OrchestrationMetadata, OrchestrationResult, ProviderCallOutcome, ProviderUsage, RoutePlan } from '../../src/types';
import type { FanOut } from './fan-out';

/**
 * When the request ran. Deadlines count from `startedAt` (the first workflow task), as they
 * always have; reported times count from `reportFrom`, the workflow's start (Temporal's start
 * time, when the client asked) for runs of the current code, so queue wait is not hidden.
 */
export interface RunClock {
  startedAt: number;
  reportFrom: number;
  /** From the workflow's start to its first workflow task; null in histories from before it was reported. */
  queuedMs: number | null;
  /** Failed and cancelled calls report the workflow time they took (null: histories from before, which reported 0). */
  callTimes: boolean;
}

/** A call's latency: the provider's figure for an answer; for a failure or a cancellation, the time it took. */
export function callLatencyMs(o: ProviderCallOutcome, clock: RunClock): number | null {
  if (o.response) return o.response.latencyMs;
  return clock.callTimes && o.elapsedMs !== undefined ? o.elapsedMs : null;
}

function usage(outcomes: ProviderCallOutcome[], clock?: RunClock): ProviderUsage[] {
  return outcomes.map((o) => ({
    provider: o.provider,
    model: o.model,
    tokensIn: o.response?.tokensIn ?? 0,
    tokensOut: o.response?.tokensOut ?? 0,
    latencyMs: (clock ? callLatencyMs(o, clock) : null) ?? o.response?.latencyMs ?? 0,
    costUsd: o.response?.costUsd ?? 0,
    status: o.status,
    errorType: o.errorType,
    ...(o.response?.firstTokenMs !== undefined && { firstTokenMs: o.response.firstTokenMs }),
  }));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Per-call usage and the request's totals, shared by the result and the stored record. */
export function totals(outcomes: ProviderCallOutcome[], clock?: RunClock) {
  const providers = usage(outcomes, clock);
  return {
    providers,
    providersUsed: providers.filter((p) => p.status === 'succeeded').map((p) => p.provider),
    tokensIn: sum(providers.map((p) => p.tokensIn)),
    tokensOut: sum(providers.map((p) => p.tokensOut)),
    costUsd: roundUsd(sum(providers.map((p) => p.costUsd))),
  };
}

/** The answer and its consensus figures, as the result metadata names them. */
export type Outcome = { response: string } & Pick<
  OrchestrationMetadata,
  'confidence' | 'agreement' | 'dissenting' | 'thresholdMet' | 'lowConfidence' | 'escalated' | 'consensusDetails' | 'consensusApplied' | 'consensusStrategy'
>;

/** Set when the answer came from the response cache. */
export interface CacheMeta {
  cachedFrom: string;
}

export function buildResult(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], clock: RunClock, fan: FanOut, o: Outcome, cache?: CacheMeta): OrchestrationResult {
  const { providers, ...sums } = totals(outcomes, clock);
  return {
    response: o.response,
    metadata: {
      workflowId: workflowInfo().workflowId,
      requestId: request.requestId ?? null,
      taskType: request.taskType,
      userId: request.userId,
      providersUsed: sums.providersUsed,
      confidence: o.confidence,
      consensusApplied: o.consensusApplied,
      consensusStrategy: o.consensusStrategy,
      agreement: o.agreement,
      dissenting: o.dissenting,
      thresholdMet: o.thresholdMet,
      lowConfidence: o.lowConfidence,
      escalated: o.escalated,
      consensusDetails: o.consensusDetails,
      cancelledCalls: fan.cancelled,
      latencySavedMs: fan.cancelled > 0 ? fan.latencySavedMs : null,
      hedgedCalls: fan.hedges,
      cacheHit: cache !== undefined,
      cachedFrom: cache?.cachedFrom ?? null,
      waitedMs: Math.round(fan.waitedMs),
      complexity: plan.complexity,
      complexityScore: plan.complexityScore,
      processingTimeMs: Date.now() - clock.reportFrom,
      ...(clock.queuedMs !== null && { queuedMs: clock.queuedMs }),
      providers,
      tokensIn: sums.tokensIn,
      tokensOut: sums.tokensOut,
      costUsd: sums.costUsd,
      routingPolicyVersion: plan.routingPolicyVersion,
      routingRule: plan.ruleId,
      routingDecision: plan.routingDecision,
    },
  };
}

function roundUsd(x: number): number {
  return Math.round(x * 1e8) / 1e8;
}
