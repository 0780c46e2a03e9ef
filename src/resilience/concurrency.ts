/**
 * Per-provider limits on concurrent calls, shared by every worker, as leases in `CallLease`.
 *
 * A call takes a lease before it goes out (`acquire`), renews it while it runs (`renew`) and
 * gives it back when it ends (`release`). A lease counts until its `expiresAt`: a worker that
 * crashes or stops renewing loses its slots when their leases expire, without anyone cleaning up.
 *
 * `acquire` counts and inserts in one transaction that first takes a lock every competing acquire
 * of the same scope needs (PostgreSQL: a transaction-scoped advisory lock on the scope; SQLite:
 * the database's write lock, taken by the first statement), as the budget ledger does, so N
 * racing acquires with `max` k grant exactly k. It also deletes the scope's expired leases.
 * A refusal writes nothing else and says when to ask again: slots are freed by calls finishing,
 * which nothing announces, so `retryAfterMs` is a short poll interval (or less, when the
 * earliest lease expires sooner). `acquireWaiting` polls like that for a bounded time.
 *
 * Times come from the callers' clocks (`now`, default the current time), as in the other
 * resilience stores: leases should be long against the clock skew between workers.
 */
import { randomUUID } from 'node:crypto';
import type { Prisma } from '../generated/prisma-sqlite/client';
import { guarded, type ResilienceDatabase } from './db';

/** How long a refused caller should wait before asking again, at most. */
export const DEFAULT_POLL_INTERVAL_MS = 250;
/** Lock namespace for pg_advisory_xact_lock(int, int): "LLMC" (the budget ledger's is "LLMB"). */
const PG_LOCK_NAMESPACE = 0x4c4c4d43;
const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 15_000 };

export interface ConcurrencyLimiterOptions {
  /** Upper bound of a refusal's retryAfterMs (default 250 ms). */
  pollIntervalMs?: number;
}

export interface LeaseRequest {
  /** What the limit applies to, e.g. `provider:openai` (see providerScope). */
  scope: string;
  /** Most leases the scope may hold at once (performance.models.<provider>.max_concurrent). */
  max: number;
  /** How long the lease holds without a renew; a crashed holder's slot is free after this. */
  leaseMs: number;
  /** Who takes it (e.g. `<workflow id>/<activity id>`), stored for inspection only. */
  holder?: string | undefined;
  now?: Date;
}

export type LeaseGrant = { granted: true; leaseId: string; expiresAt: Date };
export type LeaseRefusal = {
  granted: false;
  /** When to ask again: until the earliest lease expires, at most the poll interval; at least 1. */
  retryAfterMs: number;
  reason: string;
  /** Unexpired leases of the scope when refused. */
  inFlight: number;
};
export type LeaseResult = LeaseGrant | LeaseRefusal;

export interface WaitingLeaseRequest extends Omit<LeaseRequest, 'now'> {
  /** Keep asking (every retryAfterMs) for up to this long, then return the last refusal. */
  waitMs: number;
  /** Stops the wait: the promise rejects with the signal's reason (an activity's cancellation). */
  signal?: AbortSignal | undefined;
}

export interface ConcurrencyLimiter {
  /** Take a slot of `scope` if fewer than `max` unexpired leases hold it; never waits for one. */
  acquire(input: LeaseRequest): Promise<LeaseResult>;
  /** `acquire` on the current clock, asking again until granted or `waitMs` has passed. */
  acquireWaiting(input: WaitingLeaseRequest): Promise<LeaseResult>;
  /** Give the slot back; idempotent. false: the lease was gone already (released, or expired and cleaned up). */
  release(leaseId: string): Promise<boolean>;
  /**
   * Hold the lease until `now + leaseMs`. false: it had expired or was gone, so the slot may have
   * gone to another call (the caller holds nothing now and should not release it twice).
   */
  renew(leaseId: string, leaseMs: number, now?: Date): Promise<boolean>;
  /** Unexpired leases of the scope at `now`. */
  inFlight(scope: string, now?: Date): Promise<number>;
  /** Delete expired leases of every scope; returns how many. (Acquire cleans its own scope.) */
  cleanupExpired(now?: Date): Promise<number>;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
}

function checkId(name: string, value: string): void {
  if (value === '') throw new RangeError(`${name} must not be empty`);
}

/** What an aborted wait rejects with: the signal's reason (an activity's CancelledFailure) when it is an Error. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('the wait for a concurrency slot was aborted', { cause: reason });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal) reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function createConcurrencyLimiter(database: ResilienceDatabase, options: ConcurrencyLimiterOptions = {}): ConcurrencyLimiter {
  const { db, provider, guard } = guarded(database);
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  checkPositiveInteger('pollIntervalMs', pollIntervalMs);

  /** The first statement of an acquire: serialise against every acquire of the same scope. */
  async function lock(tx: Prisma.TransactionClient, scope: string): Promise<void> {
    if (provider === 'postgresql') {
      await tx.$queryRaw`SELECT pg_advisory_xact_lock(${PG_LOCK_NAMESPACE}::int4, hashtext(${scope}))::text AS locked`;
    } else {
      // A write statement takes SQLite's write lock now (waiting on the busy timeout), not at the insert.
      await tx.$executeRaw`UPDATE "CallLease" SET "scope" = "scope" WHERE 0 = 1`;
    }
  }

  async function acquire(input: LeaseRequest): Promise<LeaseResult> {
    const { scope, max, leaseMs, holder } = input;
    const now = input.now ?? new Date();
    checkId('scope', scope);
    checkPositiveInteger('max', max);
    checkPositiveInteger('leaseMs', leaseMs);
    return db.$transaction(async (tx) => {
      await lock(tx, scope);
      // One read of the scope's leases (at most max live ones plus any expired): the count, the
      // earliest expiry, and whether there is anything expired to delete. Common case: three statements.
      const rows = await tx.callLease.findMany({ where: { scope }, select: { expiresAt: true } });
      const live = rows.filter((r) => r.expiresAt.getTime() > now.getTime());
      if (live.length < rows.length) await tx.callLease.deleteMany({ where: { scope, expiresAt: { lte: now } } });
      const inFlight = live.length;
      if (inFlight < max) {
        const lease = await tx.callLease.create({
          data: { id: randomUUID(), scope, holder: holder ?? null, expiresAt: new Date(now.getTime() + leaseMs), createdAt: now },
          select: { id: true, expiresAt: true },
        });
        return { granted: true, leaseId: lease.id, expiresAt: lease.expiresAt } satisfies LeaseGrant;
      }
      const earliest = Math.min(...live.map((r) => r.expiresAt.getTime()));
      const untilExpiry = earliest - now.getTime();
      return {
        granted: false,
        retryAfterMs: Math.max(1, Math.min(pollIntervalMs, untilExpiry)),
        reason: `${scope}: ${inFlight}/${max} calls in flight`,
        inFlight,
      } satisfies LeaseRefusal;
    }, TRANSACTION_OPTIONS);
  }

  return {
    acquire: (input) => guard('acquire a concurrency slot', () => acquire(input)),

    acquireWaiting: (input) =>
      guard('acquire a concurrency slot', async () => {
        const { waitMs, signal, ...request } = input;
        if (!Number.isInteger(waitMs) || waitMs < 0) throw new RangeError('waitMs must be a non-negative integer');
        const deadline = Date.now() + waitMs;
        for (;;) {
          if (signal?.aborted) throw abortReason(signal);
          const result = await acquire(request);
          const left = deadline - Date.now();
          if (result.granted || left <= 0) return result;
          await sleep(Math.min(result.retryAfterMs, left), signal);
        }
      }),

    release: (leaseId) =>
      guard('release a concurrency slot', async () => {
        checkId('leaseId', leaseId);
        const deleted = await db.callLease.deleteMany({ where: { id: leaseId } });
        return deleted.count === 1;
      }),

    renew: (leaseId, leaseMs, now = new Date()) =>
      guard('renew a concurrency slot', async () => {
        checkId('leaseId', leaseId);
        checkPositiveInteger('leaseMs', leaseMs);
        // Only a lease still held: an expired one may have been counted free by another acquire.
        const updated = await db.callLease.updateMany({ where: { id: leaseId, expiresAt: { gt: now } }, data: { expiresAt: new Date(now.getTime() + leaseMs) } });
        return updated.count === 1;
      }),

    inFlight: (scope, now = new Date()) => guard('count concurrency slots', () => db.callLease.count({ where: { scope, expiresAt: { gt: now } } })),

    cleanupExpired: (now = new Date()) =>
      guard('clean up concurrency slots', async () => {
        const deleted = await db.callLease.deleteMany({ where: { expiresAt: { lte: now } } });
        return deleted.count;
      }),
  };
}
