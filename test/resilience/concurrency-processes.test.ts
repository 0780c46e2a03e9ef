/**
 * Concurrency leases taken by separate worker processes sharing one SQLite file: the acquire's
 * first statement takes SQLite's write lock, so the processes take turns and the limit holds.
 * (Two connections inside one process cannot show this: better-sqlite3 waits for a lock
 * synchronously, blocking the very event loop that would release it.)
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

const run = promisify(execFile);
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const WORKER = path.join(__dirname, 'lease-worker.ts');

describe('concurrency leases across worker processes on one SQLite file', () => {
  let db: ScratchDatabase;
  let client: DatabaseClient;

  beforeAll(async () => {
    db = scratchSqlite();
    await applyMigrations(db.url);
    client = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await client?.$disconnect();
    await db?.drop();
  });

  it('4 processes × 5 parallel acquires with max 5: exactly 5 granted', async () => {
    // Every process starts racing at the same moment, after its (slow) start-up.
    const startAt = Date.now() + 8_000;
    const outputs = await Promise.all(
      [0, 1, 2, 3].map((p) => run(TSX, [WORKER, db.url, `proc${p}`, '5', String(startAt), '5'], { cwd: REPO_ROOT, timeout: 60_000 })),
    );
    const results = outputs.map((o) => JSON.parse(o.stdout.trim()) as { granted: number; refused: number; unexpected: string[] });
    expect(results.flatMap((r) => r.unexpected)).toEqual([]);
    expect(results.reduce((n, r) => n + r.granted, 0)).toBe(5);
    expect(results.reduce((n, r) => n + r.refused, 0)).toBe(15);
    expect(await client.callLease.count({ where: { scope: 'provider:shared' } })).toBe(5);
  }, 90_000);
});
