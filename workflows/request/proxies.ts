/** The request workflow's activity proxies: one per retry/timeout profile. */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ConsensusActivities } from '../../activities/consensus';
import type { ResilienceActivities } from '../../activities/resilience';
import type { ProviderTarget } from '../../src/types';

const HEARTBEAT_TIMEOUT_MS = 5_000;

type WorkerActivities = Activities & ResilienceActivities & ConsensusActivities;

/** Local compute: planning, consensus and cache lookups run in the worker, recorded as markers. */
export const compute = proxyLocalActivities<WorkerActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '200ms' },
});

/**
 * Database writes: a local activity, so persisting costs no extra round trip through the server
 * (one workflow task fewer per request). Idempotent by workflow id, so a retry or a replay after
 * a worker crash never duplicates rows; retried with backoff while the database is away.
 */
export const database = proxyLocalActivities<WorkerActivities>({
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
export function providerCall(target: ProviderTarget): Activities['callProvider'] {
  return proxyActivities<Activities>({
    // The Web UI's timeline names each bar by the provider it calls.
    summary: `${target.provider}:${target.model}`,
    startToCloseTimeout: target.timeoutMs,
    ...(target.timeoutMs > HEARTBEAT_TIMEOUT_MS && { heartbeatTimeout: HEARTBEAT_TIMEOUT_MS }),
    retry: providerRetry(target),
  }).callProvider;
}

/**
 * Provider calls in `local` mode (performance.provider_calls, README "Provider-call modes"): the
 * same activity run as a local activity in this worker, so no round trip through the server per
 * call. The same per-attempt timeout and retry policy; backoffs up to LOCAL_RETRY_THRESHOLD_MS
 * are waited in the worker, longer ones (a long Retry-After) on a durable timer. No heartbeats: a
 * cancelled call is aborted by the worker directly; a call on a worker that died is made again,
 * with every call of the unfinished workflow task, by the next worker. The fan-out runs such
 * calls in waves (fan-out.ts gatherInWaves).
 */
export function localProviderCall(target: ProviderTarget): Activities['callProvider'] {
  return proxyLocalActivities<Activities>({
    summary: `${target.provider}:${target.model}`,
    startToCloseTimeout: target.timeoutMs,
    localRetryThreshold: LOCAL_RETRY_THRESHOLD_MS,
    retry: providerRetry(target),
  }).callProvider;
}

/** Backoffs longer than this in `local` mode wait on a durable timer instead of in the worker (a worker that dies then loses less). */
const LOCAL_RETRY_THRESHOLD_MS = 5_000;

function providerRetry(target: ProviderTarget) {
  return {
    maximumAttempts: target.maxAttempts,
    initialInterval: target.initialBackoffMs,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: ['ModelProviderNotFound', 'CircuitOpen', 'RateLimitExceeded', 'ConcurrencyLimitReached'],
  };
}
