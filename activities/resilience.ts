/**
 * Activities of provider resilience: admission against quotas and budgets (reserve before the
 * fan-out, settle or release after), circuit breakers, shared rate limits and the response
 * cache. Built by a factory from its dependencies (src/resilience, see createResilience); the
 * integrator merges it into the worker's activities.
 *
 * Failures cross the wire as `ApplicationFailure`s whose `type` is the error code:
 * `QuotaExceeded` / `BudgetExceeded` (non-retryable: the refusal is final, nothing was
 * reserved), `InvalidRequest` (non-retryable: a bad input), `ConfigError` (non-retryable),
 * `DatabaseConnectionError` (retryable: the database may come back). The cache never fails a
 * request: an unreachable cache is a miss, logged.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import type { Config } from '../src/config/schema';
import { ConfigError, DatabaseConnectionError, OrchestratorError, zodIssues } from '../src/errors';
import type { Logger } from '../src/logger';
import type { Metrics } from '../src/metrics';
import { hasKeyLimits, hasLimits, type BudgetLedger, type KeyLimits } from '../src/resilience/budget';
import type { CircuitBreaker, CircuitStatus } from '../src/resilience/circuit-breaker';
import { estimateCostUsd, estimateTokens } from '../src/resilience/estimate';
import { providerScope, type RateLimiter } from '../src/resilience/rate-limit';
import { JsonValueSchema, type JsonValue, type ResponseCacheStore } from '../src/resilience/response-cache';

export interface ResilienceActivityDependencies {
  config: Pick<Config, 'resilience' | 'pricing' | 'models'>;
  circuits: CircuitBreaker;
  rateLimiter: RateLimiter;
  ledger: BudgetLedger;
  cache: ResponseCacheStore;
  /**
   * The user's API key limits (src/auth/keys.ts KeyStore.userLimits: the tightest over the user's
   * active keys), enforced at admission besides the configured quotas and budgets.
   */
  keyLimits?: (userId: string, now: Date) => Promise<KeyLimits | null>;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** The process's metrics (src/metrics): cache lookups, quota and budget refusals, circuit states. Absent: nothing recorded. */
  metrics?: Metrics;
  /** Clock (tests). */
  now?: () => number;
}

const nonEmpty = z.string().min(1);
const tokenCount = z.number().int().nonnegative();

const AdmitRequestInputSchema = z.object({
  workflowId: nonEmpty,
  userId: nonEmpty,
  /** The calls the request may make (fan-out, plus fallbacks to reserve for them too). */
  targets: z.array(z.object({ provider: nonEmpty, model: nonEmpty })).min(1),
  /** Estimated prompt tokens (estimatePromptTokens). */
  promptTokens: tokenCount,
  /** Most output tokens per call. */
  maxTokens: tokenCount,
});
export type AdmitRequestInput = z.infer<typeof AdmitRequestInputSchema>;

export type AdmitRequestResult =
  | { admitted: true; reserved: false }
  | { admitted: true; reserved: true; created: boolean; estimatedUsd: number; estimatedTokens: number; day: string };

const SettleRequestInputSchema = z.object({ workflowId: nonEmpty, actualUsd: z.number().finite().nonnegative(), tokens: tokenCount });
export type SettleRequestInput = z.infer<typeof SettleRequestInputSchema>;

const ReleaseRequestInputSchema = z.object({ workflowId: nonEmpty });
export type ReleaseRequestInput = z.infer<typeof ReleaseRequestInputSchema>;

const CheckCircuitsInputSchema = z.object({ keys: z.array(nonEmpty) });
export type CheckCircuitsInput = z.infer<typeof CheckCircuitsInputSchema>;

export interface CheckCircuitsResult {
  available: string[];
  /** Keys whose half-open probe this call claimed: report their outcome with recordCallOutcome. */
  probing: string[];
  /** `until` as ISO-8601 and epoch ms (a workflow sleeps until the earliest). */
  coolingDown: { key: string; until: string; untilMs: number; reason: string }[];
}

const RecordCallOutcomeInputSchema = z
  .object({
    /** `provider` or `provider:model`; or several at once with `keys`. */
    key: nonEmpty.optional(),
    keys: z.array(nonEmpty).optional(),
    ok: z.boolean(),
    errorType: z.string().nullish(),
    message: z.string().nullish(),
  })
  .refine((i) => i.key !== undefined || (i.keys !== undefined && i.keys.length > 0), 'key or keys is required');
export type RecordCallOutcomeInput = z.input<typeof RecordCallOutcomeInputSchema>;

export interface RecordCallOutcomeResult {
  outcomes: { key: string; counted: boolean; opened: boolean; closed: boolean; state: CircuitStatus | null }[];
}

const AcquireRateLimitInputSchema = z.object({ provider: nonEmpty, tokens: tokenCount });
export type AcquireRateLimitInput = z.infer<typeof AcquireRateLimitInputSchema>;

export type AcquireRateLimitResult = { granted: true } | { granted: false; retryAfterMs: number; reason: string };

const CacheLookupInputSchema = z.object({ key: nonEmpty });
export type CacheLookupInput = z.infer<typeof CacheLookupInputSchema>;

export type CacheLookupResult = { hit: true; value: JsonValue; expiresAt: string } | { hit: false; error?: string };

const CacheStoreInputSchema = z.object({ key: nonEmpty, value: JsonValueSchema, ttlMs: z.number().int().positive().optional() });
export type CacheStoreInput = z.infer<typeof CacheStoreInputSchema>;

/** Parse an activity input; a bad one is a final InvalidRequest failure. */
function parse<T>(schema: z.ZodType<T>, input: unknown, activity: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issues = zodIssues(result.error);
    throw ApplicationFailure.create({
      message: `${activity}: invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      type: 'InvalidRequest',
      nonRetryable: true,
      details: [{ issues }],
    });
  }
  return result.data;
}

/**
 * Typed errors become failures the workflow branches on by `type`; only an unreachable database is
 * worth retrying. Shared by the database-backed activities (resilience, retention).
 */
export function toFailure(err: unknown): unknown {
  if (err instanceof DatabaseConnectionError) {
    return ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: false, details: [err.details] });
  }
  if (err instanceof OrchestratorError) {
    return ApplicationFailure.create({ message: err.message, type: err.code, nonRetryable: true, details: [err.details] });
  }
  if (err instanceof RangeError || err instanceof TypeError) {
    return ApplicationFailure.create({ message: err.message, type: 'InvalidRequest', nonRetryable: true });
  }
  return err;
}

/**
 * The request workflow a cached answer belongs to: the calling workflow's id (recorded as the
 * entry's owner, so that erasing the user deletes it), or the `workflowId` the cached record names
 * when the activity runs outside a worker (tests).
 */
function cacheOwner(value: JsonValue): string | null {
  let workflowId: string | undefined;
  try {
    workflowId = Context.current().info.workflowExecution?.workflowId;
  } catch {
    workflowId = undefined; // not in an activity context
  }
  if (workflowId) return workflowId;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.workflowId === 'string') return value.workflowId;
  return null;
}

async function failing<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

export function createResilienceActivities(deps: ResilienceActivityDependencies) {
  const { config, circuits, rateLimiter, ledger, cache, logger, metrics } = deps;
  const settings = config.resilience;
  const now = () => new Date((deps.now ?? Date.now)());
  const unknownProviders = Object.keys(settings.rate_limits).filter((name) => !config.models[name]);
  if (unknownProviders.length > 0) {
    throw new ConfigError(
      `resilience.rate_limits names providers that are not configured: ${unknownProviders.join(', ')}`,
      unknownProviders.map((name) => ({ path: `resilience.rate_limits.${name}`, message: `unknown provider "${name}" (not under models)` })),
    );
  }
  const limited = hasLimits(ledger.limits);

  return {
    /**
     * Reserve the request's estimated cost and tokens against the user's quotas and the user and
     * global budgets, and the limits of the user's API keys (read now: a key revoked or changed
     * since the request was planned counts as it is), before anything is called. Idempotent by workflowId. Fails with
     * QuotaExceeded / BudgetExceeded (non-retryable) when it does not fit; then nothing is reserved.
     */
    admitRequest(input: AdmitRequestInput): Promise<AdmitRequestResult> {
      return failing(async () => {
        const { workflowId, userId, targets, promptTokens, maxTokens } = parse(AdmitRequestInputSchema, input, 'admitRequest');
        const at = now();
        const keyLimits = deps.keyLimits ? await deps.keyLimits(userId, at) : null;
        if (!limited && !hasKeyLimits(keyLimits)) return { admitted: true, reserved: false };
        const estimatedUsd = estimateCostUsd(
          config.pricing,
          targets.map((t) => ({ ...t, kind: config.models[t.provider]?.kind })),
          promptTokens,
          maxTokens,
        );
        const estimatedTokens = estimateTokens(targets, promptTokens, maxTokens);
        const reservation = await ledger.reserve({ workflowId, userId, estimatedUsd, estimatedTokens, keyLimits: keyLimits ?? undefined, now: at }).catch((err: unknown) => {
          if (err instanceof OrchestratorError && (err.code === 'QuotaExceeded' || err.code === 'BudgetExceeded')) metrics?.refusal(err.code === 'QuotaExceeded' ? 'quota' : 'budget', null);
          throw err;
        });
        return {
          admitted: true,
          reserved: true,
          created: reservation.created,
          estimatedUsd: reservation.estimatedUsd,
          estimatedTokens: reservation.estimatedTokens,
          day: reservation.day,
        };
      });
    },

    /** Record the actual cost and tokens of an admitted request (idempotent). */
    settleRequest(input: SettleRequestInput): Promise<{ settled: number }> {
      return failing(async () => {
        const { workflowId, actualUsd, tokens } = parse(SettleRequestInputSchema, input, 'settleRequest');
        return ledger.settle({ workflowId, actualUsd, tokens });
      });
    },

    /** Give back the reservation of a request that spent nothing (idempotent; settled amounts stay). */
    releaseRequest(input: ReleaseRequestInput): Promise<{ released: number }> {
      return failing(async () => {
        const { workflowId } = parse(ReleaseRequestInputSchema, input, 'releaseRequest');
        return ledger.release({ workflowId });
      });
    },

    /** Which keys (`provider`, `provider:model`) may be called now; claims the probe of a circuit whose cooldown is over. */
    checkCircuits(input: CheckCircuitsInput): Promise<CheckCircuitsResult> {
      return failing(async () => {
        const { keys } = parse(CheckCircuitsInputSchema, input, 'checkCircuits');
        const result = await circuits.check(keys, now());
        for (const key of result.available) metrics?.circuit(key, result.probing.includes(key) ? 'half_open' : 'closed');
        for (const c of result.coolingDown) metrics?.circuit(c.key, 'open');
        return {
          available: result.available,
          probing: result.probing,
          coolingDown: result.coolingDown.map((c) => ({ key: c.key, until: c.until.toISOString(), untilMs: c.until.getTime(), reason: c.reason })),
        };
      });
    },

    /** Report a provider call's outcome to its circuit(s): only health failures count. */
    recordCallOutcome(input: RecordCallOutcomeInput): Promise<RecordCallOutcomeResult> {
      return failing(async () => {
        const { key, keys, ok, errorType, message } = parse(RecordCallOutcomeInputSchema, input, 'recordCallOutcome');
        const at = now();
        const outcomes: RecordCallOutcomeResult['outcomes'] = [];
        for (const k of new Set([...(key === undefined ? [] : [key]), ...(keys ?? [])])) {
          if (ok) {
            const { closed } = await circuits.recordSuccess(k, at);
            if (closed) metrics?.circuit(k, 'closed');
            outcomes.push({ key: k, counted: false, opened: false, closed, state: closed ? 'closed' : null });
          } else {
            const outcome = await circuits.recordFailure(k, errorType ?? 'Unknown', message ?? '', at);
            metrics?.circuit(k, outcome.state);
            if (outcome.opened) logger?.warn({ key: k, errorType, failures: outcome.failures }, 'circuit opened');
            outcomes.push({ key: k, counted: outcome.counted, opened: outcome.opened, closed: false, state: outcome.state });
          }
        }
        return { outcomes };
      });
    },

    /** Take one request and `tokens` from the provider's shared per-minute limits (granted when none are configured). */
    acquireRateLimit(input: AcquireRateLimitInput): Promise<AcquireRateLimitResult> {
      return failing(async () => {
        const { provider, tokens } = parse(AcquireRateLimitInputSchema, input, 'acquireRateLimit');
        const limit = settings.rate_limits[provider];
        if (!limit || (limit.rpm === undefined && limit.tpm === undefined)) return { granted: true };
        return rateLimiter.acquire({ scope: providerScope(provider), rpm: limit.rpm, tpm: limit.tpm, tokens, now: now() });
      });
    },

    /** A cached response for the key (responseCacheKey), or a miss; a miss too when the cache is off or unreachable. */
    async cacheLookup(input: CacheLookupInput): Promise<CacheLookupResult> {
      const { key } = parse(CacheLookupInputSchema, input, 'cacheLookup');
      if (!settings.cache.enabled) return { hit: false };
      try {
        const entry = await cache.get(key, now());
        metrics?.cacheLookup(entry ? 'hit' : 'miss');
        return entry ? { hit: true, value: entry.value, expiresAt: entry.expiresAt.toISOString() } : { hit: false };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        metrics?.cacheLookup('error');
        logger?.warn({ err, store: cache.kind }, 'response cache lookup failed; treating it as a miss');
        return { hit: false, error: message };
      }
    },

    /** Store a response under the key for ttlMs (default resilience.cache.ttl_s); a no-op when the cache is off. */
    async cacheStore(input: CacheStoreInput): Promise<{ stored: boolean; error?: string }> {
      const { key, value, ttlMs } = parse(CacheStoreInputSchema, input, 'cacheStore');
      if (!settings.cache.enabled) return { stored: false };
      try {
        await cache.set(key, value, ttlMs ?? settings.cache.ttl_s * 1000, now(), cacheOwner(value));
        return { stored: true };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        logger?.warn({ err, store: cache.kind }, 'response cache write failed; the response is not cached');
        return { stored: false, error: message };
      }
    },
  };
}

export type ResilienceActivities = ReturnType<typeof createResilienceActivities>;
