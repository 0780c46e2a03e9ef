import { readdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/memory/database-url';
import { LAYOUT, applyMigrations, diffMigrationsToSchema } from '../../src/memory/migrate';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from './scratch-databases';

const TABLES = ['Interaction', 'ProviderCall', 'RoutingPolicyVersion', '_prisma_migrations'];

const historyOf = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

describe('migrations on SQLite', () => {
  let db: ScratchDatabase;
  beforeAll(() => {
    db = scratchSqlite();
  });
  afterAll(async () => db.drop());

  it('apply every migration to a new file, creating its folder', async () => {
    const result = await applyMigrations(db.url);
    expect(result.provider).toBe('sqlite');
    expect(result.applied).toEqual(historyOf(LAYOUT.sqlite.migrationsDir));

    const { filePath } = parseDatabaseUrl(db.url) as { filePath: string };
    const sqlite = new Database(filePath, { fileMustExist: true });
    try {
      const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
      expect(tables).toEqual(expect.arrayContaining(TABLES));
      const rows = sqlite.prepare('SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations').all() as {
        migration_name: string;
        finished_at: unknown;
        rolled_back_at: unknown;
      }[];
      expect(rows.map((r) => r.migration_name)).toEqual(result.applied);
      for (const r of rows) {
        expect(r.finished_at).not.toBeNull();
        expect(r.rolled_back_at).toBeNull();
      }
      // The engine's connections are closed: the file takes a write lock at once.
      sqlite.exec('BEGIN IMMEDIATE; COMMIT;');
    } finally {
      sqlite.close();
    }
  });

  it('a second apply is a no-op', async () => {
    const again = await applyMigrations(db.url);
    expect(again.applied).toEqual([]);
  });

  it('an up-to-date file in WAL mode is a no-op while another connection holds a write transaction (a running worker)', async () => {
    const { filePath } = parseDatabaseUrl(db.url) as { filePath: string };
    const writer = new Database(filePath, { fileMustExist: true });
    try {
      writer.pragma('journal_mode = WAL');
      writer.exec('BEGIN IMMEDIATE; DELETE FROM "Interaction" WHERE 0;');
      const again = await applyMigrations(db.url);
      expect(again.applied).toEqual([]);
      writer.exec('COMMIT;');
    } finally {
      writer.close();
    }
  });

  it('a file missing the record of its newest migration goes to the engine, which applies exactly that one', async () => {
    const { filePath } = parseDatabaseUrl(db.url) as { filePath: string };
    const newest = historyOf(LAYOUT.sqlite.migrationsDir).at(-1)!;
    const sqlite = new Database(filePath, { fileMustExist: true });
    try {
      sqlite.prepare('DELETE FROM _prisma_migrations WHERE migration_name = ?').run(newest);
    } finally {
      sqlite.close();
    }
    // The engine runs the newest migration's SQL again, on tables that already have its effect, and
    // reports that by the migration's name: the up-to-date check did not skip it.
    await expect(applyMigrations(db.url)).rejects.toThrow(`migration_name="${newest}"`);
  });
});

describe('migrations on PostgreSQL', () => {
  let db: ScratchDatabase | undefined;
  beforeAll(async () => {
    db = await scratchPostgres('migrate');
  });
  afterAll(async () => db?.drop());

  it('apply every migration to an empty database', async () => {
    const result = await applyMigrations(db!.url);
    expect(result.provider).toBe('postgresql');
    expect(result.applied).toEqual(historyOf(LAYOUT.postgresql.migrationsDir));

    const client = new pg.Client({ connectionString: db!.url });
    await client.connect();
    try {
      const tables = await client.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
      expect(tables.rows.map((r) => r.tablename)).toEqual(expect.arrayContaining(TABLES));
      const applied = await client.query<{ migration_name: string }>(
        'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name',
      );
      expect(applied.rows.map((r) => r.migration_name)).toEqual(result.applied);
    } finally {
      await client.end();
    }
  });

  it('a second apply is a no-op', async () => {
    expect((await applyMigrations(db!.url)).applied).toEqual([]);
  });

  it('the PostgreSQL migrations build exactly prisma/postgresql/schema.prisma, and the scratch database is dropped', async () => {
    const listShadows = async () => {
      const client = new pg.Client({ connectionString: db!.url });
      await client.connect();
      try {
        return (await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'prisma_shadow_%'")).rows.map((r) => r.datname);
      } finally {
        await client.end();
      }
    };
    const before = await listShadows();
    const sql = await diffMigrationsToSchema('postgresql', parseDatabaseUrl(db!.url), LAYOUT.postgresql);
    expect(sql.replace(/^\s*--.*$/gm, '').trim()).toBe('');
    expect(await listShadows()).toEqual(before);
  });
});
