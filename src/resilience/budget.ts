/**
 * Per-user quotas (requests and tokens per period) and budgets (USD per user and global per
 * period) over the `UsageLedger` table.
 *
 * A request reserves its estimate before the fan-out: one row per scope (`user:<id>` and
 * `global`), status `reserved`. After the fan-out it settles the actual cost and tokens
 * (`settled`), or releases the reservation when nothing was spent (`released`, no longer
 * counted). Usage of a period = reserved rows at their estimate + settled rows at their actual
 * amounts. Periods are UTC calendar days or months; every row carries its UTC day
 * (`period` = `2026-11-25`), so a month is the rows whose day starts with `2026-11`.
 *
 * `reserve` checks and inserts in one transaction that first takes a lock every competing
 * reserve needs (PostgreSQL: a transaction-scoped advisory lock, on `global` when a global
 * budget is set, else on the user; SQLite: the database's write lock, taken by the first
 * statement), so N racing reserves against a budget that fits k grant exactly k. A refusal
 * writes nothing. Reserving again for the same workflow returns the reservation it already has.
 *
 * Besides the configured limits, a reservation can carry the user's API key limits (`keyLimits`:
 * requests and tokens per UTC day, USD per UTC month; the tightest over the user's active keys,
 * src/auth/keys.ts userLimits), checked the same way against the same `user:<id>` rows. Every
 * refusal names the moment its period resets (`details.resetsAt`, ISO-8601, and `retryAfterS`).
 */
import type { ResilienceSettings, UsagePeriod } from '../config/schema';
import { BudgetExceeded, QuotaExceeded } from '../errors';
import type { Prisma } from '../generated/prisma-sqlite/client';
import { guarded, isUniqueViolation, type ResilienceDatabase } from './db';
import { periodKey } from './estimate';

export interface BudgetLimits {
  quotas: { period: UsagePeriod; perUserRequests?: number | undefined; perUserTokens?: number | undefined };
  budgets: { period: UsagePeriod; perUserUsd?: number | undefined; globalUsd?: number | undefined };
}

export function budgetLimitsFromConfig(settings: Pick<ResilienceSettings, 'quotas' | 'budgets'>): BudgetLimits {
  return {
    quotas: { period: settings.quotas.period, perUserRequests: settings.quotas.per_user_requests, perUserTokens: settings.quotas.per_user_tokens },
    budgets: { period: settings.budgets.period, perUserUsd: settings.budgets.per_user_usd, globalUsd: settings.budgets.global_usd },
  };
}

/** Whether any quota or budget is set (with none, there is nothing to reserve against). */
export function hasLimits(limits: BudgetLimits): boolean {
  const { quotas, budgets } = limits;
  return [quotas.perUserRequests, quotas.perUserTokens, budgets.perUserUsd, budgets.globalUsd].some((v) => v !== undefined);
}

/**
 * Limits that come with the user's API keys (src/auth/keys.ts): each applies per user, in fixed
 * periods (requests and tokens per UTC day, dollars per UTC month), on top of the configured ones.
 */
export interface KeyLimits {
  requestsPerDay?: number | undefined;
  tokensPerDay?: number | undefined;
  usdPerMonth?: number | undefined;
}

/** Whether any key limit is set. */
export function hasKeyLimits(limits: KeyLimits | null | undefined): limits is KeyLimits {
  return !!limits && [limits.requestsPerDay, limits.tokensPerDay, limits.usdPerMonth].some((v) => v !== undefined);
}

/** The start of the UTC period after the one holding `now`: when a quota or budget of that period resets. */
export function periodResetsAt(period: UsagePeriod, now: Date): Date {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  return period === 'day' ? new Date(Date.UTC(y, m, now.getUTCDate() + 1)) : new Date(Date.UTC(y, m + 1, 1));
}

export const GLOBAL_SCOPE = 'global';

export function userScope(userId: string): string {
  return `user:${userId}`;
}

export interface ReserveInput {
  /** The idempotency key: one reservation per workflow. */
  workflowId: string;
  userId: string;
  estimatedUsd: number;
  estimatedTokens: number;
  /** The user's API key limits, checked besides the configured ones (absent: none). */
  keyLimits?: KeyLimits | undefined;
  now?: Date;
}

export interface Reservation {
  workflowId: string;
  scopes: string[];
  /** UTC day the reservation was made in. */
  day: string;
  estimatedUsd: number;
  estimatedTokens: number;
  /** false: the workflow had reserved already (a retried activity); nothing was written. */
  created: boolean;
}

export interface SettleInput {
  workflowId: string;
  /** What the request really cost, failed and cancelled calls that consumed tokens included. */
  actualUsd: number;
  tokens: number;
}

export interface PeriodUsage {
  requests: number;
  tokens: number;
  usd: number;
}

export interface BudgetLedger {
  readonly limits: BudgetLimits;
  /** Throws QuotaExceeded or BudgetExceeded (writing nothing) when the request does not fit. */
  reserve(input: ReserveInput): Promise<Reservation>;
  /** Record the actual amounts (any earlier status becomes `settled`); idempotent. Returns rows updated. */
  settle(input: SettleInput): Promise<{ settled: number }>;
  /** Give back a reservation that spent nothing; settled rows are kept. Returns rows updated. */
  release(input: { workflowId: string }): Promise<{ released: number }>;
  /** Reserved + settled usage of a scope in the period holding `now`. */
  usage(scope: string, period: UsagePeriod, now?: Date): Promise<PeriodUsage>;
}

/** Tolerance for float sums of dollar amounts (5 × $0.2 must fit a $1 budget). */
const USD_EPSILON = 1e-9;
/** Lock namespace for pg_advisory_xact_lock(int, int): "LLMB". */
const PG_LOCK_NAMESPACE = 0x4c4c4d42;
const TRANSACTION_OPTIONS = { maxWait: 15_000, timeout: 15_000 };

function usd(amount: number): string {
  return `$${Number(amount.toFixed(6))}`;
}

/** FNV-1a, as a signed 32-bit integer (the advisory lock's second key). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function checkAmount(name: string, value: number, integer: boolean): void {
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
}

type Refusal = QuotaExceeded | BudgetExceeded;

export function createBudgetLedger(database: ResilienceDatabase, limits: BudgetLimits): BudgetLedger {
  const { db, provider, guard } = guarded(database);

  async function usageIn(tx: Prisma.TransactionClient, scope: string, period: UsagePeriod, now: Date): Promise<PeriodUsage> {
    const where = { scope, period: { startsWith: periodKey(period, now) } };
    // One after the other: an interactive transaction is one connection.
    const reserved = await tx.usageLedger.aggregate({ where: { ...where, status: 'reserved' }, _count: { _all: true }, _sum: { estimatedUsd: true, tokens: true } });
    const settled = await tx.usageLedger.aggregate({ where: { ...where, status: 'settled' }, _count: { _all: true }, _sum: { actualUsd: true, tokens: true } });
    return {
      requests: reserved._count._all + settled._count._all,
      tokens: (reserved._sum.tokens ?? 0) + (settled._sum.tokens ?? 0),
      usd: (reserved._sum.estimatedUsd ?? 0) + (settled._sum.actualUsd ?? 0),
    };
  }

  /** Every refusal's common details: which limit, for whom, the period and when it resets. */
  function base(limit: string, period: UsagePeriod, scope: string, now: Date) {
    const resetsAt = periodResetsAt(period, now);
    return { limit, scope, period, periodKey: periodKey(period, now), resetsAt: resetsAt.toISOString(), retryAfterS: Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000)) };
  }

  /** The user's API key limits: per UTC day (requests, tokens) and month (USD). */
  async function keyRefusal(tx: Prisma.TransactionClient, input: ReserveInput & { now: Date }): Promise<Refusal | null> {
    const { userId, estimatedUsd, estimatedTokens, now, keyLimits } = input;
    if (!hasKeyLimits(keyLimits)) return null;
    const scope = userScope(userId);
    if (keyLimits.requestsPerDay !== undefined || keyLimits.tokensPerDay !== undefined) {
      const used = await usageIn(tx, scope, 'day', now);
      const key = periodKey('day', now);
      if (keyLimits.requestsPerDay !== undefined && used.requests + 1 > keyLimits.requestsPerDay) {
        return new QuotaExceeded(`user "${userId}" is over its API key's request quota for day ${key}: ${used.requests} of ${keyLimits.requestsPerDay} requests used`, {
          ...base('key_requests_per_day', 'day', scope, now),
          used: used.requests,
          requested: 1,
          max: keyLimits.requestsPerDay,
        });
      }
      if (keyLimits.tokensPerDay !== undefined && used.tokens + estimatedTokens > keyLimits.tokensPerDay) {
        return new QuotaExceeded(
          `user "${userId}" would exceed its API key's token quota for day ${key}: ${used.tokens} used + ${estimatedTokens} estimated > ${keyLimits.tokensPerDay} tokens`,
          { ...base('key_tokens_per_day', 'day', scope, now), used: used.tokens, requested: estimatedTokens, max: keyLimits.tokensPerDay },
        );
      }
    }
    if (keyLimits.usdPerMonth !== undefined) {
      const used = await usageIn(tx, scope, 'month', now);
      if (used.usd + estimatedUsd > keyLimits.usdPerMonth + USD_EPSILON) {
        return new BudgetExceeded(
          `user "${userId}" would exceed its API key's budget for month ${periodKey('month', now)}: ${usd(used.usd)} spent or reserved + ${usd(estimatedUsd)} estimated > ${usd(keyLimits.usdPerMonth)}`,
          { ...base('key_usd_per_month', 'month', scope, now), used: used.usd, requested: estimatedUsd, max: keyLimits.usdPerMonth },
        );
      }
    }
    return null;
  }

  /** The first statement of a reserve: serialise against every reserve that could compete. */
  async function lock(tx: Prisma.TransactionClient, userId: string): Promise<void> {
    if (provider === 'postgresql') {
      const name = limits.budgets.globalUsd !== undefined ? GLOBAL_SCOPE : userScope(userId);
      await tx.$queryRaw`SELECT pg_advisory_xact_lock(${PG_LOCK_NAMESPACE}::int4, ${hash32(name)}::int4)::text AS locked`;
    } else {
      // A write statement takes SQLite's write lock now (waiting on the busy timeout), not at the insert.
      await tx.$executeRaw`UPDATE "UsageLedger" SET "status" = "status" WHERE 0 = 1`;
    }
  }

  /** The first limit the request would break, or null. */
  async function refusal(tx: Prisma.TransactionClient, input: ReserveInput & { now: Date }): Promise<Refusal | null> {
    const { userId, estimatedUsd, estimatedTokens, now } = input;
    const scope = userScope(userId);
    const { quotas, budgets } = limits;

    if (quotas.perUserRequests !== undefined || quotas.perUserTokens !== undefined) {
      const used = await usageIn(tx, scope, quotas.period, now);
      const key = periodKey(quotas.period, now);
      if (quotas.perUserRequests !== undefined && used.requests + 1 > quotas.perUserRequests) {
        return new QuotaExceeded(`user "${userId}" is over its request quota for ${quotas.period} ${key}: ${used.requests} of ${quotas.perUserRequests} requests used`, {
          ...base('per_user_requests', quotas.period, scope, now),
          used: used.requests,
          requested: 1,
          max: quotas.perUserRequests,
        });
      }
      if (quotas.perUserTokens !== undefined && used.tokens + estimatedTokens > quotas.perUserTokens) {
        return new QuotaExceeded(
          `user "${userId}" would exceed its token quota for ${quotas.period} ${key}: ${used.tokens} used + ${estimatedTokens} estimated > ${quotas.perUserTokens} tokens`,
          { ...base('per_user_tokens', quotas.period, scope, now), used: used.tokens, requested: estimatedTokens, max: quotas.perUserTokens },
        );
      }
    }
    const key = periodKey(budgets.period, now);
    if (budgets.perUserUsd !== undefined) {
      const used = await usageIn(tx, scope, budgets.period, now);
      if (used.usd + estimatedUsd > budgets.perUserUsd + USD_EPSILON) {
        return new BudgetExceeded(
          `user "${userId}" would exceed its budget for ${budgets.period} ${key}: ${usd(used.usd)} spent or reserved + ${usd(estimatedUsd)} estimated > ${usd(budgets.perUserUsd)}`,
          { ...base('per_user_usd', budgets.period, scope, now), used: used.usd, requested: estimatedUsd, max: budgets.perUserUsd },
        );
      }
    }
    if (budgets.globalUsd !== undefined) {
      const used = await usageIn(tx, GLOBAL_SCOPE, budgets.period, now);
      if (used.usd + estimatedUsd > budgets.globalUsd + USD_EPSILON) {
        return new BudgetExceeded(
          `the global budget for ${budgets.period} ${key} would be exceeded: ${usd(used.usd)} spent or reserved + ${usd(estimatedUsd)} estimated > ${usd(budgets.globalUsd)}`,
          { ...base('global_usd', budgets.period, GLOBAL_SCOPE, now), used: used.usd, requested: estimatedUsd, max: budgets.globalUsd },
        );
      }
    }
    return keyRefusal(tx, input);
  }

  async function reserveOnce(input: ReserveInput & { now: Date }): Promise<Reservation | Refusal> {
    const scopes = [userScope(input.userId), GLOBAL_SCOPE];
    const day = periodKey('day', input.now);
    return db.$transaction(async (tx) => {
      await lock(tx, input.userId);
      const existing = await tx.usageLedger.findMany({ where: { workflowId: input.workflowId }, orderBy: { scope: 'asc' } });
      if (existing.length > 0) {
        const first = existing[0]!;
        return { workflowId: input.workflowId, scopes: existing.map((r) => r.scope), day: first.period, estimatedUsd: first.estimatedUsd, estimatedTokens: first.tokens, created: false };
      }
      const refused = await refusal(tx, input);
      if (refused) return refused; // nothing written: the transaction commits its lock only
      await tx.usageLedger.createMany({
        data: scopes.map((scope) => ({
          scope,
          period: day,
          workflowId: input.workflowId,
          estimatedUsd: input.estimatedUsd,
          tokens: input.estimatedTokens,
          status: 'reserved',
          createdAt: input.now,
        })),
      });
      return { workflowId: input.workflowId, scopes, day, estimatedUsd: input.estimatedUsd, estimatedTokens: input.estimatedTokens, created: true };
    }, TRANSACTION_OPTIONS);
  }

  return {
    limits,

    reserve: (input) =>
      guard('reserve a budget', async () => {
        if (input.workflowId === '') throw new RangeError('workflowId must not be empty');
        if (input.userId === '') throw new RangeError('userId must not be empty');
        checkAmount('estimatedUsd', input.estimatedUsd, false);
        checkAmount('estimatedTokens', input.estimatedTokens, true);
        const full = { ...input, now: input.now ?? new Date() };
        let outcome: Reservation | Refusal;
        try {
          outcome = await reserveOnce(full);
        } catch (error) {
          // The same workflow reserved concurrently under another lock: its rows exist now.
          if (!isUniqueViolation(error)) throw error;
          outcome = await reserveOnce(full);
        }
        if (outcome instanceof QuotaExceeded || outcome instanceof BudgetExceeded) throw outcome;
        return outcome;
      }),

    settle: ({ workflowId, actualUsd, tokens }) =>
      guard('settle a budget', async () => {
        checkAmount('actualUsd', actualUsd, false);
        checkAmount('tokens', tokens, true);
        const updated = await db.usageLedger.updateMany({ where: { workflowId }, data: { status: 'settled', actualUsd, tokens } });
        return { settled: updated.count };
      }),

    release: ({ workflowId }) =>
      guard('release a budget', async () => {
        const updated = await db.usageLedger.updateMany({ where: { workflowId, status: 'reserved' }, data: { status: 'released' } });
        return { released: updated.count };
      }),

    usage: (scope, period, now = new Date()) => guard('read budget usage', () => usageIn(db, scope, period, now)),
  };
}
