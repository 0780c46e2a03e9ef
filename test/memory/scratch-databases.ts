/**
 * Fresh databases for one test file: a SQLite file in a temp folder, or a uniquely named
 * PostgreSQL database on the server from TEST_POSTGRES_URL, dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { requiredService } from '../helpers/services';

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

export function scratchSqlite(): ScratchDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orchestrator-memory-'));
  // A folder that does not exist yet: migrations must create it.
  return {
    url: `file:${path.join(dir, 'nested', 'memory.db')}`,
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function scratchPostgres(label: string): Promise<ScratchDatabase> {
  const serverUrl = requiredService('TEST_POSTGRES_URL');
  const name = `orch_${label}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(serverUrl, name),
    drop: async () => {
      const dropper = new pg.Client({ connectionString: serverUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
