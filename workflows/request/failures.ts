/** Failure decoding: what a failed provider-call activity tells the workflow. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { ProviderCallOutcome } from '../../src/types';

function numberField(detail: unknown, name: string): number | null {
  if (typeof detail !== 'object' || detail === null) return null;
  const value = (detail as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : null;
}


/**
 * What a failed provider call tells the workflow: its failure type, how many attempts it made, and
 * for an open circuit or a full rate limit, when the provider can be called again.
 */
export function describeFailure(err: unknown, maxAttempts: number): { errorType: string; errorMessage: string; attempts: number; availableAtMs?: number; earlierError?: { type: string; message: string } } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const exhausted = err instanceof ActivityFailure && err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
  if (cause instanceof ApplicationFailure) {
    const detail: unknown = cause.details?.[0];
    const attempt = numberField(detail, 'attempt');
    const availableAtMs = numberField(detail, 'availableAtMs');
    const earlierError = errorField(detail, 'lastError');
    return {
      ...(earlierError && { earlierError }),
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

function errorField(detail: unknown, name: string): { type: string; message: string } | null {
  if (typeof detail !== 'object' || detail === null) return null;
  const value = (detail as Record<string, unknown>)[name];
  if (typeof value !== 'object' || value === null) return null;
  const { type, message } = value as { type?: unknown; message?: unknown };
  return typeof type === 'string' && typeof message === 'string' ? { type, message } : null;
}

/** Failures that refused a call before it went out (the provider was not asked). */
const REFUSALS = new Set(['CircuitOpen', 'RateLimitExceeded', 'ConcurrencyLimitReached']);

const REFUSAL_TEXT: Record<string, string> = {
  CircuitOpen: 'circuit open',
  RateLimitExceeded: 'shared rate limit reached',
  ConcurrencyLimitReached: 'concurrency limit reached',
};

/**
 * One line per provider:model, in the order they were first called: how many calls and attempts
 * this request made and the last error the provider itself gave in this request. Calls refused
 * before they went out (an open circuit, a full rate window) are named by what refused them and
 * until when, not by the error that opened the circuit in some earlier request.
 */
export function summarizeAttempts(outcomes: ProviderCallOutcome[]): string {
  const groups = new Map<string, ProviderCallOutcome[]>();
  for (const o of outcomes) {
    const key = `${o.provider}:${o.model}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  return [...groups.entries()]
    .map(([key, calls]) => {
      const attempts = calls.reduce((n, c) => n + c.attempts, 0);
      const last = calls[calls.length - 1]!;
      const counts = `${calls.length} call${calls.length === 1 ? '' : 's'}, ${attempts} attempt${attempts === 1 ? '' : 's'}`;
      if (last.status === 'succeeded') return `${key} succeeded (${counts})`;
      // The provider's own last error: a call that failed with it, or an earlier attempt of a call then refused.
      const own = [...calls]
        .reverse()
        .map((c) => (c.status === 'failed' && c.errorType !== null && !REFUSALS.has(c.errorType) ? { errorType: c.errorType, errorMessage: c.errorMessage } : c.earlierError ? { errorType: c.earlierError.type, errorMessage: c.earlierError.message } : null))
        .find((e) => e !== null);
      const refused = calls.filter((c) => c.errorType !== null && REFUSALS.has(c.errorType));
      const lastRefusal = refused[refused.length - 1];
      const parts: string[] = [];
      if (own) parts.push(`last error ${ownErrorText(key, own.errorType, own.errorMessage)}`.trim());
      if (lastRefusal?.errorType) {
        const until = lastRefusal.availableAtMs !== undefined ? ` until ${new Date(lastRefusal.availableAtMs).toISOString()}` : '';
        parts.push(`${REFUSAL_TEXT[lastRefusal.errorType] ?? lastRefusal.errorType}${until}${refused.length > 1 ? ` (refused ${refused.length} times)` : ''}`);
      }
      if (last.status === 'cancelled') parts.push(last.errorMessage ?? 'cancelled');
      return `${key} ${last.status} (${counts})${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
    })
    .join('; ');
}

/**
 * A provider's error as its line in the summary names it: the connectors' messages start with
 * `provider:model Type (HTTP status): `, which the line already says, so that prefix becomes
 * `Type: detail (HTTP status)` (each provider:model is named once per request).
 */
function ownErrorText(key: string, type: string, message: string | null): string {
  const text = message ?? '';
  const prefix = `${key} ${type}`;
  const rest = text.startsWith(prefix) ? /^(?: \(HTTP (\d{3})\))?: ([\s\S]*)$/.exec(text.slice(prefix.length)) : null;
  if (!rest) return `${type}: ${text}`;
  return `${type}: ${rest[2] ?? ''}${rest[1] !== undefined ? ` (HTTP ${rest[1]})` : ''}`;
}
