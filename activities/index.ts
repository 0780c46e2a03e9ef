/**
 * Activities: the bridge from deterministic workflow code to the library in `src/`.
 * Built by a factory that receives its dependencies, so tests and the worker wire them alike.
 * Workflows import only the *type* of what this returns.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Config } from '../src/config/schema';
import type { ConsensusDecision, ConsensusRegistry } from '../src/consensus/strategy';
import { LEXICAL_DEFAULT_THRESHOLD } from '../src/consensus/lexical';
import { InvalidRequest, OrchestratorError } from '../src/errors';
import type { Logger } from '../src/logger';
import type { Metrics } from '../src/metrics';
import type { FeedbackInput, InteractionRecord, MemoryStore, PersistOutcome } from '../src/memory/repository';
import { fingerprintDifferences, requestFingerprint, type RequestFingerprint } from '../src/request-fingerprint';
import { ProviderCallError } from '../src/providers/errors';
import { hasKeyLimits, type KeyLimits } from '../src/resilience/budget';
import { circuitKeysFor, countsAgainstCircuit, type CircuitBreaker } from '../src/resilience/circuit-breaker';
import type { ConcurrencyLimiter } from '../src/resilience/concurrency';
import { FailureRateWindow } from '../src/resilience/failure-rate';
import { complexityText, conversationText, lastUserTurn } from '../src/conversation';
import { estimateRequestTokens } from '../src/resilience/estimate';
import { providerScope, type RateLimiter } from '../src/resilience/rate-limit';
import { responseCacheKey } from '../src/resilience/response-cache';
import { EmbeddingModelLoadError, EmbeddingModelNotFoundError } from '../src/consensus/embeddings';
import { JudgeError } from '../src/consensus/judge';
import { withConsensusCriteria } from '../src/consensus/criteria';
import { callCostUsd } from '../src/providers/pricing';
import type { ModelConnector } from '../src/providers/types';
import type { StreamBus } from '../src/streaming/bus';
import { seededRandom } from '../src/routing/bandit';
import type { ComplexityEvaluatorRegistry } from '../src/routing/complexity';
import { planRoute, rankRoute, validateRequest, withObservedLatency } from '../src/routing/planner';
import { applyRoutingStrategy, customStrategyName, type RoutingStrategyRegistry } from '../src/routing/strategies';
import { applyUpdate, configWithPolicy, knownProvidersFromConfig, type RoutingPolicy } from '../src/routing/policy';
import { variantFor, type VariantEffect } from '../src/improvement/live';
import type { Experiment } from '../src/improvement/experiments';
import { statsLookup, type RoutingStatsSnapshot, type StatsLookup } from '../src/routing/stats';
import { traceProviderCall } from '../src/tracing/provider-span';
import type { EventHooks, OrchestratorEventName, OrchestratorEvents } from '../src/hooks';
import { outcomeEvents, repeatedCompletion, requestIdsOf, requestRef, routedEvent, type RequestIds } from '../src/hooks/events';
import type { ChatMessage, Complexity, GenerateResponse, OrchestrateRequest, OrchestrationResult, ProviderTarget, RoutePlan } from '../src/types';

export interface ActivityDependencies {
  config: Config;
  connectors: ReadonlyMap<string, ModelConnector>;
  memory: MemoryStore;
  evaluators: ComplexityEvaluatorRegistry;
  consensus: ConsensusRegistry;
  /** Custom routing strategies by name (plugins); `routing.custom_strategies` says which task types use one. Absent: none. */
  routingStrategies?: RoutingStrategyRegistry;
  /**
   * The routing policy requests are planned with, and the statistics snapshot performance-based
   * ranking reads: the worker's policy cache (src/routing/policy-cache.ts). Never waits.
   */
  routing: () => { policy: RoutingPolicy; stats: RoutingStatsSnapshot | null };
  logger: Logger;
  /** Upper bound for a provider-requested retry delay (Retry-After). */
  maxRetryAfterMs?: number;
  /**
   * Shared circuit breakers and rate limits (src/resilience): checked by every provider call
   * attempt before it goes out, so every worker sees the same state. Absent: neither applies.
   */
  resilience?: { circuits: CircuitBreaker; rateLimiter: RateLimiter; concurrency?: ConcurrencyLimiter };
  /**
   * The streaming side channel (src/streaming/bus.ts): a call whose request asked `stream: true`
   * publishes its deltas, then `done`, or `error` when it fails after its first delta. Absent: calls
   * are not streamed.
   */
  streamBus?: StreamBus;
  /** Running A/B experiments (src/improvement/live.ts); absent: no request is assigned. */
  experiments?: { running(taskType: string): Experiment[] };
  /**
   * The user's API key limits (src/auth/keys.ts KeyStore.userLimits): a user with any needs
   * admission (the admitRequest activity enforces them) even when config.yaml sets no quota.
   */
  keyLimits?: (userId: string, now: Date) => Promise<KeyLimits | null>;
  /**
   * The process's metrics (src/metrics): each provider call attempt and each stored interaction
   * is recorded after the fact; recording never throws. Absent: nothing is recorded.
   */
  metrics?: Metrics;
  /**
   * The worker's event hooks (src/hooks): each activity emits the events its execution marks, just
   * before it returns or throws; delivery happens on a later tick and never waits. Absent: none.
   */
  hooks?: Pick<EventHooks, 'emitWith'>;
  /** The clock (epoch ms) a refused call's `availableAtMs` is given in (RuntimeOptions.clock); default Date.now. */
  now?: () => number;
}

export interface CallProviderInput {
  callIndex: number;
  target: ProviderTarget;
  /** Started after waiting for a full provider: wait up to this long for a concurrency slot. */
  waitForSlotMs?: number;
  /** The question; for a conversation, its last user turn. */
  prompt: string;
  /** A conversation's turns (system, user, assistant), ending with the user turn `prompt` holds. */
  messages?: ChatMessage[];
  systemPrompt?: string;
  temperature?: number;
  maxTokens?: number;
  /** The request asked `stream: true`: stream the call and publish its tokens on the worker's stream bus (when it has one). */
  stream?: boolean;
  /** The request's ids, for the call's hook events (absent in runs started before the workflow passed them). */
  request?: { requestId: string | null; taskType: string; userId: string };
}

export interface CallProviderResult {
  response: GenerateResponse & { costUsd: number };
  attempts: number;
}

export interface ConsensusInput {
  strategy: string;
  taskType: string;
  prompt: string;
  responses: GenerateResponse[];
}

/**
 * What an earlier run of the workflow id left, for a run about to start work: nothing (`new`),
 * a completed answer to the same request (returned as it is), a failure of the same request
 * (failed again the same way), or a different request under the same id (`conflict`, naming the
 * fields). `fingerprint` is the incoming request's, stored with the interaction.
 */
export type StoredRunCheck = { fingerprint: RequestFingerprint } & (
  | { kind: 'new' }
  | { kind: 'completed'; runId: string | null; result: OrchestrationResult }
  | { kind: 'failed'; runId: string | null; errorType: string; errorMessage: string }
  | { kind: 'conflict'; runId: string | null; fields: string[] }
);

/** The strategy's decision: chosen index, confidence, agreement, dissenting indexes, thresholdMet, details. */
export type ConsensusOutput = ConsensusDecision;

/** Turn a local typed error into a failure the workflow can branch on by `type`. */
function toFailure(err: unknown): unknown {
  if (err instanceof OrchestratorError) {
    return ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: true, details: [err.details] });
  }
  return err;
}

export function createActivities(deps: ActivityDependencies) {
  const { config, connectors, memory, logger } = deps;
  const maxRetryAfterMs = deps.maxRetryAfterMs ?? 60_000;
  const now = deps.now ?? Date.now;
  // The effective configuration and the stats index are rebuilt only when the policy or snapshot changes.
  let planning: { policy: RoutingPolicy; config: Config } | null = null;
  let indexed: { snapshot: RoutingStatsSnapshot; lookup: StatsLookup } | null = null;
  const effectiveConfig = (policy: RoutingPolicy): Config => {
    if (planning?.policy === policy) return planning.config;
    const next = { policy, config: configWithPolicy(config, policy) };
    planning = next;
    return next.config;
  };
  const lookupFor = (snapshot: RoutingStatsSnapshot | null): StatsLookup | null => {
    if (!snapshot) return null;
    if (indexed?.snapshot === snapshot) return indexed.lookup;
    const next = { snapshot, lookup: statsLookup(snapshot) };
    indexed = next;
    return next.lookup;
  };

  const known = knownProvidersFromConfig(config);
  /** Interactions this worker recorded metrics for (run id or workflow id), so a retried persist is not counted twice. */
  const recordedRuns = new Set<string>();
  const recordRequestOnce = (record: InteractionRecord) => {
    if (!deps.metrics?.enabled) return;
    const id = `${record.workflowId}/${record.runId ?? ''}`;
    if (recordedRuns.has(id)) return;
    recordedRuns.add(id);
    if (recordedRuns.size > 10_000) recordedRuns.delete(recordedRuns.values().next().value!);
    deps.metrics.request(record);
  };
  /** Circuit keys last seen closed, and when (see admitCall). */
  const closedCircuits = new Map<string, number>();
  /**
   * Local provider calls (performance.provider_calls: local) have no heartbeat details: the
   * provider's error on an earlier attempt is kept here instead (a local activity's attempts run in
   * this worker), by workflow run and activity id; the oldest are forgotten past LOCAL_ERRORS_KEPT.
   */
  const localLastErrors = new Map<string, { type: string; message: string }>();
  /** This worker's recent call outcomes per circuit key (the failure-rate gate of the circuits). */
  const outcomes = new FailureRateWindow(config.resilience.circuit_breaker.window_s * 1000);

  /**
   * A slot among the provider's `performance.models.<provider>.max_concurrent` calls in flight
   * across all workers (a lease in the database, renewed while the call runs, released after).
   * Full: a first attempt fails over at once (ConcurrencyLimitReached, with when to ask again);
   * a call the workflow started after waiting (`waitForSlotMs`) waits that long for a slot.
   */
  async function takeSlot(input: CallProviderInput, kind: string, holder: string, signal: AbortSignal, attempt: AttemptInfo): Promise<{ release(): Promise<void> } | null> {
    const limiter = deps.resilience?.concurrency;
    const max = config.performance.models[input.target.provider]?.max_concurrent;
    if (!limiter || max === undefined) return null;
    const args = { scope: providerScope(input.target.provider), max, leaseMs: LEASE_MS, holder };
    const lease = input.waitForSlotMs ? await limiter.acquireWaiting({ ...args, waitMs: input.waitForSlotMs, signal }) : await limiter.acquire(args);
    if (!lease.granted) {
      deps.metrics?.refusal('concurrency', input.target.provider);
      throw ApplicationFailure.create({
        message: `${input.target.provider} (${kind}): ${lease.reason}; ask again in ${lease.retryAfterMs} ms`,
        type: 'ConcurrencyLimitReached',
        nonRetryable: true,
        details: [{ provider: input.target.provider, model: input.target.model, availableAtMs: now() + lease.retryAfterMs, ...attempt }],
      });
    }
    const renewal = setInterval(() => {
      limiter.renew(lease.leaseId, LEASE_MS).then(
        (held) => held || logger.warn({ provider: input.target.provider }, 'concurrency lease lost'),
        (e: unknown) => logger.warn({ err: (e as Error).message }, 'concurrency lease renew failed'),
      );
    }, LEASE_MS / 3);
    return {
      async release() {
        clearInterval(renewal);
        await limiter.release(lease.leaseId).catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'concurrency lease release failed'));
      },
    };
  }

  /**
   * The running experiment (if any) that takes this request, and the routing policy its variant
   * plans with. A variant that cannot apply here (an update this policy rejects, a strategy not
   * registered) leaves the request out of the experiment, so no variant's figures include requests
   * that did not run it.
   */
  function experimentFor(request: OrchestrateRequest, workflowId: string | undefined, policy: RoutingPolicy): { effect: VariantEffect; policy: RoutingPolicy | null } | null {
    if (!deps.experiments) return null;
    const running = deps.experiments.running(request.taskType);
    if (running.length === 0) return null;
    const effect = variantFor(running, { requestId: request.requestId ?? workflowId ?? conversationText(request), taskType: request.taskType });
    if (!effect) return null;
    if (effect.consensusStrategy !== null && !deps.consensus.names().includes(effect.consensusStrategy)) {
      logger.warn({ experiment: effect.experimentId, strategy: effect.consensusStrategy }, 'experiment variant names an unregistered consensus strategy; request left out of the experiment');
      return null;
    }
    if (!effect.routingUpdate) return { effect, policy: null };
    const applied = applyUpdate(policy, effect.routingUpdate, known, policy.updatedAt);
    if (!applied.ok) {
      logger.warn({ experiment: effect.experimentId, variant: effect.variant, error: applied.error.message }, 'experiment variant does not apply to the current policy; request left out of the experiment');
      return null;
    }
    // The variant's policy keeps the base version: the request records the base version and its variant.
    return { effect, policy: { ...applied.policy, version: policy.version } };
  }

  /**
   * Before a call attempt goes out: its circuits (provider, provider:model) must let it through
   * and the provider's shared per-minute limits must have room. Otherwise a final failure the
   * workflow fails over on (CircuitOpen / RateLimitExceeded) carrying when the provider can be
   * called again, so a request with nothing else to call waits for it on a durable timer.
   * Returns the circuit keys whose half-open probe this attempt claimed.
   */
  async function admitCall(input: CallProviderInput, kind: string, attempt: AttemptInfo): Promise<string[]> {
    const guard = deps.resilience;
    if (!guard) return [];
    const { target } = input;
    const probing: string[] = [];
    if (guard.circuits.options.enabled) {
      // Provider first: a model-level probe is not claimed while the whole provider cools down.
      for (const key of circuitKeysFor(target.provider, target.model)) {
        // A circuit seen closed within the last second is taken as still closed (one read per key
        // per second, not per call): another worker's opening is noticed within that second.
        const closedAt = closedCircuits.get(key);
        if (closedAt !== undefined && Date.now() - closedAt < CLOSED_CIRCUIT_TTL_MS) continue;
        const check = await guard.circuits.check([key]);
        if (check.available.includes(key) && check.probing.length === 0) closedCircuits.set(key, Date.now());
        else closedCircuits.delete(key);
        const cooling = check.coolingDown[0];
        deps.metrics?.circuit(key, cooling ? 'open' : check.probing.length > 0 ? 'half_open' : 'closed');
        if (cooling) {
          deps.metrics?.refusal('circuit_open', target.provider);
          throw ApplicationFailure.create({
            message: `${key}: ${cooling.reason}; callable again at ${cooling.until.toISOString()}`,
            type: 'CircuitOpen',
            nonRetryable: true,
            details: [{ provider: target.provider, model: target.model, availableAtMs: cooling.until.getTime(), ...attempt }],
          });
        }
        probing.push(...check.probing);
      }
    }
    const limit = config.resilience.rate_limits[target.provider];
    if (limit && (limit.rpm !== undefined || limit.tpm !== undefined)) {
      const maxTokens = input.maxTokens ?? config.models[target.provider]?.max_tokens ?? 1024;
      const tokens = estimateRequestTokens(input) + maxTokens;
      const grant = await guard.rateLimiter.acquire({ scope: providerScope(target.provider), rpm: limit.rpm, tpm: limit.tpm, tokens });
      if (!grant.granted) {
        deps.metrics?.refusal('rate_limit', target.provider);
        throw ApplicationFailure.create({
          message: `${target.provider} (${kind}): ${grant.reason}; next slot in ${grant.retryAfterMs} ms`,
          type: 'RateLimitExceeded',
          nonRetryable: true,
          details: [{ provider: target.provider, model: target.model, availableAtMs: now() + grant.retryAfterMs, ...attempt }],
        });
      }
    }
    return probing;
  }

  async function storedRunCheck(workflowId: string, request: unknown): Promise<StoredRunCheck> {
    const fingerprint = requestFingerprint(request);
    const stored = await memory.storedRun(workflowId);
    if (!stored) return { kind: 'new', fingerprint };
    // Rows from before fingerprints were kept: compare what they stored (prompt, user, task type).
    const legacy = ['prompt', 'systemPrompt', 'userId', 'taskType'];
    const fields = stored.fingerprint
      ? fingerprintDifferences(stored.fingerprint, fingerprint)
      : fingerprintDifferences(requestFingerprint(stored.request), fingerprint).filter((f) => legacy.includes(f));
    if (fields.length > 0) return { kind: 'conflict', runId: stored.runId, fields, fingerprint };
    if (stored.status === 'completed' && stored.result) return { kind: 'completed', runId: stored.runId, result: stored.result, fingerprint };
    return { kind: 'failed', runId: stored.runId, errorType: stored.errorType ?? 'UnknownError', errorMessage: stored.errorMessage ?? 'the earlier run failed', fingerprint };
  }

  /** Interactions whose outcome events this worker emitted (run id or workflow id), so a retried persist does not emit them twice. */
  const announcedRuns = new Set<string>();
  const announceOnce = (record: InteractionRecord) => {
    const id = `${record.workflowId}/${record.runId ?? ''}`;
    if (announcedRuns.has(id)) return;
    announcedRuns.add(id);
    if (announcedRuns.size > 10_000) announcedRuns.delete(announcedRuns.values().next().value!);
    try {
      // The consensus decision the answer was chosen by (when one ran), then the request's outcome.
      const attempt = currentCall().attempt;
      for (const event of outcomeEvents(record, attempt)) deps.hooks?.emitWith(event.name, () => event.payload);
    } catch (err) {
      logger.warn({ workflowId: record.workflowId, err: err instanceof Error ? err.message : String(err) }, "request outcome events not emitted; the request is unaffected");
    }
  };

  /** The activity being run: its workflow id and attempt (for event payloads). */
  const currentCall = () => {
    const info = Context.current().info;
    return { workflowId: info.workflowExecution?.workflowId ?? '', attempt: info.attempt };
  };
  /** Emit through the worker's hooks; the payload is built only when some hook listens, and building it never fails the activity. */
  const emit = <N extends OrchestratorEventName>(name: N, build: (call: { workflowId: string; attempt: number }) => OrchestratorEvents[N]): void => {
    deps.hooks?.emitWith(name, () => build(currentCall()));
  };

  return {
    /**
     * Validate the request against config, evaluate its complexity, choose its route under the
     * current routing policy (rules, demotions), and under performance_based routing rank the
     * route's candidates by their history. The exploration draw is seeded by the workflow id, so a
     * decision can be reproduced from the recorded statistics.
     */
    async planRequest({ request }: { request: OrchestrateRequest }): Promise<RoutePlan> {
      try {
        const { policy, stats } = deps.routing();
        const valid = validateRequest(effectiveConfig(policy), request);
        const workflowId = Context.current().info.workflowExecution?.workflowId;
        const experiment = experimentFor(valid, workflowId, policy);
        const planningPolicy = experiment?.policy ?? policy;
        const routed = effectiveConfig(planningPolicy);
        const override = valid.complexityOverride;
        const assessment = override
          ? { complexity: override, score: OVERRIDE_SCORES[override], features: {} }
          : await deps.evaluators.evaluate(complexityText(valid), { taskType: valid.taskType, threshold: config.routing.complexity_threshold });
        let plan = planRoute({
          config: routed,
          request: valid,
          assessment,
          complexitySource: override ? 'override' : 'evaluator',
          routingPolicyVersion: policy.version,
        });
        const strategy = experiment?.effect.consensusStrategy ?? plan.consensusStrategy;
        if (strategy !== plan.consensusStrategy) plan = { ...plan, consensusStrategy: strategy, consensus: { ...plan.consensus, strategy, embedAsTheyArrive: strategy === 'similarity' } };
        if (!deps.consensus.names().includes(plan.consensusStrategy)) {
          const where = valid.consensusStrategy !== undefined ? 'consensusStrategy' : `consensus.task_types.${valid.taskType} / consensus.default_strategy`;
          throw new InvalidRequest(`${where}: unknown consensus strategy "${plan.consensusStrategy}" (registered: ${deps.consensus.names().join(', ')})`, [
            { path: 'consensusStrategy', message: `one of ${deps.consensus.names().join(', ')}` },
          ]);
        }
        const lookup = lookupFor(stats);
        const seed = workflowId ?? valid.requestId ?? conversationText(valid);
        let ranked = rankRoute({ plan, policy: planningPolicy, taskType: valid.taskType, stats: lookup, random: seededRandom(seed) });
        // A custom routing strategy (a plugin's, named by routing.custom_strategies) orders the route instead; not a route the request named.
        const custom = plan.ruleId === 'request.providers' ? null : customStrategyName(config, valid.taskType);
        const customStrategy = custom === null ? undefined : deps.routingStrategies?.get(custom);
        if (custom !== null && customStrategy) {
          try {
            ranked = await applyRoutingStrategy(custom, customStrategy, plan, { taskType: valid.taskType, stats: lookup, random: seededRandom(seed) });
          } catch (err) {
            // A failing strategy does not fail the request: the policy's own ranking stands.
            logger.warn({ strategy: custom, err: (err as Error).message }, 'custom routing strategy failed; the routing policy ranked the route');
          }
        }
        const observed = lookup ? withObservedLatency(ranked, valid.taskType, lookup) : ranked;
        const effect = experiment?.effect;
        const systemPrompt = effect?.systemPrompt !== undefined ? (effect.systemPrompt ?? undefined) : valid.systemPrompt;
        const resilience = resiliencePlan(config, { ...valid, ...(systemPrompt === undefined ? { systemPrompt: undefined } : { systemPrompt }) }, observed);
        // Limits of the user's API keys need admission too (checked there, as they are then).
        if (!resilience.admission && deps.keyLimits && hasKeyLimits(await deps.keyLimits(valid.userId, new Date()))) resilience.admission = true;
        const planned: RoutePlan = {
          ...observed,
          experiment: effect ? { id: effect.experimentId, variant: effect.variant, kind: effect.kind, ...(effect.systemPrompt !== undefined && { systemPrompt: effect.systemPrompt }) } : null,
          resilience,
        };
        emit('request.routed', (call) => routedEvent(requestRef(requestIdsOf(call.workflowId, valid), call.attempt), planned));
        return planned;
      } catch (err) {
        const failure = toFailure(err);
        // Refused for good (validation, an unknown strategy): the request fails here, nothing called or stored.
        if (failure instanceof ApplicationFailure && failure.nonRetryable) {
          emit('request.failed', (call) => ({ ...requestRef(requestIdsOf(call.workflowId, request), call.attempt), errorType: failure.type ?? 'Error', latencyMs: null }));
        }
        throw failure;
      }
    },

    /** One call to one provider. Errors are classified by the connector; Temporal retries. */
    async callProvider(input: CallProviderInput): Promise<CallProviderResult> {
      const { target } = input;
      const ctx = Context.current();
      const connector = connectors.get(target.provider);
      if (!connector) {
        throw ApplicationFailure.nonRetryable(`provider "${target.provider}" has no connector on this worker`, 'ModelProviderNotFound');
      }
      // The provider's own error on an earlier attempt of this call (heartbeat details survive
      // retries): a refusal on this attempt (open circuit, full rate window) reports it, so the
      // workflow names this request's error, not the one that opened the circuit elsewhere.
      const local = ctx.info.isLocal;
      const localKey = `${ctx.info.workflowExecution?.workflowId ?? '-'}/${ctx.info.workflowExecution?.runId ?? '-'}/${ctx.info.activityId}`;
      const lastError = local ? (localLastErrors.get(localKey) ?? null) : lastErrorOf(ctx.info.heartbeatDetails);
      if (local) localLastErrors.delete(localKey);
      const attemptInfo: AttemptInfo = { attempt: ctx.info.attempt, ...(lastError && { lastError }) };
      // A local activity is cancelled by its own worker, without heartbeats (the server knows nothing of it).
      const beat = () => (local ? undefined : ctx.heartbeat(lastError ? { lastError } : undefined));
      const stream = callStream(input, connector, deps.streamBus, ctx.info.workflowExecution?.workflowId);
      // Heartbeats carry cancellation to a running call (early stop, a lost hedge). The first one
      // goes out after a second, so quick calls cost no extra round trip; the SDK throttles the rest.
      let heartbeat: NodeJS.Timeout | null = null;
      const first = setTimeout(() => {
        beat();
        heartbeat = setInterval(beat, HEARTBEAT_EVERY_MS);
      }, HEARTBEAT_EVERY_MS);
      // The provider's shared concurrency slot first: a refusal then uses no rate-limit slot and claims no probe.
      const lease = await takeSlot(input, connector.kind, `${ctx.info.workflowExecution?.workflowId ?? '-'}/${ctx.info.activityId}#${ctx.info.attempt}`, ctx.cancellationSignal, attemptInfo).catch((err: unknown) => {
        clearTimeout(first);
        if (heartbeat) clearInterval(heartbeat);
        throw err;
      });
      // Set when the call goes out (after the slot, circuit and rate-limit checks): a refused attempt is not a provider call.
      let callStarted: number | null = null;
      try {
        const probing = await admitCall(input, connector.kind, attemptInfo);
        const generateRequest = {
          model: target.model,
          prompt: input.prompt,
          ...(input.messages !== undefined && { messages: input.messages }),
          ...(input.systemPrompt !== undefined && { systemPrompt: input.systemPrompt }),
          ...(input.temperature !== undefined && { temperature: input.temperature }),
          ...(input.maxTokens !== undefined && { maxTokens: input.maxTokens }),
        };
        const callOptions = { signal: ctx.cancellationSignal, timeoutMs: target.timeoutMs };
        callStarted = performance.now();
        emit('provider.call.started', (call) => callRef(input, call));
        // A span per HTTP call when tracing is on (child of RunActivity:callProvider; no text in it).
        const response = await traceProviderCall({ provider: target.provider, kind: connector.kind, model: target.model, attempt: ctx.info.attempt, stream: stream !== null }, () =>
          stream ? stream.call(generateRequest, callOptions) : connector.generate(generateRequest, callOptions),
        );
        const costUsd = callCostUsd(config.pricing, response.model, response.tokensIn, response.tokensOut, connector.kind);
        const callMs = performance.now() - callStarted;
        deps.metrics?.providerCall({ provider: target.provider, model: target.model, attempt: ctx.info.attempt, status: 'succeeded', errorType: null, durationMs: performance.now() - callStarted, tokensIn: response.tokensIn, tokensOut: response.tokensOut, costUsd });
        // The exchange itself, for debugging: the text shows only with LOG_PROMPTS=on at debug level (src/privacy/log-text.ts).
        logger.debug(
          { provider: target.provider, model: response.model, attempt: ctx.info.attempt, prompt: input.prompt, ...(input.systemPrompt !== undefined && { systemPrompt: input.systemPrompt }), ...(input.messages !== undefined && { messages: input.messages }), content: response.content, tokensIn: response.tokensIn, tokensOut: response.tokensOut },
          'provider answered',
        );
        for (const key of circuitKeysFor(target.provider, target.model)) outcomes.record(key, false);
        // A successful probe closes its circuit; a closed circuit needs no write per call.
        for (const key of probing) {
          const closed = await deps.resilience?.circuits.recordSuccess(key).catch((e: unknown) => logger.warn({ key, err: (e as Error).message }, 'circuit update failed'));
          if (closed?.closed) deps.metrics?.circuit(key, 'closed');
        }
        stream?.done(response.finishReason);
        emit('provider.call.succeeded', (call) => ({ ...callRef(input, call), latencyMs: Math.round(callMs), tokensIn: response.tokensIn, tokensOut: response.tokensOut, costUsd }));
        return { response: { ...response, costUsd }, attempts: ctx.info.attempt };
      } catch (err) {
        stream?.failed(err);
        if (callStarted !== null) {
          const aborted = ctx.cancellationSignal.aborted || (err instanceof ProviderCallError && err.type === 'ProviderAborted');
          const errorType = err instanceof ProviderCallError ? err.type : err instanceof ApplicationFailure ? (err.type ?? 'Error') : 'Error';
          deps.metrics?.providerCall({ provider: target.provider, model: target.model, attempt: ctx.info.attempt, status: aborted ? 'cancelled' : 'failed', errorType: aborted ? 'Cancelled' : errorType, durationMs: performance.now() - callStarted });
          const latencyMs = Math.round(performance.now() - callStarted);
          if (aborted) emit('provider.call.cancelled', (call) => ({ ...callRef(input, call), latencyMs }));
          else {
            // Temporal runs another attempt when the error is retryable and attempts remain.
            const retryable = err instanceof ProviderCallError ? err.retryable : !(err instanceof ApplicationFailure && err.nonRetryable);
            emit('provider.call.failed', (call) => ({ ...callRef(input, call), latencyMs, errorType, retryable, willRetry: retryable && call.attempt < target.maxAttempts }));
          }
        }
        // A health failure counts against the circuits; if one is open now, the provider is cooling
        // down and the workflow may wait for it (availableAtMs) instead of giving up at once.
        let availableAtMs: number | null = null;
        const health = err instanceof ProviderCallError && countsAgainstCircuit(err.type);
        if (health) for (const key of circuitKeysFor(target.provider, target.model)) outcomes.record(key, true);
        if (err instanceof ProviderCallError && health && deps.resilience) {
          const circuits = deps.resilience.circuits;
          for (const key of circuitKeysFor(target.provider, target.model)) {
            // A busy provider with a few errors is not cut off: only a high failure rate counts.
            if (outcomes.failureRate(key) < config.resilience.circuit_breaker.min_failure_rate) continue;
            const outcome = await circuits.recordFailure(key, err.type, err.message).catch((e: unknown) => {
              logger.warn({ key, err: (e as Error).message }, 'circuit update failed');
              return null;
            });
            if (outcome) deps.metrics?.circuit(key, outcome.state);
            if (outcome?.state === 'open') {
              availableAtMs = now() + circuits.options.cooldownMs;
              closedCircuits.delete(key);
            }
          }
        }
        if (err instanceof ProviderCallError) {
          // Flushed with the failure: the next attempt reads it (see lastError above).
          if (err.retryable && local) {
            localLastErrors.set(localKey, { type: err.type, message: err.message });
            if (localLastErrors.size > LOCAL_ERRORS_KEPT) localLastErrors.delete(localLastErrors.keys().next().value!);
          } else if (err.retryable) ctx.heartbeat({ lastError: { type: err.type, message: err.message } });
          ctx.log.warn('provider call failed', { provider: target.provider, model: target.model, type: err.type, status: err.status, attempt: ctx.info.attempt });
          throw ApplicationFailure.create({
            message: err.message,
            type: err.type,
            nonRetryable: !err.retryable,
            details: [{ status: err.status, provider: target.provider, model: target.model, attempt: ctx.info.attempt, ...(availableAtMs !== null && { availableAtMs }) }],
            ...(err.retryAfterMs !== null && err.retryable && { nextRetryDelay: Math.min(err.retryAfterMs, maxRetryAfterMs) }),
          });
        }
        throw toFailure(err);
      } finally {
        clearTimeout(first);
        if (heartbeat) clearInterval(heartbeat);
        await lease?.release();
      }
    },

    /**
     * Pick one answer out of several with the named strategy. `thresholdMet` in the output = the
     * strategy's own agreement rule and `confidence >= consensus.confidence_threshold` (`criteria`
     * keeps them apart), so the workflow's low-confidence test never contradicts it.
     */
    async selectConsensus(input: ConsensusInput): Promise<ConsensusOutput> {
      try {
        const strategy = deps.consensus.get(input.strategy);
        const threshold = consensusThreshold(config, input.strategy);
        const decision = await strategy.findConsensus(input.responses, { taskType: input.taskType, prompt: input.prompt, threshold });
        return withConsensusCriteria(decision, config.consensus.confidence_threshold);
      } catch (err) {
        if (err instanceof JudgeError) {
          throw ApplicationFailure.create({ message: err.message, type: 'JudgeFailed', nonRetryable: !err.retryable, details: [{ kind: err.kind, judge: err.judge }] });
        }
        if (err instanceof EmbeddingModelNotFoundError) {
          throw ApplicationFailure.create({ message: err.message, type: 'EmbeddingModelMissing', nonRetryable: true, details: [{ modelDir: err.modelDir, missing: err.missing }] });
        }
        if (err instanceof EmbeddingModelLoadError) throw ApplicationFailure.nonRetryable(err.message, 'EmbeddingModelUnreadable');
        throw ApplicationFailure.nonRetryable((err as Error).message, 'ConsensusError');
      }
    },

    /** Store explicit feedback on an answer (idempotent by its id); InvalidRequest is final. */
    async recordFeedback(input: FeedbackInput): Promise<{ id: string; interactionId: string }> {
      try {
        return await memory.recordFeedback(input);
      } catch (err) {
        throw toFailure(err);
      }
    },

    /**
     * Before a request workflow does anything: did an earlier run of this workflow id (started
     * again by a client whose reuse policy allows it) already answer? Its request is compared
     * field by field with this one (a fingerprint; prompts are not compared in the clear).
     */
    async checkStoredRun({ workflowId, request }: { workflowId: string; request: unknown }): Promise<StoredRunCheck> {
      const check = await storedRunCheck(workflowId, request);
      // The first activity of every request run: the request has started; an earlier run may decide it here.
      const ref = (call: { attempt: number }) => requestRef(requestIdsOf(workflowId, request), call.attempt);
      emit('request.started', ref);
      if (check.kind === 'completed') emit('request.completed', (call) => repeatedCompletion(ref(call), check.result));
      if (check.kind === 'failed' || check.kind === 'conflict') emit('request.failed', (call) => ({ ...ref(call), errorType: check.kind === 'failed' ? check.errorType : 'IdempotencyConflict', latencyMs: null }));
      return check;
    },

    /**
     * Write the interaction and its provider calls in one transaction; idempotent by workflow id.
     * A row another run of the workflow id wrote is kept (and this is logged), never overwritten.
     */
    async persistInteraction(record: InteractionRecord): Promise<PersistOutcome> {
      try {
        const outcome = await memory.persistInteraction(record);
        // Metrics once per run: a retried persist of the same run is not counted again.
        if (outcome.stored) recordRequestOnce(record);
        // Hooks hear the run's outcome either way: this run answered (or failed) with it.
        if (deps.hooks) announceOnce(record);
        if (!outcome.stored) logger.warn({ workflowId: record.workflowId, runId: record.runId ?? null, existingRunId: outcome.existingRunId }, 'interaction kept: another run of this workflow id stored it first');
        return outcome;
      } catch (err) {
        // The error itself: the logger redacts a database error that quotes the record (a Prisma validation error prints its data).
        logger.error({ err, workflowId: record.workflowId }, 'persist failed');
        throw err;
      }
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/**
 * One provider call of a `stream: true` request on a worker with a stream bus: streamed through
 * the connector, each delta published under the workflow id tagged with the call's index,
 * provider and model. The time to the first token is measured here, from the start of the
 * provider call, and reported on the response (`firstTokenMs`). A failure after the first delta
 * publishes `error` (the client's stream ends there; the retry or fallback that answers instead
 * is never spliced into it); a failure before it publishes nothing, so the failover is invisible.
 */
function callStream(input: CallProviderInput, connector: ModelConnector, bus: StreamBus | undefined, workflowId: string | undefined) {
  const generateStream = connector.generateStream?.bind(connector);
  if (!input.stream || !bus || !generateStream || workflowId === undefined) return null;
  const { callIndex, target } = input;
  let firstTokenMs: number | null = null;
  return {
    async call(request: Parameters<typeof generateStream>[0], options: { signal: AbortSignal; timeoutMs: number }): Promise<GenerateResponse> {
      const start = performance.now();
      const { firstTokenMs: _connectorFigure, ...response } = await generateStream(request, {
        ...options,
        onDelta: (text) => {
          firstTokenMs ??= Math.round(performance.now() - start);
          bus.publish(workflowId, { type: 'delta', callIndex, provider: target.provider, model: target.model, text });
        },
      });
      return firstTokenMs === null ? response : { ...response, firstTokenMs };
    },
    done(finishReason: string): void {
      bus.publish(workflowId, { type: 'done', callIndex, finishReason });
    },
    failed(err: unknown): void {
      if (firstTokenMs === null) return;
      const cancelled = err instanceof ProviderCallError && err.type === 'ProviderAborted';
      const errorType = err instanceof ProviderCallError ? (cancelled ? 'Cancelled' : err.type) : err instanceof ApplicationFailure ? (err.type ?? 'Error') : 'Error';
      bus.publish(workflowId, { type: 'error', callIndex, errorType, message: err instanceof Error ? err.message : String(err) });
    },
  };
}

const HEARTBEAT_EVERY_MS = 1000;
/** Earlier-attempt errors of local provider calls a worker keeps at most (activities in flight need one each). */
const LOCAL_ERRORS_KEPT = 10_000;

/** Which attempt of a provider call this is, and the provider's error on the attempt before, if any. */
interface AttemptInfo {
  attempt: number;
  lastError?: { type: string; message: string };
}

/** The provider error an earlier attempt recorded in its heartbeat details. */
function lastErrorOf(details: unknown): { type: string; message: string } | null {
  if (typeof details !== 'object' || details === null) return null;
  const e = (details as { lastError?: unknown }).lastError;
  if (typeof e !== 'object' || e === null) return null;
  const { type, message } = e as { type?: unknown; message?: unknown };
  return typeof type === 'string' && typeof message === 'string' ? { type, message: message.slice(0, 500) } : null;
}
/** How long a circuit seen closed is trusted without reading it again. */
const CLOSED_CIRCUIT_TTL_MS = 1_000;
/** A concurrency lease outlives a killed worker by at most this long. */
const LEASE_MS = 30_000;

/** A provider call's event fields: the request's ids the workflow passed (a run from before them: the workflow id only). */
function callRef(input: CallProviderInput, call: { workflowId: string; attempt: number }) {
  const ids: RequestIds = input.request ? { workflowId: call.workflowId, ...input.request } : { workflowId: call.workflowId };
  return { ...requestRef(ids, call.attempt), provider: input.target.provider, model: input.target.model, callIndex: input.callIndex };
}

/** Cache key, admission and token estimates, deadline and hedging for a planned request. */
function resiliencePlan(config: Config, request: OrchestrateRequest, plan: RoutePlan): RoutePlan['resilience'] {
  const settings = config.resilience;
  const maxTokens = request.maxTokens ?? Math.max(...[...plan.targets, ...plan.fallbacks].map((t) => config.models[t.provider]?.max_tokens ?? 1024));
  const admission = settings.quotas.per_user_requests !== undefined || settings.quotas.per_user_tokens !== undefined || settings.budgets.per_user_usd !== undefined || settings.budgets.global_usd !== undefined;
  // Cached answers only for deterministic-enough settings: a temperature above 0 asks for variety.
  const cacheable = settings.cache.enabled && (request.temperature === undefined || request.temperature === 0);
  return {
    cacheKey: cacheable
      ? responseCacheKey({
          prompt: lastUserTurn(request),
          messages: request.messages,
          systemPrompt: request.systemPrompt,
          temperature: request.temperature,
          maxTokens: request.maxTokens,
          taskType: request.taskType,
          route: plan.targets.map((t) => `${t.provider}:${t.model}`),
          consensusStrategy: plan.consensusStrategy,
        })
      : null,
    admission,
    promptTokens: estimateRequestTokens(request),
    maxTokens,
    deadlineMs: config.performance.request_timeout * 1000,
    // A streamed request is not hedged: the client follows the first call that sends a token, and a
    // hedge that answered first would cancel that call mid-stream.
    hedging: settings.hedging.enabled && request.stream !== true ? { useP95: settings.hedging.after === 'p95', delayMs: settings.hedging.delay_ms ?? null } : null,
  };
}

/** The score recorded when the caller set the complexity: the middle of each band. */
const OVERRIDE_SCORES: Record<Complexity, number> = { simple: 0, medium: 0.5, complex: 1 };

function consensusThreshold(config: Config, strategy: string): number {
  const configured = config.consensus.strategies[strategy]?.['threshold'];
  if (typeof configured === 'number') return configured;
  // Word-overlap scores run lower than embedding similarities for the same agreement.
  return strategy === 'lexical' ? LEXICAL_DEFAULT_THRESHOLD : config.consensus.similarity_threshold;
}
