/**
 * The fan-out machinery: the provider calls of one request in their own cancellation scopes,
 * failover, hedging, early stop, and durable waits for cooling-down providers.
 */
import { CancellationScope, isCancellation, patched, sleep } from '@temporalio/workflow';
import type { CallProviderResult, ConsensusOutput } from '../../activities';
import { earlyStopStatus } from '../../src/consensus/early-stop';
import type { OrchestrateRequest, ProviderCallOutcome, ProviderTarget, RoutePlan } from '../../src/types';
import { describeFailure } from './failures';
import { compute, localProviderCall, providerCall } from './proxies';
import { questionOf } from './question';

/** Provider calls of a `stream: true` request publish their tokens to the stream bus (activities/index.ts). */
export const REQUEST_V4_STREAM = 'request-v4-stream';

/**
 * Provider calls of a plan in `local` mode (performance.provider_calls / a rule's provider_calls)
 * run as local activities. Asked only by such plans, so histories of `activity` plans (and plans
 * recorded before the mode existed) never meet the patch.
 */
export const REQUEST_V5_LOCAL_CALLS = 'request-v5-local-calls';

/**
 * Provider calls carry the request's ids (request id, task type, user id) for the worker's event
 * hooks (src/hooks). Asked when the first call starts, so runs recorded before it replay without it.
 */
export const REQUEST_CALL_IDS = 'request-call-ids';

export type Succeeded = ProviderCallOutcome & { response: CallProviderResult['response'] };

/** Consensus over the responses so far (a local activity: recorded, never recomputed on replay). */
export function consensusOf(request: OrchestrateRequest, plan: RoutePlan, ok: Succeeded[]): Promise<ConsensusOutput> {
  const input = { strategy: plan.consensusStrategy, taskType: request.taskType, prompt: questionOf(request).text, responses: ok.map((o) => o.response) };
  // The Web UI names the decision being taken: which strategy, over whose answers.
  const summary = `consensus: ${plan.consensusStrategy} over ${ok.map((o) => `${o.provider}:${o.model}`).join(', ')}`;
  return compute.selectConsensus.executeWithOptions({ summary }, [input]);
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
export class FanOut {
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
  /** The ids passed to each call (null: a run from before REQUEST_CALL_IDS; undefined: not asked yet). */
  private callIds: { requestId: string | null; taskType: string; userId: string } | null | undefined;
  /** Provider calls run as local activities (README "Provider-call modes"). */
  readonly local: boolean;

  constructor(request: OrchestrateRequest, plan: RoutePlan) {
    this.queue = [...plan.fallbacks];
    this.local = plan.providerCalls === 'local' && patched(REQUEST_V5_LOCAL_CALLS);
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
    const question = questionOf(request);
    const common = { callIndex, provider: target.provider, model: target.model, target, ...(hedged && { hedged }) };
    // Workflow time across every attempt and backoff: what a failed or cancelled call cost in waiting.
    const scheduledAt = Date.now();
    const settled = scope
      .run(() =>
        (this.local ? localProviderCall(target) : providerCall(target))({
          callIndex,
          target,
          ...(waitForSlotMs !== undefined && waitForSlotMs > 0 && { waitForSlotMs }),
          prompt: question.prompt,
          ...(question.messages !== undefined && { messages: question.messages }),
          ...(request.systemPrompt !== undefined && { systemPrompt: request.systemPrompt }),
          ...(request.temperature !== undefined && { temperature: request.temperature }),
          ...(request.maxTokens !== undefined && { maxTokens: request.maxTokens }),
          // Asked only by streaming requests, so histories without `stream` never meet the patch.
          ...(request.stream === true && patched(REQUEST_V4_STREAM) && { stream: true }),
          ...(this.requestIds() && { request: this.requestIds()! }),
        }),
      )
      .then(
        (value) => {
          this.done.set(callIndex, { ...common, status: 'succeeded', attempts: value.attempts, errorType: null, errorMessage: null, response: value.response, elapsedMs: Date.now() - scheduledAt });
        },
        (err: unknown) => {
          const running = this.running.get(callIndex);
          const elapsedMs = Date.now() - scheduledAt;
          this.done.set(
            callIndex,
            isCancellation(err)
              ? { ...common, status: 'cancelled', attempts: 1, errorType: 'Cancelled', errorMessage: running?.hedged || running?.hedgedAgainst ? 'cancelled: another call answered first' : 'cancelled: the outcome was already decided', response: null, elapsedMs }
              : { ...common, status: 'failed', ...describeFailure(err, target.maxAttempts), response: null, elapsedMs },
          );
        },
      )
      .finally(() => this.running.delete(callIndex));
    this.running.set(callIndex, { target, startedAt: Date.now(), hedged, hedgedAgainst: false, scope, settled });
    if (hedged) this.hedges += 1;
  }

  private requestIds(): { requestId: string | null; taskType: string; userId: string } | null {
    if (this.callIds === undefined) this.callIds = patched(REQUEST_CALL_IDS) ? { requestId: this.request.requestId ?? null, taskType: this.request.taskType, userId: this.request.userId } : null;
    return this.callIds;
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
export async function gather(fan: FanOut, request: OrchestrateRequest, plan: RoutePlan, deadline: number): Promise<{ decision: ConsensusOutput | null }> {
  plan.targets.forEach((t) => fan.start(t));
  if (fan.local) return gatherInWaves(fan, plan, deadline);
  const earlyStop = plan.requireConsensus && plan.consensus.earlyStop;
  for (;;) {
    while (fan.running.size > 0) {
      await settleOrHedge(fan, plan);
      topUp(fan, plan);
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
    if (!(await waitForCoolingDown(fan, plan, deadline))) return { decision: null };
  }
}

/** Start fallbacks until enough calls have answered or are running. */
function topUp(fan: FanOut, plan: RoutePlan): void {
  while (fan.succeeded().length + fan.running.size < plan.minProviders) {
    const next = fan.nextFallback();
    if (!next) break;
    fan.start(next);
  }
}

/**
 * Too few answers and the rest cooling down or rate-limited: wait on a durable timer until the
 * earliest is callable again (up to the deadline) and call them again. False: nothing to wait for.
 */
async function waitForCoolingDown(fan: FanOut, plan: RoutePlan, deadline: number): Promise<boolean> {
  const missing = plan.minProviders - fan.succeeded().length;
  const waitable = fan.waitable();
  if (missing <= 0 || waitable.length === 0) return false;
  const until = waitable[0]!.availableAtMs;
  if (until >= deadline) return false;
  await fan.waitAndRetry(until, waitable.filter((w) => w.availableAtMs <= until + WAIT_GROUPING_MS).slice(0, missing), deadline);
  return true;
}

/**
 * `local` mode: the calls go in waves, and every decision waits for the whole wave. On replay,
 * Temporal resolves the local activities of a workflow task together from their markers, without
 * the order or timing in which they answered, so a decision taken while some calls were still
 * running (early stop after two agreeing answers, a hedge after a delay, a fallback started
 * beside a running call, an answer embedded ahead of consensus) could not be taken again the same
 * way. So: no early stop and no hedging in this mode; a failed call's fallback starts once the
 * wave it was in has settled; consensus runs once, over every answer.
 */
async function gatherInWaves(fan: FanOut, plan: RoutePlan, deadline: number): Promise<{ decision: null }> {
  for (;;) {
    while (fan.running.size > 0) {
      await fan.settleAll();
      topUp(fan, plan);
    }
    if (!(await waitForCoolingDown(fan, plan, deadline))) return { decision: null };
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
