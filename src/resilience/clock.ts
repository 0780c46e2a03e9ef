/**
 * Resilience components judged by a clock of the caller's choosing instead of the wall clock
 * (RuntimeOptions.clock): every call that takes an optional `now` gets the clock's time when the
 * caller gives none. The testing kit's time-skipping environment passes the test server's time,
 * so circuit cooldowns and rate-limit windows end when the workflow's skipped timers say they have.
 */
import type { ResilienceComponents } from './index';

export function withClock<T extends Pick<ResilienceComponents, 'circuits' | 'rateLimiter'>>(components: T, clock: () => number): T {
  const now = () => new Date(clock());
  const { circuits, rateLimiter } = components;
  return {
    ...components,
    circuits: {
      options: circuits.options,
      check: (keys, at = now()) => circuits.check(keys, at),
      recordSuccess: (key, at = now()) => circuits.recordSuccess(key, at),
      recordFailure: (key, errorType, message, at = now()) => circuits.recordFailure(key, errorType, message, at),
      snapshot: (key) => circuits.snapshot(key),
    },
    rateLimiter: {
      ...rateLimiter,
      acquire: (input) => rateLimiter.acquire({ ...input, now: input.now ?? now() }),
      usage: (scope, at = now()) => rateLimiter.usage(scope, at),
    },
  };
}
