/** The stored interaction: what persistInteraction writes for a finished or failed request. */
import { workflowInfo } from '@temporalio/workflow';
import type { InteractionRecord } from '../../src/memory/repository';
import type { RequestFingerprint } from '../../src/request-fingerprint';
import type { OrchestrateRequest, ProviderCallOutcome, RoutePlan } from '../../src/types';
import type { FanOut } from './fan-out';
import { questionOf } from './question';
import { callLatencyMs, totals, type CacheMeta, type Outcome, type RunClock } from './outcome';

/** What runs of the current code store beside the record: who wrote it, for which request, what it returned. */
export interface RunIdentity {
  runId: string;
  requestFingerprint: RequestFingerprint;
}

export type RecordOutcome = { status: 'failed'; errorType: string; errorMessage: string } | ({ status: 'completed' } & Outcome);

export function record(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], clock: RunClock, fan: FanOut, o: RecordOutcome, cache?: CacheMeta, identity?: RunIdentity | null): InteractionRecord {
  const { providersUsed, tokensIn, tokensOut, costUsd } = totals(outcomes, clock);
  const now = Date.now();
  const done = o.status === 'completed' ? o : null;
  return {
    workflowId: workflowInfo().workflowId,
    ...(identity && { runId: identity.runId, requestFingerprint: identity.requestFingerprint }),
    requestId: request.requestId ?? null,
    userId: request.userId,
    taskType: request.taskType,
    complexity: plan.complexity,
    complexityScore: plan.complexityScore,
    ...recordedQuestion(request),
    systemPrompt: request.systemPrompt ?? null,
    response: done?.response ?? null,
    confidence: done?.confidence ?? null,
    agreement: done?.agreement ?? null,
    consensusStrategy: done?.consensusStrategy ?? 'none',
    consensusApplied: done?.consensusApplied ?? false,
    thresholdMet: done?.thresholdMet ?? null,
    lowConfidence: done?.lowConfidence ?? false,
    dissenting: done?.dissenting ?? [],
    consensusDetails: done?.consensusDetails ?? null,
    cancelledCalls: fan.cancelled,
    latencySavedMs: fan.cancelled > 0 ? fan.latencySavedMs : null,
    cacheHit: cache !== undefined,
    experimentId: plan.experiment?.id ?? null,
    variant: plan.experiment?.variant ?? null,
    status: o.status,
    errorType: o.status === 'failed' ? o.errorType : null,
    errorMessage: o.status === 'failed' ? o.errorMessage : null,
    routingPolicyVersion: plan.routingPolicyVersion,
    routingRule: plan.ruleId,
    routingDecision: plan.routingDecision,
    providersUsed,
    tokensIn,
    tokensOut,
    costUsd,
    processingTimeMs: now - clock.reportFrom,
    ...(clock.queuedMs !== null && { queuedMs: clock.queuedMs }),
    startedAt: new Date(clock.reportFrom),
    completedAt: new Date(now),
    providerCalls: outcomes.map((c) => ({
      callIndex: c.callIndex,
      provider: c.provider,
      model: c.model,
      attempts: c.attempts,
      status: c.status,
      hedged: c.hedged ?? false,
      errorType: c.errorType,
      errorMessage: c.errorMessage,
      latencyMs: callLatencyMs(c, clock),
      firstTokenMs: c.response?.firstTokenMs ?? null,
      tokensIn: c.response?.tokensIn ?? 0,
      tokensOut: c.response?.tokensOut ?? 0,
      costUsd: c.response?.costUsd ?? 0,
      finishReason: c.response?.finishReason ?? null,
      providerRequestId: c.response?.providerRequestId ?? null,
    })),
  };
}

/** The prompt, and for a conversation its turns and id (absent for a prompt request: its record is as before). */
function recordedQuestion(request: OrchestrateRequest): Pick<InteractionRecord, 'prompt' | 'messages' | 'conversationId'> {
  const question = questionOf(request);
  return {
    prompt: question.prompt,
    ...(question.messages !== undefined && { messages: question.messages }),
    ...(request.conversationId !== undefined && { conversationId: request.conversationId }),
  };
}
