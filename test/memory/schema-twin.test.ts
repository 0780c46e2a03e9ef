import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUT, diffMigrationsToSchema } from '../../src/memory/migrate';
import { parseDatabaseUrl } from '../../src/memory/database-url';
import { POSTGRES_SCHEMA_PATH, SQLITE_SCHEMA_PATH, postgresTwinOf } from '../../src/memory/schema-twin';

const migrationNames = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

describe('Prisma schemas', () => {
  it('prisma/postgresql/schema.prisma is the current twin of prisma/schema.prisma (fix: npm run db:generate)', () => {
    const expected = postgresTwinOf(readFileSync(SQLITE_SCHEMA_PATH, 'utf8'));
    expect(readFileSync(POSTGRES_SCHEMA_PATH, 'utf8')).toBe(expected);
  });

  it('the twin differs only in provider and client output', () => {
    const twin = postgresTwinOf('// note\ngenerator client {\n  provider = "prisma-client"\n  output = "../src/generated/prisma-sqlite"\n}\n\ndatasource db {\n  provider = "sqlite"\n}\n\nmodel A {\n  id Int @id\n  provider String\n}\n');
    expect(twin).toContain('output = "../../src/generated/prisma-postgresql"');
    expect(twin).toContain('datasource db {\n  provider = "postgresql"\n}');
    expect(twin).toContain('model A {\n  id Int @id\n  provider String\n}');
    expect(twin).not.toContain('// note');
    expect(() => postgresTwinOf('datasource db {\n  provider = "mysql"\n}\n')).toThrow(/sqlite/);
  });

  it('both providers have the same migration history, with standard lock files', () => {
    const sqlite = migrationNames(LAYOUT.sqlite.migrationsDir);
    expect(sqlite.length).toBeGreaterThan(0);
    expect(migrationNames(LAYOUT.postgresql.migrationsDir)).toEqual(sqlite);
    for (const name of sqlite) expect(name).toMatch(/^\d{14}_[a-z0-9_]+$/);
    expect(readFileSync(path.join(LAYOUT.sqlite.migrationsDir, 'migration_lock.toml'), 'utf8')).toContain('provider = "sqlite"');
    expect(readFileSync(path.join(LAYOUT.postgresql.migrationsDir, 'migration_lock.toml'), 'utf8')).toContain('provider = "postgresql"');
  });

  it('the SQLite migrations build exactly prisma/schema.prisma (fix: npm run db:new-migration -- <name>)', async () => {
    const sql = await diffMigrationsToSchema('sqlite', parseDatabaseUrl('file::memory:'), LAYOUT.sqlite);
    expect(sql.replace(/^\s*--.*$/gm, '').trim()).toBe('');
  });
});
