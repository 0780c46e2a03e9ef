/**
 * orchestrateRequest: one AI request as a durable workflow.
 *   plan (complexity + route) -> fan out to providers in parallel (with failover) -> consensus -> persist.
 * Deterministic code only: everything that touches the world is an activity.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { Activities, CallProviderResult } from '../activities';
import { SearchAttributes } from '../src/constants';
import type { InteractionRecord } from '../src/memory/repository';
import type {
  OrchestrateRequest,
  OrchestrationResult,
  ProviderCallOutcome,
  ProviderTarget,
  ProviderUsage,
  RoutePlan,
} from '../src/types';

/** Local compute: planning and consensus run in the worker, recorded as markers. */
const compute = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

/**
 * Database writes: a local activity, so persisting costs no extra round trip through the server
 * (one workflow task fewer per request). Idempotent by workflow id, so a retry or a replay after
 * a worker crash never duplicates rows; retried with backoff while the database is away.
 */
const database = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});

/** Provider calls: one proxy per target, with that provider's timeout and retry policy from config. */
function providerCall(target: ProviderTarget): Activities['callProvider'] {
  return proxyActivities<Activities>({
    startToCloseTimeout: target.timeoutMs,
    retry: {
      maximumAttempts: target.maxAttempts,
      initialInterval: target.initialBackoffMs,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: ['ModelProviderNotFound'],
    },
  }).callProvider;
}

/** What a failed provider call tells the workflow: its failure type and how many attempts it made. */
function describeFailure(err: unknown, maxAttempts: number): { errorType: string; errorMessage: string; attempts: number } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const exhausted = err instanceof ActivityFailure && err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
  if (cause instanceof ApplicationFailure) {
    const detail: unknown = cause.details?.[0];
    const attempt = typeof detail === 'object' && detail !== null && typeof (detail as { attempt?: unknown }).attempt === 'number' ? (detail as { attempt: number }).attempt : null;
    return { errorType: cause.type ?? 'ApplicationFailure', errorMessage: cause.message, attempts: attempt ?? (exhausted ? maxAttempts : 1) };
  }
  if (cause instanceof TimeoutFailure) {
    return { errorType: 'ProviderTimeout', errorMessage: `timed out (${cause.timeoutType})`, attempts: exhausted ? maxAttempts : 1 };
  }
  return { errorType: 'UnknownError', errorMessage: cause instanceof Error ? cause.message : String(cause), attempts: exhausted ? maxAttempts : 1 };
}

export async function orchestrateRequest(request: OrchestrateRequest): Promise<OrchestrationResult> {
  const startedAt = Date.now();

  const plan = await compute.planRequest({ request });
  upsertSearchAttributes([{ key: SearchAttributes.complexity, value: plan.complexity }]);

  const outcomes = await fanOut(request, plan);
  const succeeded = outcomes.filter((o): o is ProviderCallOutcome & { response: CallProviderResult['response'] } => o.response !== null);

  if (succeeded.length < plan.minProviders) {
    const message =
      `${succeeded.length} of ${plan.minProviders} required provider response(s): ` +
      outcomes.map((o) => `${o.provider}:${o.model} ${o.status}${o.errorType ? ` (${o.errorType}: ${o.errorMessage})` : ''}`).join('; ');
    await database.persistInteraction(record(request, plan, outcomes, startedAt, { status: 'failed', errorType: 'InsufficientResponses', errorMessage: message }));
    upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
    throw ApplicationFailure.nonRetryable(message, 'InsufficientResponses', {
      attempts: outcomes.map(({ provider, model, status, errorType, errorMessage }) => ({ provider, model, status, errorType, errorMessage })),
    });
  }

  let chosen = succeeded[0]!;
  let confidence: number | null = null;
  let agreement: number | null = null;
  let dissenting: string[] = [];
  const consensusApplied = succeeded.length > 1;
  if (consensusApplied) {
    const decision = await compute.selectConsensus({
      strategy: plan.consensusStrategy,
      taskType: request.taskType,
      prompt: request.prompt,
      responses: succeeded.map((o) => o.response),
    });
    chosen = succeeded[decision.chosenIndex] ?? chosen;
    confidence = decision.confidence;
    agreement = decision.agreement;
    dissenting = decision.dissenting.map((i) => succeeded[i]?.provider ?? `#${i}`);
  }

  const result = buildResult(request, plan, outcomes, startedAt, {
    response: chosen.response.content,
    confidence,
    agreement,
    dissenting,
    consensusApplied,
    consensusStrategy: consensusApplied ? plan.consensusStrategy : 'none',
  });
  await database.persistInteraction(
    record(request, plan, outcomes, startedAt, {
      status: 'completed',
      response: result.response,
      confidence,
      agreement,
      consensusApplied,
      consensusStrategy: result.metadata.consensusStrategy,
    }),
  );
  upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'completed' }]);
  return result;
}

/** Call the first wave in parallel; while fewer than minProviders answered, call the next fallbacks. */
async function fanOut(request: OrchestrateRequest, plan: RoutePlan): Promise<ProviderCallOutcome[]> {
  const outcomes: ProviderCallOutcome[] = [];
  const remaining = [...plan.fallbacks];
  let wave = plan.targets;
  while (wave.length > 0) {
    const base = outcomes.length;
    const settled = await Promise.allSettled(
      wave.map((target, i) =>
        providerCall(target)({
          callIndex: base + i,
          target,
          prompt: request.prompt,
          ...(request.systemPrompt !== undefined && { systemPrompt: request.systemPrompt }),
          ...(request.temperature !== undefined && { temperature: request.temperature }),
          ...(request.maxTokens !== undefined && { maxTokens: request.maxTokens }),
        }),
      ),
    );
    settled.forEach((s, i) => {
      const target = wave[i]!;
      const common = { callIndex: base + i, provider: target.provider, model: target.model };
      outcomes.push(
        s.status === 'fulfilled'
          ? { ...common, status: 'succeeded', attempts: s.value.attempts, errorType: null, errorMessage: null, response: s.value.response }
          : { ...common, status: 'failed', ...describeFailure(s.reason, target.maxAttempts), response: null },
      );
    });
    const missing = plan.minProviders - outcomes.filter((o) => o.status === 'succeeded').length;
    wave = missing > 0 ? remaining.splice(0, missing) : [];
  }
  return outcomes;
}

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
function totals(outcomes: ProviderCallOutcome[]) {
  const providers = usage(outcomes);
  return {
    providers,
    providersUsed: providers.filter((p) => p.status === 'succeeded').map((p) => p.provider),
    tokensIn: sum(providers.map((p) => p.tokensIn)),
    tokensOut: sum(providers.map((p) => p.tokensOut)),
    costUsd: roundUsd(sum(providers.map((p) => p.costUsd))),
  };
}

interface Outcome {
  response: string;
  confidence: number | null;
  agreement: number | null;
  dissenting: string[];
  consensusApplied: boolean;
  consensusStrategy: string;
}

function buildResult(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], startedAt: number, o: Outcome): OrchestrationResult {
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
      complexity: plan.complexity,
      complexityScore: plan.complexityScore,
      processingTimeMs: Date.now() - startedAt,
      providers,
      tokensIn: sums.tokensIn,
      tokensOut: sums.tokensOut,
      costUsd: sums.costUsd,
      routingPolicyVersion: plan.routingPolicyVersion,
      routingRule: plan.ruleId,
    },
  };
}

function roundUsd(x: number): number {
  return Math.round(x * 1e8) / 1e8;
}

type RecordOutcome =
  | { status: 'failed'; errorType: string; errorMessage: string }
  | { status: 'completed'; response: string; confidence: number | null; agreement: number | null; consensusApplied: boolean; consensusStrategy: string };

function record(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], startedAt: number, o: RecordOutcome): InteractionRecord {
  const { providersUsed, tokensIn, tokensOut, costUsd } = totals(outcomes);
  const now = Date.now();
  return {
    workflowId: workflowInfo().workflowId,
    requestId: request.requestId ?? null,
    userId: request.userId,
    taskType: request.taskType,
    complexity: plan.complexity,
    complexityScore: plan.complexityScore,
    prompt: request.prompt,
    systemPrompt: request.systemPrompt ?? null,
    response: o.status === 'completed' ? o.response : null,
    confidence: o.status === 'completed' ? o.confidence : null,
    agreement: o.status === 'completed' ? o.agreement : null,
    consensusStrategy: o.status === 'completed' ? o.consensusStrategy : 'none',
    consensusApplied: o.status === 'completed' ? o.consensusApplied : false,
    status: o.status,
    errorType: o.status === 'failed' ? o.errorType : null,
    errorMessage: o.status === 'failed' ? o.errorMessage : null,
    routingPolicyVersion: plan.routingPolicyVersion,
    routingRule: plan.ruleId,
    providersUsed,
    tokensIn,
    tokensOut,
    costUsd,
    processingTimeMs: now - startedAt,
    startedAt: new Date(startedAt),
    completedAt: new Date(now),
    providerCalls: outcomes.map((c) => ({
      callIndex: c.callIndex,
      provider: c.provider,
      model: c.model,
      attempts: c.attempts,
      status: c.status,
      errorType: c.errorType,
      errorMessage: c.errorMessage,
      latencyMs: c.response?.latencyMs ?? null,
      tokensIn: c.response?.tokensIn ?? 0,
      tokensOut: c.response?.tokensOut ?? 0,
      costUsd: c.response?.costUsd ?? 0,
      finishReason: c.response?.finishReason ?? null,
      providerRequestId: c.response?.providerRequestId ?? null,
    })),
  };
}
