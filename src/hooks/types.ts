/**
 * The typed events a worker emits about each request (the contract between the event bus in
 * src/hooks, the activities that emit, and plugins that subscribe). Events are emitted from
 * activities and worker code only, after the activity's result is decided: a replay never runs
 * activities, so it never fires hooks. Payloads carry identifiers, routing decisions, figures and
 * error types, never prompt or answer text.
 */

interface RequestRef {
  /** The request's workflow id. */
  workflowId: string;
  requestId: string;
  taskType: string;
  userId?: string;
  /** Epoch ms when the event was emitted. */
  at: number;
}

interface CallRef extends RequestRef {
  provider: string;
  model: string;
  /** 1-based attempt of this activity (Temporal retries). */
  attempt: number;
}

export interface OrchestratorEvents {
  'request.started': RequestRef;
  'request.routed': RequestRef & { complexity: string; strategy: string; providers: { provider: string; model: string }[]; policyVersion: number; reason?: string };
  'provider.call.started': CallRef;
  'provider.call.succeeded': CallRef & { latencyMs: number; tokensIn: number; tokensOut: number; costUsd: number };
  'provider.call.failed': CallRef & { latencyMs: number; errorType: string; retryable: boolean };
  'provider.call.cancelled': CallRef & { latencyMs: number };
  'consensus.reached': RequestRef & { strategy: string; confidence: number; agreement: number | null; responses: number };
  'request.completed': RequestRef & { latencyMs: number; costUsd: number; providers: string[]; confidence: number | null; cached: boolean };
  'request.failed': RequestRef & { errorType: string };
  'policy.changed': { version: number; previousVersion: number; at: number };
  'improvement.applied': { proposalId: string; kind: string; policyVersion: number | null; at: number };
}

export type OrchestratorEventName = keyof OrchestratorEvents;

export type EventHook<N extends OrchestratorEventName = OrchestratorEventName> = (event: OrchestratorEvents[N], name: N) => void | Promise<void>;

/** What a plugin (or a user's worker setup) subscribes: one hook or several per event name. */
export type HookSubscriptions = { [N in OrchestratorEventName]?: EventHook<N> | EventHook<N>[] };
