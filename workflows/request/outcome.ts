/** The request's outcome: per-call usage, totals, and the result returned to the client. */
import { workflowInfo } from '@temporalio/workflow';
import type { OrchestrateRequest, OrchestrationResult, ProviderCallOutcome, ProviderUsage, RoutePlan } from '../../src/types';
import type { FanOut } from './fan-out';

function usage(outcomes: ProviderCallOutcome[]): ProviderUsage[] {
  return outcomes.map((o) => ({
    provider: o.provider,
    model: o.model,
    tokensIn: o.response?.tokensIn ?? 0,
    tokensOut: o.response?.tokensOut ?? 0,
    latencyMs: o.response?.latencyMs ?? 0,
    costUsd: o.response?.costUsd ?? 0,
    status: o.status,
    errorType: o.errorType,
  }));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Per-call usage and the request's totals, shared by the result and the stored record. */
export function totals(outcomes: ProviderCallOutcome[]) {
  const providers = usage(outcomes);
  return {
    providers,
    providersUsed: providers.filter((p) => p.status === 'succeeded').map((p) => p.provider),
    tokensIn: sum(providers.map((p) => p.tokensIn)),
    tokensOut: sum(providers.map((p) => p.tokensOut)),
    costUsd: roundUsd(sum(providers.map((p) => p.costUsd))),
  };
}

export interface Outcome {
  response: string;
  confidence: number | null;
  agreement: number | null;
  dissenting: string[];
  thresholdMet: boolean | null;
  lowConfidence: boolean;
  escalated: number;
  consensusDetails: unknown;
  consensusApplied: boolean;
  consensusStrategy: string;
}

/** Set when the answer came from the response cache. */
export interface CacheMeta {
  cachedFrom: string;
}

export function buildResult(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], startedAt: number, fan: FanOut, o: Outcome, cache?: CacheMeta): OrchestrationResult {
  const { providers, ...sums } = totals(outcomes);
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
      processingTimeMs: Date.now() - startedAt,
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
