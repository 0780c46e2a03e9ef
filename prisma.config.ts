/**
 * Prisma CLI configuration. Prisma 7 keeps the database URL out of the schema.
 *
 * This project migrates with `npm run db:migrate` (Prisma's WebAssembly schema engine, see
 * src/memory/migrate.ts) and generates clients with `npm run db:generate`. On a machine that has
 * the native schema engine, the standard commands work on the same folders, given the schema
 * that matches DATABASE_URL:
 *   npx prisma migrate status --schema prisma/schema.prisma                  # SQLite
 *   npx prisma migrate deploy --schema prisma/postgresql/schema.prisma       # PostgreSQL
 */
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  datasource: { url: process.env['DATABASE_URL'] ?? 'file:./.data/orchestrator.db' },
});
