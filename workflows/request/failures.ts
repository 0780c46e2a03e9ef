/** Failure decoding: what a failed provider-call activity tells the workflow. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';

function numberField(detail: unknown, name: string): number | null {
  if (typeof detail !== 'object' || detail === null) return null;
  const value = (detail as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : null;
}


/**
 * What a failed provider call tells the workflow: its failure type, how many attempts it made, and
 * for an open circuit or a full rate limit, when the provider can be called again.
 */
export function describeFailure(err: unknown, maxAttempts: number): { errorType: string; errorMessage: string; attempts: number; availableAtMs?: number } {
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
