/**
 * npm run db:migrate                      apply pending migrations to DATABASE_URL (default SQLite file)
 * npm run db:new-migration -- <name>      write prisma/{,postgresql/}migrations/<ts>_<name>/migration.sql
 *
 * `new` replays the existing migrations on scratch databases (SQLite in memory; PostgreSQL in a
 * throwaway database on the server named by MIGRATION_POSTGRES_URL, which the npm script starts
 * with scripts/postgres.sh) and diffs them against the current schema files.
 */
import path from 'node:path';
import { DEFAULT_DATABASE_URL } from '../constants';
import { OrchestratorError } from '../errors';
import { redactDatabaseUrl } from './database-url';
import { applyMigrations, createMigration } from './migrate';
import { writePostgresTwin } from './schema-twin';

const USAGE = `usage:
  tsx src/memory/migrate-cli.ts deploy        apply pending migrations to DATABASE_URL (default ${DEFAULT_DATABASE_URL})
  tsx src/memory/migrate-cli.ts new <name>    create a migration for both providers (needs MIGRATION_POSTGRES_URL)`;

async function deploy(): Promise<void> {
  const url = process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL;
  const started = Date.now();
  const result = await applyMigrations(url);
  const where = `${redactDatabaseUrl(url)} (${result.provider})`;
  if (result.applied.length === 0) {
    console.log(`${where}: already up to date (${Date.now() - started} ms)`);
  } else {
    console.log(`${where}: applied ${result.applied.length} migration(s) in ${Date.now() - started} ms:`);
    for (const name of result.applied) console.log(`  ${name}`);
  }
}

async function create(name: string | undefined): Promise<void> {
  if (!name) throw new UsageError('missing migration name');
  const postgresUrl = process.env['MIGRATION_POSTGRES_URL'];
  if (!postgresUrl) {
    throw new UsageError(
      'MIGRATION_POSTGRES_URL is not set: the PostgreSQL migration is computed on a real server.\n' +
        '`npm run db:new-migration -- <name>` starts one with scripts/postgres.sh and sets it.',
    );
  }
  if (writePostgresTwin()) console.log('prisma/postgresql/schema.prisma regenerated from prisma/schema.prisma');
  const result = await createMigration(name, { postgresUrl });
  if (result.name === null) {
    console.log('No schema changes: the migrations already produce prisma/schema.prisma. Nothing written.');
    return;
  }
  console.log(`Created migration ${result.name}:`);
  for (const file of result.files) console.log(`  ${path.relative(process.cwd(), file)}`);
  console.log('Review the SQL, then apply it with `npm run db:migrate`.');
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'deploy':
      return deploy();
    case 'new':
      return create(rest[0]);
    default:
      throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'missing command');
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof OrchestratorError) {
    console.error(`${error.code}: ${error.message}`);
    process.exitCode = 1;
  } else {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
});
