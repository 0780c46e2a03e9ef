/**
 * Provider resilience shared by every worker: circuit breakers, rate limits, concurrent-call
 * limits, quotas and budgets, and the response cache. `createResilience` builds all five over one
 * database client (and Redis for the cache when `REDIS_URL` is set).
 */
import type { Config } from '../config/schema';
import { budgetLimitsFromConfig, createBudgetLedger, type BudgetLedger } from './budget';
import { circuitBreakerOptionsFromConfig, createCircuitBreaker, type CircuitBreaker } from './circuit-breaker';
import { createConcurrencyLimiter, type ConcurrencyLimiter } from './concurrency';
import type { ResilienceDatabase } from './db';
import { createRateLimiter, type RateLimiter } from './rate-limit';
import { createResponseCacheStore, type ResponseCacheStore } from './response-cache';

export type { ResilienceDatabase } from './db';

export interface ResilienceComponents {
  circuits: CircuitBreaker;
  rateLimiter: RateLimiter;
  /** Leases on concurrent-call slots (limits: performance.models.<provider>.max_concurrent, passed per acquire). */
  concurrency: ConcurrencyLimiter;
  ledger: BudgetLedger;
  cache: ResponseCacheStore;
}

export interface CreateResilienceOptions {
  config: Pick<Config, 'resilience'>;
  /** The worker's database client and its URL (the client is not closed here). */
  database: ResilienceDatabase;
  /** REDIS_URL: the response cache lives in Redis instead of the database. */
  redisUrl?: string | undefined;
}

export function createResilience(options: CreateResilienceOptions): ResilienceComponents & { close(): Promise<void> } {
  const { config, database } = options;
  const cache = createResponseCacheStore({ database, redisUrl: options.redisUrl });
  return {
    circuits: createCircuitBreaker(database, circuitBreakerOptionsFromConfig(config.resilience.circuit_breaker)),
    rateLimiter: createRateLimiter(database),
    concurrency: createConcurrencyLimiter(database),
    ledger: createBudgetLedger(database, budgetLimitsFromConfig(config.resilience)),
    cache,
    close: () => cache.close(),
  };
}
