/**
 * orchestrateRequest: one AI request as a durable workflow.
 *   plan (complexity + route) -> response cache -> admission (quotas, budgets)
 *   -> fan out to providers in parallel (failover, hedging, early stop, waiting out open circuits
 *      and rate limits on durable timers up to the deadline)
 *   -> consensus (escalation when confidence is low) -> persist, settle, cache.
 * Deterministic code only: everything that touches the world is an activity.
 */
import { ActivityFailure, ApplicationFailure, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ConsensusOutput } from '../activities';
import { SearchAttributes } from '../src/constants';
import type { OrchestrateRequest, OrchestrationResult, RoutePlan } from '../src/types';
import { cachedAnswer, type CachedAnswer } from './request/cache';
import { consensusOf, FanOut, gather } from './request/fan-out';
import { buildResult, totals, type Outcome } from './request/outcome';
import { withDefaults } from './request/plan';
import { compute, database } from './request/proxies';
import { record } from './request/record';

export async function orchestrateRequest(request: OrchestrateRequest): Promise<OrchestrationResult> {
  const startedAt = Date.now();

  const plan = withDefaults(await compute.planRequest({ request }));
  upsertSearchAttributes([{ key: SearchAttributes.complexity, value: plan.complexity }]);
  const fan = new FanOut(request, plan);
  const r = plan.resilience;

  // An exact repeat within the cache's TTL: no provider is called.
  if (r.cacheKey !== null) {
    const hit = await compute.cacheLookup({ key: r.cacheKey });
    const cached = hit.hit ? cachedAnswer(hit.value) : null;
    if (cached) {
      const outcome: Outcome = { ...cached, escalated: 0, consensusDetails: null };
      const meta = { cachedFrom: cached.workflowId };
      await database.persistInteraction(record(request, plan, [], startedAt, fan, { status: 'completed', ...outcome }, meta));
      upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'completed' }]);
      return buildResult(request, plan, [], startedAt, fan, outcome, meta);
    }
  }

  // Quotas and budgets: reserve the estimated cost before anything is called; refused -> nothing called.
  if (r.admission) {
    try {
      await database.admitRequest({
        workflowId: workflowInfo().workflowId,
        userId: request.userId,
        targets: [...plan.targets, ...plan.fallbacks].map(({ provider, model }) => ({ provider, model })),
        promptTokens: r.promptTokens,
        maxTokens: r.maxTokens,
      });
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      if (cause instanceof ApplicationFailure && (cause.type === 'QuotaExceeded' || cause.type === 'BudgetExceeded')) {
        await database.persistInteraction(record(request, plan, [], startedAt, fan, { status: 'failed', errorType: cause.type, errorMessage: cause.message }));
        upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
        throw ApplicationFailure.nonRetryable(cause.message, cause.type, ...(cause.details ?? []));
      }
      throw err;
    }
  }

  try {
    return await answer(request, plan, fan, startedAt);
  } finally {
    // What the request really cost, failed and cancelled calls included.
    if (r.admission) {
      const { costUsd, tokensIn, tokensOut } = totals(fan.outcomes());
      await database.settleRequest({ workflowId: workflowInfo().workflowId, actualUsd: costUsd, tokens: tokensIn + tokensOut });
    }
  }
}

async function answer(request: OrchestrateRequest, plan: RoutePlan, fan: FanOut, startedAt: number): Promise<OrchestrationResult> {
  const deadline = startedAt + plan.resilience.deadlineMs;
  const gathered = await gather(fan, request, plan, deadline);

  const outcomes = fan.outcomes();
  let ok = fan.succeeded();
  if (ok.length < plan.minProviders) {
    const waited = fan.waitedMs > 0 ? ` (waited ${Math.round(fan.waitedMs)} ms for cooling-down or rate-limited providers, up to the ${plan.resilience.deadlineMs} ms deadline)` : '';
    const message =
      `${ok.length} of ${plan.minProviders} required provider response(s)${waited}: ` +
      outcomes.map((o) => `${o.provider}:${o.model} ${o.status}${o.errorType ? ` (${o.errorType}: ${o.errorMessage})` : ''}`).join('; ');
    await database.persistInteraction(record(request, plan, outcomes, startedAt, fan, { status: 'failed', errorType: 'InsufficientResponses', errorMessage: message }));
    upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
    throw ApplicationFailure.nonRetryable(message, 'InsufficientResponses', {
      attempts: outcomes.map(({ provider, model, status, errorType, errorMessage }) => ({ provider, model, status, errorType, errorMessage })),
    });
  }

  let decision = ok.length > 1 ? (gathered.decision ?? (await consensusOf(request, plan, ok))) : null;

  // Escalation: consensus required but the chosen answer's support is below consensus.confidence_threshold
  // (or the strategy's own threshold unmet) -> ask more providers, up to the configured maximum.
  let escalated = 0;
  const unsure = (d: ConsensusOutput) => d.thresholdMet === false || d.confidence < plan.consensus.agreementThreshold;
  if (plan.requireConsensus && decision !== null && unsure(decision)) {
    const extra = [...fan.remaining(), ...plan.consensus.escalation];
    while (unsure(decision) && ok.length < plan.consensus.maxProviders && extra.length > 0) {
      const added = extra.splice(0, plan.consensus.maxProviders - ok.length);
      added.forEach((t) => fan.start(t));
      escalated += added.length;
      await fan.settleAll();
      ok = fan.succeeded();
      decision = await consensusOf(request, plan, ok);
    }
  }
  const lowConfidence = plan.requireConsensus && decision !== null && unsure(decision);
  const finalOutcomes = fan.outcomes();

  if (lowConfidence && plan.consensus.onLowConfidence === 'fail' && decision !== null) {
    const message =
      `confidence ${decision.confidence.toFixed(3)} (agreement ${decision.agreement.toFixed(3)}) is below consensus.confidence_threshold ${plan.consensus.agreementThreshold} ` +
      `after asking ${finalOutcomes.length} provider(s) (${escalated} added by escalation)`;
    await database.persistInteraction(record(request, plan, finalOutcomes, startedAt, fan, { status: 'failed', errorType: 'ConsensusNotReached', errorMessage: message }));
    upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
    throw ApplicationFailure.nonRetryable(message, 'ConsensusNotReached', { confidence: decision.confidence, agreement: decision.agreement, threshold: plan.consensus.agreementThreshold, escalated });
  }

  const chosen = decision ? (ok[decision.chosenIndex] ?? ok[0]!) : ok[0]!;
  const outcome: Outcome = {
    response: chosen.response.content,
    confidence: decision?.confidence ?? null,
    agreement: decision?.agreement ?? null,
    dissenting: decision ? decision.dissenting.map((i) => ok[i]?.provider ?? `#${i}`) : [],
    thresholdMet: decision ? (decision.thresholdMet ?? null) : null,
    lowConfidence,
    escalated,
    consensusDetails: decision?.details ?? null,
    consensusApplied: decision !== null,
    consensusStrategy: decision !== null ? plan.consensusStrategy : 'none',
  };
  const result = buildResult(request, plan, finalOutcomes, startedAt, fan, outcome);
  await database.persistInteraction(record(request, plan, finalOutcomes, startedAt, fan, { status: 'completed', ...outcome }));
  upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'completed' }]);
  // A low-confidence answer is not worth repeating from the cache.
  if (plan.resilience.cacheKey !== null && !lowConfidence) {
    const cached: CachedAnswer = { v: 1, workflowId: result.metadata.workflowId, ...outcome, providersUsed: result.metadata.providersUsed };
    await compute.cacheStore({ key: plan.resilience.cacheKey, value: cached });
  }
  return result;
}

