/**
 * orchestrateRequest: one AI request as a durable workflow.
 *   an earlier run of this workflow id? (its stored answer, its failure, or IdempotencyConflict)
 *   -> plan (complexity + route) -> response cache -> admission (quotas, budgets)
 *   -> fan out to providers in parallel (failover, hedging, early stop, waiting out open circuits
 *      and rate limits on durable timers up to the deadline)
 *   -> consensus (escalation when confidence is low) -> persist, settle, cache.
 * Deterministic code only: everything that touches the world is an activity.
 */
import { ActivityFailure, ApplicationFailure, patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ConsensusOutput, StoredRunCheck } from '../activities';
import { SearchAttributes } from '../src/constants';
import type { OrchestrateRequest, OrchestrationResult, RoutePlan } from '../src/types';
import { cachedAnswer, type CachedAnswer } from './request/cache';
import { consensusOf, FanOut, gather } from './request/fan-out';
import { summarizeAttempts } from './request/failures';
import { buildResult, totals, type Outcome, type RunClock } from './request/outcome';
import { withDefaults } from './request/plan';
import { compute, database } from './request/proxies';
import { record, type RunIdentity } from './request/record';
import type { InteractionRecord } from '../src/memory/repository';

/**
 * Runs of this code (histories recorded before it replay without it, test/histories/v1-*, v2-*):
 * - an earlier run of the same workflow id (a client whose reuse policy allows a second run) is
 *   looked up first: its stored answer is returned, its failure repeated, or a different request
 *   under the same id fails with IdempotencyConflict; nothing is called and nothing overwritten;
 * - the four search attributes are set by the workflow at its start, whoever started it, and a
 *   request that fails validation is marked RequestStatus = "failed";
 * - processingTimeMs counts from the workflow's start and queuedMs reports the wait for a worker;
 * - failed and cancelled calls report the time they took, and InsufficientResponses names each
 *   provider once with its own last error in this request.
 */
const REQUEST_V3 = 'request-v3-idempotent-searchable';

/** Keyword values longer than this are not set as search attributes (validation refuses them anyway). */
const MAX_KEYWORD_CHARS = 256;

interface RequestRun {
  clock: RunClock;
  identity: RunIdentity | null;
}

export async function orchestrateRequest(request: OrchestrateRequest): Promise<OrchestrationResult> {
  // The first workflow task's time (workflowInfo().runStartTime): deadlines count from here.
  // workflowInfo().startTime is when the client started the workflow (a request workflow never
  // continues as new, so its chain is this run): the time between them is the wait for a worker.
  const startedAt = Date.now();
  const info = workflowInfo();
  const v3 = patched(REQUEST_V3);
  const run: RequestRun = {
    clock: v3
      ? { startedAt, reportFrom: Math.min(startedAt, info.startTime.getTime()), queuedMs: Math.max(0, startedAt - info.startTime.getTime()), callTimes: true }
      : { startedAt, reportFrom: startedAt, queuedMs: null, callTimes: false },
    identity: null,
  };

  if (v3) {
    markStarted(request);
    const earlier = await database.checkStoredRun.executeWithOptions({ summary: 'idempotency: an earlier run of this workflow id?' }, [{ workflowId: info.workflowId, request }]);
    const repeated = repeatEarlierRun(earlier, info.workflowId);
    if (repeated) return repeated;
    run.identity = { runId: info.runId, requestFingerprint: earlier.fingerprint };
  }

  let plan: RoutePlan;
  try {
    plan = withDefaults(v3 ? await compute.planRequest.executeWithOptions({ summary: `plan: complexity and route for ${String(request.taskType)}` }, [{ request }]) : await compute.planRequest({ request }));
  } catch (err) {
    // Refused by validation (or planning failed): nothing was called and nothing is stored.
    if (v3) upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
    throw err;
  }
  upsertSearchAttributes([{ key: SearchAttributes.complexity, value: plan.complexity }]);
  if (v3) setCurrentDetails(routeDetails(request, plan));
  const fan = new FanOut(request, plan);
  const r = plan.resilience;

  // An exact repeat within the cache's TTL: no provider is called.
  if (r.cacheKey !== null) {
    const hit = await compute.cacheLookup({ key: r.cacheKey });
    const cached = hit.hit ? cachedAnswer(hit.value) : null;
    if (cached) {
      const outcome: Outcome = { ...cached, escalated: 0, consensusDetails: null };
      const meta = { cachedFrom: cached.workflowId };
      const result = buildResult(request, plan, [], run.clock, fan, outcome, meta);
      await database.persistInteraction(withResult(record(request, plan, [], run.clock, fan, { status: 'completed', ...outcome }, meta, run.identity), run, result));
      upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'completed' }]);
      return result;
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
        await database.persistInteraction(record(request, plan, [], run.clock, fan, { status: 'failed', errorType: cause.type, errorMessage: cause.message }, undefined, run.identity));
        upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
        throw ApplicationFailure.nonRetryable(cause.message, cause.type, ...(cause.details ?? []));
      }
      throw err;
    }
  }

  try {
    return await answer(request, plan, fan, run);
  } finally {
    // What the request really cost, failed and cancelled calls included.
    if (r.admission) {
      const { costUsd, tokensIn, tokensOut } = totals(fan.outcomes());
      await database.settleRequest({ workflowId: workflowInfo().workflowId, actualUsd: costUsd, tokens: tokensIn + tokensOut });
    }
  }
}

async function answer(request: OrchestrateRequest, plan: RoutePlan, fan: FanOut, run: RequestRun): Promise<OrchestrationResult> {
  const deadline = run.clock.startedAt + plan.resilience.deadlineMs;
  const gathered = await gather(fan, request, plan, deadline);

  const outcomes = fan.outcomes();
  let ok = fan.succeeded();
  if (ok.length < plan.minProviders) {
    const waited = fan.waitedMs > 0 ? ` (waited ${Math.round(fan.waitedMs)} ms for cooling-down or rate-limited providers, up to the ${plan.resilience.deadlineMs} ms deadline)` : '';
    const calls = run.identity
      ? summarizeAttempts(outcomes)
      : outcomes.map((o) => `${o.provider}:${o.model} ${o.status}${o.errorType ? ` (${o.errorType}: ${o.errorMessage})` : ''}`).join('; ');
    const message = `${ok.length} of ${plan.minProviders} required provider response(s)${waited}: ${calls}`;
    await database.persistInteraction(record(request, plan, outcomes, run.clock, fan, { status: 'failed', errorType: 'InsufficientResponses', errorMessage: message }, undefined, run.identity));
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
    await database.persistInteraction(record(request, plan, finalOutcomes, run.clock, fan, { status: 'failed', errorType: 'ConsensusNotReached', errorMessage: message }, undefined, run.identity));
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
  const result = buildResult(request, plan, finalOutcomes, run.clock, fan, outcome);
  if (run.identity) setCurrentDetails(`${routeDetails(request, plan)}\n\nanswered by **${chosen.provider}:${chosen.model}**${decision ? ` (${plan.consensusStrategy}, confidence ${decision.confidence.toFixed(2)})` : ''}`);
  await database.persistInteraction(withResult(record(request, plan, finalOutcomes, run.clock, fan, { status: 'completed', ...outcome }, undefined, run.identity), run, result));
  upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'completed' }]);
  // A low-confidence answer is not worth repeating from the cache.
  if (plan.resilience.cacheKey !== null && !lowConfidence) {
    const cached: CachedAnswer = { v: 1, workflowId: result.metadata.workflowId, ...outcome, providersUsed: result.metadata.providersUsed };
    await compute.cacheStore({ key: plan.resilience.cacheKey, value: cached });
  }
  return result;
}


/** A keyword search attribute value from the request as it arrived (any SDK), when it is one. */
function keyword(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_KEYWORD_CHARS ? value : null;
}

/**
 * Searchable from the first workflow task, whoever started it: TaskType and UserId from the
 * request, RequestStatus "running" (Complexity follows once planned), and the current details
 * the Web UI shows.
 */
function markStarted(request: OrchestrateRequest): void {
  const taskType = keyword((request as Partial<OrchestrateRequest>).taskType);
  const userId = keyword((request as Partial<OrchestrateRequest>).userId);
  upsertSearchAttributes([
    ...(taskType !== null ? [{ key: SearchAttributes.taskType, value: taskType }] : []),
    ...(userId !== null ? [{ key: SearchAttributes.userId, value: userId }] : []),
    { key: SearchAttributes.requestStatus, value: 'running' },
  ]);
  setCurrentDetails(`**${taskType ?? '?'}** for ${userId ?? '?'}: planning`);
}

/** The route as the Web UI's current details show it (Temporal markdown). */
function routeDetails(request: OrchestrateRequest, plan: RoutePlan): string {
  const names = (ts: RoutePlan['targets']) => ts.map((t) => `${t.provider}:${t.model}`).join(', ');
  const fallbacks = plan.fallbacks.length > 0 ? `; fallbacks ${names(plan.fallbacks)}` : '';
  return `**${request.taskType}** for ${request.userId}, ${plan.complexity}: ${names(plan.targets)}${fallbacks}${plan.requireConsensus ? ` (consensus: ${plan.consensusStrategy})` : ''}`;
}

/** Completed records of runs of the current code carry the result a later run of the same id returns. */
function withResult(rec: InteractionRecord, run: RequestRun, result: OrchestrationResult): InteractionRecord {
  return run.identity ? { ...rec, result } : rec;
}

/**
 * What an earlier run of this workflow id left decides this run: its answer to the same request is
 * returned as it was (no provider called, nothing stored), its failure is repeated, and a
 * different request under the same id fails with IdempotencyConflict naming the fields.
 * Null: no earlier run, this one does the work.
 */
function repeatEarlierRun(earlier: StoredRunCheck, workflowId: string): OrchestrationResult | null {
  const fail = (message: string, type: string, details: Record<string, unknown>): never => {
    upsertSearchAttributes([{ key: SearchAttributes.requestStatus, value: 'failed' }]);
    setCurrentDetails(`not run: ${type}`);
    throw ApplicationFailure.nonRetryable(message, type, details);
  };
  switch (earlier.kind) {
    case 'new':
      return null;
    case 'completed':
      upsertSearchAttributes([
        { key: SearchAttributes.complexity, value: earlier.result.metadata.complexity },
        { key: SearchAttributes.requestStatus, value: 'completed' },
      ]);
      setCurrentDetails(`answered by an earlier run of ${workflowId}${earlier.runId ? ` (${earlier.runId})` : ''}: stored result returned, no provider called`);
      return earlier.result;
    case 'failed':
      return fail(`${earlier.errorMessage} (stored by an earlier run of ${workflowId})`, earlier.errorType, { workflowId, runId: earlier.runId });
    case 'conflict':
      return fail(
        `request id "${workflowId}" already ran${earlier.runId ? ` (run ${earlier.runId})` : ''} with a different request: ${earlier.fields.join(', ')} differ; ` +
          'its answer is not returned for a different request: use a new request id',
        'IdempotencyConflict',
        { workflowId, fields: earlier.fields, runId: earlier.runId },
      );
  }
}
