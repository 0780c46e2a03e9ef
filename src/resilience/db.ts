/**
 * What the resilience stores share: the database client they run on, and the mapping of an
 * unreachable database to DatabaseConnectionError (URL and password redacted), as the memory
 * store does.
 */
import type { DatabaseClient } from '../memory/client';
import { databaseConnectionError, isConnectionError, parseDatabaseUrl, type DatabaseProvider } from '../memory/database-url';

export interface ResilienceDatabase {
  /** From createPrismaClient(databaseUrl); shared with the memory store (the caller closes it). */
  client: DatabaseClient;
  /** The same URL: names the dialect and, redacted, the database in connection errors. */
  url: string;
}

export interface Guarded {
  db: DatabaseClient;
  provider: DatabaseProvider;
  /** Run `fn`; an unreachable database becomes DatabaseConnectionError, other errors pass through. */
  guard: <T>(action: string, fn: () => Promise<T>) => Promise<T>;
}

export function guarded(database: ResilienceDatabase): Guarded {
  const target = parseDatabaseUrl(database.url);
  return {
    db: database.client,
    provider: target.provider,
    guard: async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        if (isConnectionError(error)) throw databaseConnectionError(target.url, error, action);
        throw error;
      }
    },
  };
}

/** Prisma's unique-constraint violation: another writer created the row first. */
export function isUniqueViolation(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'P2002';
}

/** Most compare-and-swap rounds before giving up under contention (each round means another writer made progress). */
export const MAX_CAS_ROUNDS = 50;
