/**
 * Requests-per-minute and tokens-per-minute limits shared by every worker, in fixed one-minute
 * windows stored in `RateWindow` (key `<scope>:<window start epoch ms>`).
 *
 * `acquire` makes sure the window's row exists, then takes its share with one conditional
 * UPDATE (`requests + 1 <= rpm AND tokens + n <= tpm`): the database checks and increments in
 * the same statement, so racing workers never overshoot a limit. A refusal says how long until
 * the window ends. Rows of past windows are deleted by `cleanupExpired` (also run by the first
 * caller of each new window).
 */
import { guarded, isUniqueViolation, MAX_CAS_ROUNDS, type ResilienceDatabase } from './db';

export const RATE_WINDOW_MS = 60_000;

export interface AcquireInput {
  /** What the limit applies to, e.g. `provider:openai` (see providerScope). */
  scope: string;
  /** Requests per minute; undefined = not limited. */
  rpm?: number | undefined;
  /** Tokens per minute; undefined = not limited. */
  tpm?: number | undefined;
  /** Tokens this request may use (prompt estimate + max output tokens). */
  tokens: number;
  now?: Date;
}

export type AcquireResult = { granted: true } | { granted: false; retryAfterMs: number; reason: string };

export interface RateLimiter {
  acquire(input: AcquireInput): Promise<AcquireResult>;
  /** Delete the rows of windows that have ended; returns how many. */
  cleanupExpired(now?: Date): Promise<number>;
  /** Usage of the window holding `now` (inspection, tests). */
  usage(scope: string, now?: Date): Promise<{ requests: number; tokens: number }>;
}

export function providerScope(provider: string): string {
  return `provider:${provider}`;
}

export function windowStartOf(now: Date): number {
  return Math.floor(now.getTime() / RATE_WINDOW_MS) * RATE_WINDOW_MS;
}

export function windowKey(scope: string, windowStartMs: number): string {
  return `${scope}:${windowStartMs}`;
}

function checkLimit(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new RangeError(`${name} must be a positive integer`);
}

export function createRateLimiter(database: ResilienceDatabase): RateLimiter {
  const { db, guard } = guarded(database);

  async function cleanupExpired(now: Date): Promise<number> {
    const deleted = await db.rateWindow.deleteMany({ where: { expiresAt: { lte: now } } });
    return deleted.count;
  }

  /** Create the window's row when missing; true when this caller created it. */
  async function ensureWindow(key: string, scope: string, windowStart: number): Promise<boolean> {
    if (await db.rateWindow.findUnique({ where: { key }, select: { key: true } })) return false;
    try {
      await db.rateWindow.create({ data: { key, scope, requests: 0, tokens: 0, expiresAt: new Date(windowStart + RATE_WINDOW_MS) } });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false; // another worker opened the window first
      throw error;
    }
  }

  return {
    acquire: (input) =>
      guard('acquire a rate limit', async () => {
        const { scope, rpm, tpm, tokens } = input;
        const now = input.now ?? new Date();
        if (scope === '') throw new RangeError('scope must not be empty');
        if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError('tokens must be a non-negative integer');
        checkLimit('rpm', rpm);
        checkLimit('tpm', tpm);
        if (rpm === undefined && tpm === undefined) return { granted: true };

        const windowStart = windowStartOf(now);
        const key = windowKey(scope, windowStart);
        for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
          if (await ensureWindow(key, scope, windowStart)) await cleanupExpired(now);
          const taken = await db.rateWindow.updateMany({
            where: {
              key,
              ...(rpm !== undefined ? { requests: { lte: rpm - 1 } } : {}),
              // A request larger than the whole limit gets an otherwise empty window, so it is
              // delayed rather than refused forever.
              ...(tpm !== undefined ? { tokens: { lte: Math.max(0, tpm - tokens) } } : {}),
            },
            data: { requests: { increment: 1 }, tokens: { increment: tokens } },
          });
          if (taken.count === 1) return { granted: true };
          const row = await db.rateWindow.findUnique({ where: { key } });
          if (!row) continue; // cleaned up by a caller with a later clock: open it again
          const reason =
            rpm !== undefined && row.requests >= rpm
              ? `${scope}: ${row.requests}/${rpm} requests this minute`
              : `${scope}: ${row.tokens} + ${tokens} tokens would exceed ${tpm ?? 0} tokens this minute`;
          return { granted: false, retryAfterMs: Math.max(1, windowStart + RATE_WINDOW_MS - now.getTime()), reason };
        }
        throw new Error(`rate window ${key}: could not be opened under contention (${MAX_CAS_ROUNDS} rounds)`);
      }),

    cleanupExpired: (now = new Date()) => guard('clean up rate windows', () => cleanupExpired(now)),

    usage: (scope, now = new Date()) =>
      guard('read a rate window', async () => {
        const row = await db.rateWindow.findUnique({ where: { key: windowKey(scope, windowStartOf(now)) } });
        return { requests: row?.requests ?? 0, tokens: row?.tokens ?? 0 };
      }),
  };
}
