/**
 * orchestrateRequest: one AI request as a durable workflow.
 *   plan (complexity + route) -> response cache -> admission (quotas, budgets)
 *   -> fan out to providers in parallel (failover, hedging, early stop, waiting out open circuits
 *      and rate limits on durable timers up to the deadline)
 *   -> consensus (escalation when confidence is low) -> persist, settle, cache.
 * Deterministic code only: everything that touches the world is an activity.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { Activities, CallProviderResult, ConsensusOutput } from '../activities';
import type { ConsensusActivities } from '../activities/consensus';
import type { ResilienceActivities } from '../activities/resilience';
import { earlyStopStatus } from '../src/consensus/early-stop';
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

const HEARTBEAT_TIMEOUT_MS = 5_000;

type WorkerActivities = Activities & ResilienceActivities & ConsensusActivities;

/** Local compute: planning, consensus and cache lookups run in the worker, recorded as markers. */
const compute = proxyLocalActivities<WorkerActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

/**
 * Database writes: a local activity, so persisting costs no extra round trip through the server
 * (one workflow task fewer per request). Idempotent by workflow id, so a retry or a replay after
 * a worker crash never duplicates rows; retried with backoff while the database is away.
 */
const database = proxyLocalActivities<WorkerActivities>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});

/**
 * Provider calls: one proxy per target, with that provider's timeout and retry policy from config.
 * Calls longer than a second heartbeat, so a cancelled call (early stop, a lost hedge) is aborted
 * at the provider, and a call on a worker that died is retried after the heartbeat timeout instead
 * of the full attempt timeout.
 */
function providerCall(target: ProviderTarget): Activities['callProvider'] {
  return proxyActivities<Activities>({
    startToCloseTimeout: target.timeoutMs,
    ...(target.timeoutMs > HEARTBEAT_TIMEOUT_MS && { heartbeatTimeout: HEARTBEAT_TIMEOUT_MS }),
    retry: {
      maximumAttempts: target.maxAttempts,
      initialInterval: target.initialBackoffMs,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: ['ModelProviderNotFound', 'CircuitOpen', 'RateLimitExceeded', 'ConcurrencyLimitReached'],
    },
  }).callProvider;
}

function numberField(detail: unknown, name: string): number | null {
  if (typeof detail !== 'object' || detail === null) return null;
  const value = (detail as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : null;
}

/**
 * What a failed provider call tells the workflow: its failure type, how many attempts it made, and
 * for an open circuit or a full rate limit, when the provider can be called again.
 */
function describeFailure(err: unknown, maxAttempts: number): { errorType: string; errorMessage: string; attempts: number; availableAtMs?: number } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const exhausted = err instanceof ActivityFailure && err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
  if (cause instanceof ApplicationFailure) {
    const detail: unknown = cause.details?.[0];
    const attempt = numberField(detail, 'attempt');
    const availableAtMs = numberField(detail, 'availableAtMs');
    return {
      errorType: cause.type ?? 'ApplicationFailure',
      errorMessage: cause.message,
      attempts: attempt ?? (exhausted ? maxAttempts : 1),
      ...(availableAtMs !== null && { availableAtMs }),
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { errorType: 'ProviderTimeout', errorMessage: `timed out (${cause.timeoutType})`, attempts: exhausted ? maxAttempts : 1 };
  }
  return { errorType: 'UnknownError', errorMessage: cause instanceof Error ? cause.message : String(cause), attempts: exhausted ? maxAttempts : 1 };
}

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

/** What the response cache holds for a request: the answer and its consensus figures. */
type CachedAnswer = {
  v: 1;
  workflowId: string;
  response: string;
  confidence: number | null;
  agreement: number | null;
  dissenting: string[];
  thresholdMet: boolean | null;
  lowConfidence: boolean;
  consensusApplied: boolean;
  consensusStrategy: string;
  providersUsed: string[];
};

/** A cached value in the shape this workflow stores (anything else is a miss). */
function cachedAnswer(value: unknown): (Omit<Outcome, 'escalated' | 'consensusDetails'> & { workflowId: string }) | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Partial<CachedAnswer>;
  if (v.v !== 1 || typeof v.response !== 'string' || typeof v.workflowId !== 'string') return null;
  const num = (x: unknown) => (typeof x === 'number' ? x : null);
  return {
    workflowId: v.workflowId,
    response: v.response,
    confidence: num(v.confidence),
    agreement: num(v.agreement),
    dissenting: Array.isArray(v.dissenting) ? v.dissenting.filter((d): d is string => typeof d === 'string') : [],
    thresholdMet: typeof v.thresholdMet === 'boolean' ? v.thresholdMet : null,
    lowConfidence: v.lowConfidence === true,
    consensusApplied: v.consensusApplied === true,
    consensusStrategy: typeof v.consensusStrategy === 'string' ? v.consensusStrategy : 'none',
  };
}

/**
 * Plans recorded before early stop, escalation and the resilience features existed lack those
 * sections: they run (and replay) as they did then, without them. Recorded histories in
 * test/histories/v1-* prove it.
 */
function withDefaults(plan: RoutePlan): RoutePlan {
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

type Succeeded = ProviderCallOutcome & { response: CallProviderResult['response'] };

/** Consensus over the responses so far (a local activity: recorded, never recomputed on replay). */
function consensusOf(request: OrchestrateRequest, plan: RoutePlan, ok: Succeeded[]): Promise<ConsensusOutput> {
  return compute.selectConsensus({ strategy: plan.consensusStrategy, taskType: request.taskType, prompt: request.prompt, responses: ok.map((o) => o.response) });
}

interface Running {
  target: ProviderTarget;
  startedAt: number;
  hedged: boolean;
  /** A hedge was started against this call. */
  hedgedAgainst: boolean;
  scope: CancellationScope;
  settled: Promise<void>;
}

/**
 * The provider calls of one request: each runs in its own cancellation scope, so early stop or a
 * hedge can cancel one call and leave the others. Outcomes are kept by call index.
 */
class FanOut {
  private readonly done = new Map<number, ProviderCallOutcome & { target: ProviderTarget }>();
  readonly running = new Map<number, Running>();
  private readonly queue: ProviderTarget[];
  /** Call indexes whose target was started again after a wait. */
  private readonly retried = new Set<number>();
  private nextIndex = 0;
  cancelled = 0;
  hedges = 0;
  /** Call indexes whose answer was embedded ahead of consensus. */
  readonly embedded = new Set<number>();
  waitedMs = 0;
  latencySavedMs: number | null = null;

  private readonly request: OrchestrateRequest;

  constructor(request: OrchestrateRequest, plan: RoutePlan) {
    this.queue = [...plan.fallbacks];
    // A prompt experiment's variant gives the providers its own system prompt.
    const experiment = plan.experiment;
    if (experiment?.kind === 'prompt_template' && experiment.systemPrompt !== undefined) {
      const { systemPrompt: _replaced, ...rest } = request;
      this.request = experiment.systemPrompt === null ? rest : { ...rest, systemPrompt: experiment.systemPrompt };
    } else {
      this.request = request;
    }
  }

  start(target: ProviderTarget, hedged = false, waitForSlotMs?: number): void {
    const callIndex = this.nextIndex++;
    const scope = new CancellationScope();
    const request = this.request;
    const common = { callIndex, provider: target.provider, model: target.model, target, ...(hedged && { hedged }) };
    const settled = scope
      .run(() =>
        providerCall(target)({
          callIndex,
          target,
          ...(waitForSlotMs !== undefined && waitForSlotMs > 0 && { waitForSlotMs }),
          prompt: request.prompt,
          ...(request.systemPrompt !== undefined && { systemPrompt: request.systemPrompt }),
          ...(request.temperature !== undefined && { temperature: request.temperature }),
          ...(request.maxTokens !== undefined && { maxTokens: request.maxTokens }),
        }),
      )
      .then(
        (value) => {
          this.done.set(callIndex, { ...common, status: 'succeeded', attempts: value.attempts, errorType: null, errorMessage: null, response: value.response });
        },
        (err: unknown) => {
          const running = this.running.get(callIndex);
          this.done.set(
            callIndex,
            isCancellation(err)
              ? { ...common, status: 'cancelled', attempts: 1, errorType: 'Cancelled', errorMessage: running?.hedged || running?.hedgedAgainst ? 'cancelled: another call answered first' : 'cancelled: the outcome was already decided', response: null }
              : { ...common, status: 'failed', ...describeFailure(err, target.maxAttempts), response: null },
          );
        },
      )
      .finally(() => this.running.delete(callIndex));
    this.running.set(callIndex, { target, startedAt: Date.now(), hedged, hedgedAgainst: false, scope, settled });
    if (hedged) this.hedges += 1;
  }

  /** Fallbacks not called yet, in order. */
  remaining(): ProviderTarget[] {
    return this.queue.splice(0);
  }

  /**
   * The next fallback. After a context-length failure, fallbacks whose known context window is no
   * larger than the failed model's are passed over (they would fail the same way).
   */
  nextFallback(): ProviderTarget | undefined {
    const needs = this.contextNeeded();
    if (needs === null) return this.queue.shift();
    const i = this.queue.findIndex((t) => t.contextWindow === undefined || t.contextWindow > needs);
    if (i < 0) return undefined;
    return this.queue.splice(i, 1)[0];
  }

  /** The largest known context window that was too small for this request (null: none known). */
  private contextNeeded(): number | null {
    let needs: number | null = null;
    for (const o of this.done.values()) {
      if (o.errorType === 'ProviderContextLengthExceeded' && o.target.contextWindow !== undefined) needs = Math.max(needs ?? 0, o.target.contextWindow);
    }
    return needs;
  }

  hasFallback(): boolean {
    const needs = this.contextNeeded();
    return this.queue.some((t) => needs === null || t.contextWindow === undefined || t.contextWindow > needs);
  }

  /** Resolves when one running call has settled. */
  async settleOne(): Promise<void> {
    await Promise.race([...this.running.values()].map((r) => r.settled));
  }

  async settleAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.settled));
  }

  /** The longest-running call no hedge was started against yet. */
  oldestUnhedged(): Running | null {
    let oldest: Running | null = null;
    for (const r of this.running.values()) if (!r.hedgedAgainst && !r.hedged && (!oldest || r.startedAt < oldest.startedAt)) oldest = r;
    return oldest;
  }

  /** Start the next fallback against a slow call. */
  hedge(slow: Running): void {
    const next = this.nextFallback();
    if (!next) return;
    slow.hedgedAgainst = true;
    this.start(next, true);
  }

  /**
   * Cancel every running call. For early stop, the latency saved is estimated from each
   * call's observed p50 (null when one of them has none).
   */
  async cancelRunning(estimateSaving: boolean): Promise<void> {
    const now = Date.now();
    const running = [...this.running.values()];
    let saved: number | null = 0;
    for (const r of running) {
      const p50 = r.target.observedLatencyMs?.p50;
      saved = saved === null || p50 === undefined ? null : Math.max(saved, r.startedAt + p50 - now);
      r.scope.cancel();
    }
    await Promise.all(running.map((r) => r.settled));
    this.cancelled += running.length;
    if (estimateSaving) this.latencySavedMs = saved === null ? null : Math.max(0, Math.round(saved));
  }

  /** Failed calls that can be tried again once a circuit cools down or a rate window opens. */
  waitable(): { callIndex: number; target: ProviderTarget; availableAtMs: number }[] {
    const out: { callIndex: number; target: ProviderTarget; availableAtMs: number }[] = [];
    for (const o of this.done.values()) {
      if (o.status === 'failed' && o.availableAtMs !== undefined && !this.retried.has(o.callIndex)) out.push({ callIndex: o.callIndex, target: o.target, availableAtMs: o.availableAtMs });
    }
    return out.sort((a, b) => a.availableAtMs - b.availableAtMs || a.callIndex - b.callIndex);
  }

  /**
   * Sleep on a durable timer, then call these targets again; a provider that is still full is then
   * waited for inside the call (up to SLOT_WAIT_MS, never past the deadline) instead of by more timers.
   */
  async waitAndRetry(until: number, calls: { callIndex: number; target: ProviderTarget }[], deadline: number): Promise<void> {
    const ms = Math.max(0, until - Date.now());
    if (ms > 0) await sleep(ms);
    this.waitedMs += ms;
    for (const c of calls) {
      this.retried.add(c.callIndex);
      // Half the attempt's timeout at most: the call itself needs the rest.
      this.start(c.target, false, Math.max(0, Math.min(SLOT_WAIT_MS, c.target.timeoutMs / 2, deadline - Date.now())));
    }
  }

  succeeded(): Succeeded[] {
    return this.outcomes().filter((o): o is Succeeded => o.status === 'succeeded' && o.response !== null);
  }

  outcomes(): ProviderCallOutcome[] {
    return [...this.done.values()].sort((a, b) => a.callIndex - b.callIndex).map(({ target: _target, ...o }) => o);
  }
}

/**
 * One step of the fan-out: wait for a call to settle, or, with hedging on and a request that needs
 * no consensus, start the next candidate against a call slower than its p95 (or the fixed delay).
 */
async function settleOrHedge(fan: FanOut, plan: RoutePlan): Promise<void> {
  const hedging = plan.resilience.hedging;
  const slow = hedging && !plan.requireConsensus && fan.hasFallback() && fan.hedges < plan.minProviders ? fan.oldestUnhedged() : null;
  const after = slow ? ((hedging?.useP95 ? slow.target.observedLatencyMs?.p95 : undefined) ?? hedging?.delayMs ?? null) : null;
  if (!slow || after === null) return fan.settleOne();
  const wait = slow.startedAt + after - Date.now();
  if (wait <= 0) return fan.hedge(slow);
  const timer = new CancellationScope();
  const fired = timer.run(() => sleep(wait)).then(
    () => true,
    () => false,
  );
  const hedgeNow = await Promise.race([fan.settleOne().then(() => false), fired]);
  if (hedgeNow) fan.hedge(slow);
  else timer.cancel();
}

/**
 * Call the first wave in parallel. When a call fails for good, start the next fallback so that
 * minProviders answers can still come back; when consensus is required, check after each answer
 * whether the outstanding calls could still change the outcome, and if not, cancel them. When too
 * few answered and the rest are cooling down or rate-limited, wait on a durable timer until the
 * earliest is callable again, up to the deadline.
 */
async function gather(fan: FanOut, request: OrchestrateRequest, plan: RoutePlan, deadline: number): Promise<{ decision: ConsensusOutput | null }> {
  plan.targets.forEach((t) => fan.start(t));
  const earlyStop = plan.requireConsensus && plan.consensus.earlyStop;
  for (;;) {
    while (fan.running.size > 0) {
      await settleOrHedge(fan, plan);
      while (fan.succeeded().length + fan.running.size < plan.minProviders) {
        const next = fan.nextFallback();
        if (!next) break;
        fan.start(next);
      }
      let ok = fan.succeeded();
      await embedNew(fan, plan, ok);
      // Without consensus, the first minProviders answers are the answer: a hedge or a straggler left running is cancelled.
      if (!plan.requireConsensus && ok.length >= plan.minProviders && fan.running.size > 0) {
        await fan.cancelRunning(false);
        return { decision: null };
      }
      while (earlyStop && fan.running.size > 0 && ok.length >= Math.max(2, plan.minProviders)) {
        const decision = await consensusOf(request, plan, ok);
        const now = fan.succeeded();
        // Answers that arrived while consensus ran: decide again with them.
        if (now.length !== ok.length) {
          ok = now;
          continue;
        }
        if (!earlyStopStatus(decision, ok.length, ok.length + fan.running.size).stop) break;
        await fan.cancelRunning(true);
        return { decision };
      }
    }
    const missing = plan.minProviders - fan.succeeded().length;
    const waitable = fan.waitable();
    if (missing <= 0 || waitable.length === 0) return { decision: null };
    const until = waitable[0]!.availableAtMs;
    if (until >= deadline) return { decision: null };
    await fan.waitAndRetry(until, waitable.filter((w) => w.availableAtMs <= until + WAIT_GROUPING_MS).slice(0, missing), deadline);
  }
}

/**
 * Similarity consensus: embed answers as they arrive (a local activity; vectors stay in the
 * worker's caches), so the decision after the last answer has only that one left to embed.
 */
async function embedNew(fan: FanOut, plan: RoutePlan, ok: Succeeded[]): Promise<void> {
  // With early stop on, the consensus check after each answer embeds it already.
  const checkEmbeds = plan.requireConsensus && plan.consensus.earlyStop && ok.length >= Math.max(2, plan.minProviders);
  if (!plan.consensus.embedAsTheyArrive || checkEmbeds) return;
  const fresh = ok.filter((o) => !fan.embedded.has(o.callIndex));
  if (fresh.length === 0 || fan.running.size === 0) return;
  fresh.forEach((o) => fan.embedded.add(o.callIndex));
  await compute.embedResponses({ texts: fresh.map((o) => o.response.content) });
}

/** How long a call started after a wait may wait inside the activity for a concurrency slot. */
const SLOT_WAIT_MS = 10_000;

/** Calls callable again within this much of the earliest are retried after the same wait. */
const WAIT_GROUPING_MS = 1_000;

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
  thresholdMet: boolean | null;
  lowConfidence: boolean;
  escalated: number;
  consensusDetails: unknown;
  consensusApplied: boolean;
  consensusStrategy: string;
}

/** Set when the answer came from the response cache. */
interface CacheMeta {
  cachedFrom: string;
}

function buildResult(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], startedAt: number, fan: FanOut, o: Outcome, cache?: CacheMeta): OrchestrationResult {
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

type RecordOutcome = { status: 'failed'; errorType: string; errorMessage: string } | ({ status: 'completed' } & Outcome);

function record(request: OrchestrateRequest, plan: RoutePlan, outcomes: ProviderCallOutcome[], startedAt: number, fan: FanOut, o: RecordOutcome, cache?: CacheMeta): InteractionRecord {
  const { providersUsed, tokensIn, tokensOut, costUsd } = totals(outcomes);
  const now = Date.now();
  const done = o.status === 'completed' ? o : null;
  return {
    workflowId: workflowInfo().workflowId,
    requestId: request.requestId ?? null,
    userId: request.userId,
    taskType: request.taskType,
    complexity: plan.complexity,
    complexityScore: plan.complexityScore,
    prompt: request.prompt,
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
    processingTimeMs: now - startedAt,
    startedAt: new Date(startedAt),
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
      latencyMs: c.response?.latencyMs ?? null,
      tokensIn: c.response?.tokensIn ?? 0,
      tokensOut: c.response?.tokensOut ?? 0,
      costUsd: c.response?.costUsd ?? 0,
      finishReason: c.response?.finishReason ?? null,
      providerRequestId: c.response?.providerRequestId ?? null,
    })),
  };
}
