/**
 * Migrated scratch databases for the resilience tests, on SQLite (a temp file) and on
 * PostgreSQL (a fresh database on the server from TEST_POSTGRES_URL), and the Redis address.
 */
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import type { ResilienceDatabase } from '../../src/resilience/db';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

export interface TestDatabase {
  url: string;
  /** One client, as one worker process has. */
  database: ResilienceDatabase;
  /** Another client on the same database: another worker (PostgreSQL: its own pool; SQLite: its own connection). */
  another(): ResilienceDatabase;
  close(): Promise<void>;
}

export const DATABASES: { name: string; open: (label: string) => Promise<ScratchDatabase> }[] = [
  { name: 'SQLite', open: () => Promise.resolve(scratchSqlite()) },
  { name: 'PostgreSQL', open: (label) => scratchPostgres(label) },
];

export async function openTestDatabase(open: (label: string) => Promise<ScratchDatabase>, label: string): Promise<TestDatabase> {
  const scratch = await open(label);
  await applyMigrations(scratch.url);
  const clients: DatabaseClient[] = [];
  const make = (): ResilienceDatabase => {
    const client = createPrismaClient(scratch.url);
    clients.push(client);
    return { client, url: scratch.url };
  };
  return {
    url: scratch.url,
    database: make(),
    another: make,
    async close() {
      for (const client of clients) await client.$disconnect();
      await scratch.drop();
    },
  };
}

/**
 * The Redis the suite runs against: `npm test` starts one (scripts/redis.sh) and exports
 * TEST_REDIS_URL. A test that needs it fails loudly when it is missing; it never skips.
 */
export function requiredRedisUrl(): string {
  const value = process.env['TEST_REDIS_URL'];
  if (!value) {
    throw new Error(
      'TEST_REDIS_URL is not set. Run the suite with `npm test`, which starts Redis (scripts/redis.sh) and exports TEST_REDIS_URL; ' +
        'or start it yourself: `bash scripts/redis.sh start && export TEST_REDIS_URL=$(bash scripts/redis.sh url)`.',
    );
  }
  return value;
}
