/**
 * The typed events a worker emits about each request (the contract between the event bus in
 * src/hooks, the activities that emit, and plugins that subscribe). Events are emitted from
 * activities and worker code only, after the activity's result is decided: a replay never runs
 * activities, so it never fires hooks. Payloads carry identifiers, routing decisions, figures and
 * error types, never prompt or answer text.
 *
 * Delivery is at least once: an activity Temporal runs again (a retry, or a local activity redone
 * after a worker died before its workflow task completed) emits again; `attempt` tells them apart.
 */

interface RequestRef {
  /** The request's workflow id. */
  workflowId: string;
  /** The request's id (the workflow id when whoever started it gave none). */
  requestId: string;
  /** As the request named it (an empty string when a request that failed validation had none). */
  taskType: string;
  userId?: string;
  /** 1-based attempt of the activity that emitted the event (Temporal retries). */
  attempt: number;
  /** Epoch ms when the event was emitted. */
  at: number;
}

interface CallRef extends RequestRef {
  provider: string;
  model: string;
  /** The call's index within its request (0-based, in the order the workflow started calls). */
  callIndex: number;
}

type Target = { provider: string; model: string };

export interface OrchestratorEvents {
  'request.started': RequestRef;
  'request.routed': RequestRef & {
    complexity: string;
    /** `static` or `performance_based` (ranked by measured history). */
    strategy: string;
    /** The first wave, called in parallel. */
    providers: Target[];
    /** Tried in order when fewer than the required answers came back. */
    fallbacks: Target[];
    requireConsensus: boolean;
    consensusStrategy: string;
    /** The routing rule that matched (null: the default route). */
    ruleId: string | null;
    policyVersion: number;
    /** The A/B experiment variant the request runs, if any. */
    experiment: { id: string; variant: string } | null;
    /** Why this route, in a few words (the rule, the default route, an exploration draw). */
    reason?: string;
  };
  'provider.call.started': CallRef;
  'provider.call.succeeded': CallRef & { latencyMs: number; tokensIn: number; tokensOut: number; costUsd: number };
  /** `retryable`: the error's own classification; `willRetry`: Temporal runs another attempt of this call. */
  'provider.call.failed': CallRef & { latencyMs: number; errorType: string; retryable: boolean; willRetry: boolean };
  'provider.call.cancelled': CallRef & { latencyMs: number };
  /** The decision the request's answer was chosen by (once per request, when consensus ran). */
  'consensus.reached': RequestRef & { strategy: string; confidence: number; agreement: number | null; responses: number; thresholdMet: boolean | null; lowConfidence: boolean };
  /**
   * `cached`: answered from the response cache (no provider called); `repeated`: an earlier run of
   * the same workflow id answered (its stored result returned; latency, cost and providers are that run's).
   */
  'request.completed': RequestRef & { latencyMs: number; costUsd: number; providers: string[]; confidence: number | null; cached: boolean; repeated: boolean };
  /** `latencyMs`: from the workflow's start, when known (null: failed before planning). */
  'request.failed': RequestRef & { errorType: string; latencyMs: number | null };
  /** A worker's routing policy cache took a new version (each worker emits it once it notices). */
  'policy.changed': { version: number; previousVersion: number; strategy: string; source: string; at: number };
  'improvement.applied': { proposalId: string; kind: string; policyVersion: number | null; attempt: number; at: number };
}

export type OrchestratorEventName = keyof OrchestratorEvents;

/** What a hook gets beside the event: its subscription's source, and a signal aborted when its time limit passes (its late result is ignored). */
export interface HookContext {
  source: string;
  signal: AbortSignal;
}

export type EventHook<N extends OrchestratorEventName = OrchestratorEventName> = (event: OrchestratorEvents[N], name: N, context: HookContext) => void | Promise<void>;

/** What a plugin (or a user's worker setup) subscribes: one hook or several per event name. */
export type HookSubscriptions = { [N in OrchestratorEventName]?: EventHook<N> | EventHook<N>[] };
