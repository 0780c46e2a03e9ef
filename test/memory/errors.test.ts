import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requestWorkflowId } from '../../src/constants';
import { ConfigError, DatabaseConnectionError } from '../../src/errors';
import { parseDatabaseUrl, redactDatabaseUrl } from '../../src/memory/database-url';
import { applyMigrations } from '../../src/memory/migrate';
import { createMemoryStore } from '../../src/memory/repository';
import { requiredService } from '../helpers/services';

const PASSWORD = 'pw-Sh0uld_n0t-leak';

async function expectConnectionError(promise: Promise<unknown>, password = PASSWORD): Promise<DatabaseConnectionError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a DatabaseConnectionError, but the call succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatabaseConnectionError);
  const dce = error as DatabaseConnectionError;
  expect(dce.code).toBe('DatabaseConnectionError');
  expect(dce.message).not.toContain(password);
  expect(JSON.stringify(dce.details)).not.toContain(password);
  expect(String(dce.stack)).not.toContain(password);
  return dce;
}

/** A server URL with other credentials or database. */
function variant(url: string, change: { password?: string; database?: string }): string {
  const parsed = new URL(url);
  if (change.password !== undefined) parsed.password = change.password;
  if (change.database !== undefined) parsed.pathname = `/${change.database}`;
  return parsed.toString();
}

describe('an unreachable database gives DatabaseConnectionError, never the password', () => {
  const unreachable = `postgresql://orchestrator:${PASSWORD}@127.0.0.1:1/orchestrator`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'orchestrator-errors-'));
  const aFile = path.join(tmp, 'not-a-folder');
  writeFileSync(aFile, 'x');
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('PostgreSQL server not listening: migrations', async () => {
    const e = await expectConnectionError(applyMigrations(unreachable));
    expect(e.message).toContain('postgresql://orchestrator:***@127.0.0.1:1/orchestrator');
    expect(e.message).toMatch(/can't reach database server/i);
  });

  it('PostgreSQL server not listening: store operations', async () => {
    const store = createMemoryStore(unreachable);
    try {
      await expectConnectionError(store.ping());
      await expectConnectionError(store.getInteraction(requestWorkflowId('unreachable')));
      await expectConnectionError(store.recordPolicyVersion({ policy: {}, configHash: 'h', source: 'test', reason: 'unreachable' }));
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL with a wrong password or a missing database', async () => {
    const server = requiredService('TEST_POSTGRES_URL');
    const wrongPassword = variant(server, { password: PASSWORD });
    const e1 = await expectConnectionError(applyMigrations(wrongPassword));
    expect(e1.message).toMatch(/authentication failed/i);
    const store = createMemoryStore(wrongPassword);
    try {
      await expectConnectionError(store.ping());
    } finally {
      await store.close();
    }

    const realPassword = decodeURIComponent(new URL(server).password);
    const missing = variant(server, { database: 'memory_no_such_db' });
    const e2 = await expectConnectionError(applyMigrations(missing), realPassword || PASSWORD);
    expect(e2.message).toMatch(/memory_no_such_db.*does not exist/);
  });

  it('SQLite file that cannot be opened', async () => {
    const url = `file:${path.join(aFile, 'memory.db')}`;
    await expectConnectionError(applyMigrations(url));
    const store = createMemoryStore(url);
    try {
      await expectConnectionError(store.ping());
      await expectConnectionError(store.listInteractions({ limit: 1 }));
    } finally {
      await store.close();
    }
  });
});

describe('database URLs', () => {
  it('redacts passwords', () => {
    expect(redactDatabaseUrl('postgresql://u:secret@h:5432/db?sslmode=require')).toBe('postgresql://u:***@h:5432/db?sslmode=require');
    expect(redactDatabaseUrl('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
    expect(redactDatabaseUrl('postgresql://h/db?user=u&password=secret')).toBe('postgresql://h/db?user=u&password=***');
    expect(redactDatabaseUrl('postgresql://u@h/db')).toBe('postgresql://u@h/db');
    expect(redactDatabaseUrl('file:./.data/orchestrator.db')).toBe('file:./.data/orchestrator.db');
  });

  it('chooses the provider by scheme and refuses others', () => {
    expect(parseDatabaseUrl('file:./.data/x.db')).toMatchObject({ provider: 'sqlite', filePath: path.resolve('.data/x.db') });
    expect(parseDatabaseUrl('postgres://u:p@h/db')).toMatchObject({ provider: 'postgresql', redactedUrl: 'postgres://u:***@h/db' });
    expect(parseDatabaseUrl('postgresql://u:p@h/db').provider).toBe('postgresql');
    expect(() => parseDatabaseUrl('mysql://u:secret@h/db')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('mysql://u:secret@h/db')).not.toThrow(/secret/);
    expect(parseDatabaseUrl('postgresql://u:p@h/db?schema=public').provider).toBe('postgresql');
    expect(() => parseDatabaseUrl('postgresql://u:p@h/db?schema=tenant_a')).toThrow(/separate database/);
  });
});
