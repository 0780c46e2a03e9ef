/**
 * Budget reservations and concurrency leases taken by separate worker processes sharing one
 * SQLite file: each operation's first statement takes SQLite's write lock, so the processes take
 * turns and the limits hold. (Two connections inside one process cannot show this:
 * better-sqlite3 waits for a lock synchronously, blocking the very event loop that would release it.)
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

interface WorkerResult {
  granted: number;
  refused: number;
  unexpected: string[];
}

describe('resilience stores across worker processes on one SQLite file', () => {
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

  /** 4 processes, 5 parallel operations each, all starting at the same moment after their (slow) start-up. */
  async function race(worker: string, lastArg: string): Promise<WorkerResult[]> {
    const startAt = Date.now() + 8_000;
    const outputs = await Promise.all(
      [0, 1, 2, 3].map((p) => run(TSX, [path.join(__dirname, worker), db.url, `proc${p}`, '5', String(startAt), lastArg], { cwd: REPO_ROOT, timeout: 60_000 })),
    );
    const results = outputs.map((o) => JSON.parse(o.stdout.trim()) as WorkerResult);
    expect(results.flatMap((r) => r.unexpected)).toEqual([]);
    return results;
  }

  const sum = (results: WorkerResult[], key: 'granted' | 'refused') => results.reduce((n, r) => n + r[key], 0);

  it('budget: 4 processes × 5 parallel reserves against a budget that fits 5: exactly 5 granted', async () => {
    const results = await race('reserve-worker.ts', '1');
    expect(sum(results, 'granted')).toBe(5);
    expect(sum(results, 'refused')).toBe(15);
    expect(await client.usageLedger.count({ where: { scope: 'user:shared-user' } })).toBe(5);
    expect(await client.usageLedger.count({ where: { scope: 'global' } })).toBe(5);
  }, 90_000);

  it('concurrency: 4 processes × 5 parallel acquires with max 5: exactly 5 granted', async () => {
    const results = await race('lease-worker.ts', '5');
    expect(sum(results, 'granted')).toBe(5);
    expect(sum(results, 'refused')).toBe(15);
    expect(await client.callLease.count({ where: { scope: 'provider:shared' } })).toBe(5);
  }, 90_000);
});
