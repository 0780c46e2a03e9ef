/**
 * Circuit breakers per provider or provider:model, shared by every worker through the
 * `CircuitState` table.
 *
 *   closed     calls go through; health failures are counted in a fixed window of `windowMs`
 *              that starts at the first failure. `failureThreshold` of them inside the window
 *              open the circuit.
 *   open       no calls until `openUntil` (`cooldownMs` after opening). The first `check` after
 *              that claims the one probe: the row moves to half_open, and only the caller whose
 *              conditional update matched gets the key back as available.
 *   half_open  one probe is out. Its success closes the circuit, a health failure re-opens it
 *              for another cooldown. A probe that never reports (its worker died) gives the
 *              probe up after `probeLeaseMs`; the next check claims a new one.
 *
 * Every transition is one conditional UPDATE (compare-and-swap on the columns that decide it),
 * so racing workers on SQLite or PostgreSQL never both win one, and no lock is held between
 * statements. Only failures that say something about the provider's health count (see
 * CIRCUIT_FAILURE_TYPES): a bad request, an auth error or a too-long prompt is the caller's
 * problem and leaves the circuit alone.
 */
import type { CircuitBreakerSettings } from '../config/schema';
import type { ProviderErrorType } from '../providers/errors';
import { guarded, isUniqueViolation, MAX_CAS_ROUNDS, type ResilienceDatabase } from './db';

/** Failure types that count against a circuit: the provider is overloaded, limited, broken, slow or unreachable. */
export const CIRCUIT_FAILURE_TYPES = [
  'ProviderRateLimited',
  'ProviderOverloaded',
  'ProviderServerError',
  'ProviderTimeout',
  'ProviderConnectionError',
  'ProviderMalformedResponse',
] as const satisfies readonly ProviderErrorType[];

const COUNTED: ReadonlySet<string> = new Set(CIRCUIT_FAILURE_TYPES);

/** Whether a failure of this type counts against the provider's circuit. */
export function countsAgainstCircuit(errorType: string | null | undefined): boolean {
  return errorType !== null && errorType !== undefined && COUNTED.has(errorType);
}

/** The keys a call to `provider`/`model` is checked and recorded under: the provider, then the model. */
export function circuitKeysFor(provider: string, model: string): [string, string] {
  return [provider, `${provider}:${model}`];
}

export type CircuitStatus = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** false: every key is available and nothing is recorded. Default true. */
  enabled?: boolean;
  failureThreshold: number;
  windowMs: number;
  cooldownMs: number;
  /** How long a claimed probe may stay unanswered before another may be made. Default: cooldownMs. */
  probeLeaseMs?: number;
}

export function circuitBreakerOptionsFromConfig(settings: CircuitBreakerSettings): CircuitBreakerOptions {
  return {
    enabled: settings.enabled,
    failureThreshold: settings.failure_threshold,
    windowMs: settings.window_s * 1000,
    cooldownMs: settings.cooldown_s * 1000,
  };
}

export interface CoolingDown {
  key: string;
  /** When the key may be tried again (end of the cooldown, or of the running probe's lease). */
  until: Date;
  reason: string;
}

export interface CircuitCheck {
  /** Keys that may be called now, in the order asked. */
  available: string[];
  /** The subset of `available` this caller holds the probe for: report its outcome. */
  probing: string[];
  coolingDown: CoolingDown[];
}

export interface FailureOutcome {
  /** Whether the failure counted against the circuit (health failures only). */
  counted: boolean;
  /** This failure opened (or re-opened) the circuit. */
  opened: boolean;
  state: CircuitStatus;
  failures: number;
}

export interface CircuitSnapshot {
  key: string;
  state: CircuitStatus;
  failures: number;
  windowStart: Date;
  openUntil: Date | null;
  lastError: string | null;
}

export interface CircuitBreaker {
  readonly options: Readonly<Required<CircuitBreakerOptions>>;
  check(keys: readonly string[], now?: Date): Promise<CircuitCheck>;
  /** A call succeeded: a half-open circuit closes. Returns whether it closed one. */
  recordSuccess(key: string, now?: Date): Promise<{ closed: boolean }>;
  recordFailure(key: string, errorType: string, message: string, now?: Date): Promise<FailureOutcome>;
  /** The stored state (inspection, tests). */
  snapshot(key: string): Promise<CircuitSnapshot | null>;
}

const MAX_ERROR_CHARS = 500;

function asStatus(value: string): CircuitStatus {
  return value === 'open' || value === 'half_open' ? value : 'closed';
}

function validate(options: CircuitBreakerOptions): Required<CircuitBreakerOptions> {
  const { failureThreshold, windowMs, cooldownMs } = options;
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1) throw new RangeError('failureThreshold must be an integer >= 1');
  for (const [name, value] of [['windowMs', windowMs], ['cooldownMs', cooldownMs], ['probeLeaseMs', options.probeLeaseMs ?? cooldownMs]] as const) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number of milliseconds`);
  }
  return { enabled: options.enabled ?? true, failureThreshold, windowMs, cooldownMs, probeLeaseMs: options.probeLeaseMs ?? cooldownMs };
}

export function createCircuitBreaker(database: ResilienceDatabase, options: CircuitBreakerOptions): CircuitBreaker {
  const settings = validate(options);
  const { db, guard } = guarded(database);
  const later = (now: Date, ms: number) => new Date(now.getTime() + ms);

  async function snapshot(key: string): Promise<CircuitSnapshot | null> {
    const row = await db.circuitState.findUnique({ where: { key } });
    return row ? { key: row.key, state: asStatus(row.state), failures: row.failures, windowStart: row.windowStart, openUntil: row.openUntil, lastError: row.lastError } : null;
  }

  type Verdict = { kind: 'available'; probe: boolean } | { kind: 'cooling'; until: Date; reason: string };

  /** Decide one key, claiming the probe when its cooldown (or a lost probe's lease) is over. */
  async function decide(key: string, now: Date): Promise<Verdict> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const row = await snapshot(key);
      if (!row || row.state === 'closed') return { kind: 'available', probe: false };
      const last = row.lastError ?? 'no error recorded';
      if (row.openUntil !== null && row.openUntil.getTime() > now.getTime()) {
        return row.state === 'open'
          ? { kind: 'cooling', until: row.openUntil, reason: `circuit open after ${row.failures} failure(s); last: ${last}` }
          : { kind: 'cooling', until: row.openUntil, reason: `circuit half-open: another worker is probing; last: ${last}` };
      }
      // Cooldown (or the previous probe's lease) is over: exactly one caller's update matches.
      const claim = await db.circuitState.updateMany({
        where: { key, state: row.state, OR: [{ openUntil: null }, { openUntil: { lte: now } }] },
        data: { state: 'half_open', openUntil: later(now, settings.probeLeaseMs) },
      });
      if (claim.count === 1) return { kind: 'available', probe: true };
      // Someone else moved it first (claimed the probe, closed or re-opened it): look again.
    }
    throw new Error(`circuit ${key}: state kept changing under contention (${MAX_CAS_ROUNDS} rounds)`);
  }

  async function openIfOverThreshold(key: string, now: Date): Promise<FailureOutcome> {
    const open = await db.circuitState.updateMany({
      where: { key, state: 'closed', failures: { gte: settings.failureThreshold } },
      data: { state: 'open', openUntil: later(now, settings.cooldownMs) },
    });
    const row = await snapshot(key);
    return { counted: true, opened: open.count === 1, state: row?.state ?? 'closed', failures: row?.failures ?? 0 };
  }

  return {
    options: settings,

    check: (keys, now = new Date()) =>
      guard('check circuit breakers', async () => {
        const result: CircuitCheck = { available: [], probing: [], coolingDown: [] };
        for (const key of new Set(keys)) {
          if (!settings.enabled) {
            result.available.push(key);
            continue;
          }
          const verdict = await decide(key, now);
          if (verdict.kind === 'available') {
            result.available.push(key);
            if (verdict.probe) result.probing.push(key);
          } else {
            result.coolingDown.push({ key, until: verdict.until, reason: verdict.reason });
          }
        }
        return result;
      }),

    recordSuccess: (key, now = new Date()) =>
      guard('record a circuit success', async () => {
        if (!settings.enabled) return { closed: false };
        // Only a half-open circuit closes: a success that started before the circuit opened says
        // little, and a closed circuit's window of failures runs out by itself (no write per call).
        const closed = await db.circuitState.updateMany({
          where: { key, state: 'half_open' },
          data: { state: 'closed', failures: 0, windowStart: now, openUntil: null },
        });
        return { closed: closed.count === 1 };
      }),

    recordFailure: (key, errorType, message, now = new Date()) =>
      guard('record a circuit failure', async () => {
        if (!settings.enabled || !countsAgainstCircuit(errorType)) {
          const row = settings.enabled ? await snapshot(key) : null;
          return { counted: false, opened: false, state: row?.state ?? 'closed', failures: row?.failures ?? 0 };
        }
        const lastError = `${errorType}: ${message}`.slice(0, MAX_ERROR_CHARS);
        for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
          // The common case in one statement: a closed circuit inside its window counts one more.
          const counted = await db.circuitState.updateMany({
            where: { key, state: 'closed', windowStart: { gt: new Date(now.getTime() - settings.windowMs) } },
            data: { failures: { increment: 1 }, lastError },
          });
          if (counted.count === 1) return openIfOverThreshold(key, now);

          const row = await snapshot(key);
          if (!row) {
            const opens = settings.failureThreshold <= 1;
            try {
              await db.circuitState.create({
                data: { key, state: opens ? 'open' : 'closed', failures: 1, windowStart: now, openUntil: opens ? later(now, settings.cooldownMs) : null, lastError },
              });
              return { counted: true, opened: opens, state: opens ? 'open' : 'closed', failures: 1 };
            } catch (error) {
              if (isUniqueViolation(error)) continue; // another worker created it: count on its row
              throw error;
            }
          }
          if (row.state === 'closed') {
            // The window ran out: this failure starts a new one (unless another worker already did).
            const restarted = await db.circuitState.updateMany({
              where: { key, state: 'closed', windowStart: row.windowStart },
              data: { failures: 1, windowStart: now, lastError },
            });
            if (restarted.count === 1) return openIfOverThreshold(key, now);
            continue;
          }
          if (row.state === 'half_open') {
            // The probe (or a call still in flight) failed: open for another cooldown.
            const reopened = await db.circuitState.updateMany({
              where: { key, state: 'half_open' },
              data: { state: 'open', openUntil: later(now, settings.cooldownMs), failures: { increment: 1 }, lastError },
            });
            if (reopened.count === 1) return { counted: true, opened: true, state: 'open', failures: row.failures + 1 };
            continue;
          }
          // Already open: a late failure of a call made before it opened. Keep the cooldown as it is.
          const noted = await db.circuitState.updateMany({ where: { key, state: 'open' }, data: { lastError } });
          if (noted.count === 1) return { counted: true, opened: false, state: 'open', failures: row.failures };
        }
        throw new Error(`circuit ${key}: state kept changing under contention (${MAX_CAS_ROUNDS} rounds)`);
      }),

    snapshot: (key) => guard('read a circuit', () => snapshot(key)),
  };
}
