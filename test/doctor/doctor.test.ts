/**
 * `cli doctor` / `framework.diagnose()` against real services: a real worker (`npm run worker`) in
 * a namespace of its own on the test dev server, over the shared PostgreSQL database, with a
 * standalone emulator → every check PASS or SKIP. Then each way it breaks gives the right FAIL,
 * with its advice, quickly: a wrong TEMPORAL_ADDRESS, an unmigrated database, a fresh namespace
 * without the search attributes (and without a worker, schedule or routing-policy workflow). The
 * CLI exits 1 on a FAIL and prints JSON with --json.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv, type Env } from '../../src/config/env';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { runDoctor, type CheckResult, type DoctorReport } from '../../src/doctor';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server';
import { LAYOUT, readMigrationList } from '../../src/memory/migrate';
import { addReportCommands, DoctorFailed } from '../../client/report-cli';
import { describeFailure } from '../../client/cli';
import { AIOrchestrationFramework } from '../../client/framework';
import { REPO_ROOT } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { ensureNamespace, spawnNpmWorker, type SpawnedWorker } from '../helpers/spawned-worker';

const TIMEOUT_MS = 3000;
let config: Config;
let emulator: RunningEmulator;
let worker: SpawnedWorker | undefined;
let namespace: string;
let dir: string;

function env(over: Partial<Record<keyof Env, string>>): Env {
  return loadEnv({
    TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'),
    DATABASE_URL: requiredService('TEST_POSTGRES_URL'),
    EMULATOR_URL: emulator.url,
    PAYLOAD_KEYS: process.env['PAYLOAD_KEYS'],
    PAYLOAD_KEYS_FILE: process.env['PAYLOAD_KEYS_FILE'],
    ...over,
  });
}

const byId = (r: DoctorReport, id: string): CheckResult => {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
};
const summary = (r: DoctorReport) => r.checks.map((c) => `${c.status} ${c.id}: ${c.detail}${c.advice ? ` -> ${c.advice}` : ''}`).join('\n');

beforeAll(async () => {
  config = loadConfig(join(REPO_ROOT, 'config.yaml'));
  emulator = await startEmulator({ port: 0, settings: config.emulator });
  dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  namespace = `doctor-${randomUUID().slice(0, 8)}`;
  await ensureNamespace(namespace);
  worker = await spawnNpmWorker(namespace, {
    DATABASE_URL: requiredService('TEST_POSTGRES_URL'),
    EMULATOR_URL: emulator.url,
    METRICS_PORT: '0',
    METRICS_SDK_PORT: 'off',
  }).catch(async (err: unknown) => {
    await emulator.close();
    throw err;
  });
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('doctor', () => {
  it('with a worker polling, the shared database and the emulator: every check passes (or is skipped with a reason)', async () => {
    const e = env({ TEMPORAL_NAMESPACE: namespace });
    // The worker starts the routing-policy workflow and the schedule as it starts: give it a moment.
    let report: DoctorReport = await runDoctor({ env: e, config, timeoutMs: TIMEOUT_MS });
    for (let i = 0; i < 30 && !report.ok; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      report = await runDoctor({ env: e, config, timeoutMs: TIMEOUT_MS });
    }
    expect(report.ok, summary(report)).toBe(true);
    for (const id of ['temporal.connection', 'temporal.namespace', 'temporal.search-attributes', 'temporal.worker', 'temporal.improvement-schedule', 'temporal.routing-policy', 'database', 'payload-keys']) {
      expect(byId(report, id).status, summary(report)).toBe('PASS');
    }
    expect(byId(report, 'database').detail).toContain(`all ${readMigrationList(LAYOUT.postgresql.migrationsDir).migrationDirectories.length} migrations applied`);
    // Every enabled provider has a check; without API keys they are emulated and say so.
    const enabled = Object.entries(config.models).filter(([, p]) => p.enabled).map(([n]) => n);
    for (const name of enabled) {
      const c = byId(report, `provider.${name}`);
      expect(c.status).toBe('PASS');
      expect(c.detail).toContain('emulated');
    }
    expect(byId(report, 'redis')).toMatchObject({ status: 'SKIP' });
    for (const c of report.checks) if (c.status === 'SKIP') expect(c.detail.length, c.id).toBeGreaterThan(10);
    // With Redis configured it is checked for real.
    const withRedis = await runDoctor({ env: env({ TEMPORAL_NAMESPACE: namespace, REDIS_URL: process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:56379' }), config, timeoutMs: TIMEOUT_MS });
    expect(byId(withRedis, 'redis')).toMatchObject({ status: 'PASS', detail: 'PING answered PONG' });
    // framework.diagnose() gives the same structure.
    const framework = await AIOrchestrationFramework.fromConfig(join(REPO_ROOT, 'config.yaml'), { env: e });
    try {
      const diagnosed = await framework.diagnose({ timeoutMs: TIMEOUT_MS });
      expect(diagnosed.ok, summary(diagnosed)).toBe(true);
      expect(diagnosed.checks.map((c) => c.id)).toEqual(report.checks.map((c) => c.id));
    } finally {
      await framework.close();
    }
  }, 120_000);

  it('a wrong TEMPORAL_ADDRESS fails the Temporal check with advice, skips what needs Temporal, within the timeout', async () => {
    const started = Date.now();
    const report = await runDoctor({ env: env({ TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: namespace }), config, timeoutMs: TIMEOUT_MS });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 4);
    expect(report.ok).toBe(false);
    const t = byId(report, 'temporal.connection');
    expect(t.status).toBe('FAIL');
    expect(t.advice).toContain('TEMPORAL_ADDRESS');
    expect(t.advice).toContain('127.0.0.1:1');
    for (const id of ['temporal.namespace', 'temporal.search-attributes', 'temporal.worker', 'temporal.improvement-schedule', 'temporal.routing-policy']) {
      expect(byId(report, id), id).toMatchObject({ status: 'SKIP', detail: expect.stringContaining('not reachable') as unknown });
    }
    // The database is still checked.
    expect(byId(report, 'database').status).toBe('PASS');
  }, 60_000);

  it('an unmigrated or missing database fails the database check with the migrate command', async () => {
    const empty = join(dir, 'empty.db');
    new Database(empty).exec('CREATE TABLE unrelated (id INTEGER)');
    const partial = join(dir, 'partial.db');
    const pdb = new Database(partial);
    pdb.exec('CREATE TABLE _prisma_migrations (id TEXT, checksum TEXT, finished_at DATETIME, migration_name TEXT, logs TEXT, rolled_back_at DATETIME, started_at DATETIME, applied_steps_count INTEGER)');
    const names = readMigrationList(LAYOUT.sqlite.migrationsDir).migrationDirectories.map((m) => m.path);
    pdb.prepare("INSERT INTO _prisma_migrations (id, migration_name, finished_at, started_at, applied_steps_count) VALUES (?, ?, datetime('now'), datetime('now'), 1)").run('1', names[0]);
    pdb.close();

    for (const [file, expected] of [
      [empty, 'has no migrations applied'],
      [partial, `${names.length - 1} of ${names.length} migration(s) not applied`],
      [join(dir, 'absent.db'), 'does not exist'],
    ] as const) {
      const report = await runDoctor({ env: env({ TEMPORAL_NAMESPACE: namespace, DATABASE_URL: `file:${file}` }), config, timeoutMs: TIMEOUT_MS });
      const c = byId(report, 'database');
      expect(c, file).toMatchObject({ status: 'FAIL', detail: expect.stringContaining(expected) as unknown, advice: expect.stringContaining('npm run db:migrate') as unknown });
      expect(report.ok).toBe(false);
    }
    // A PostgreSQL server that is not there: FAIL within the check's timeout, not a hang.
    const started = Date.now();
    const down = await runDoctor({ env: env({ TEMPORAL_NAMESPACE: namespace, DATABASE_URL: 'postgresql://doctor:secret-pw@127.0.0.1:1/none' }), config, timeoutMs: TIMEOUT_MS });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 4);
    const c = byId(down, 'database');
    expect(c).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/is not reachable: \S+/) as unknown, advice: expect.stringContaining('DATABASE_URL') as unknown });
    expect(JSON.stringify(down)).not.toContain('secret-pw');
  }, 60_000);

  it('a fresh namespace without the search attributes, a worker or the workflows fails each of those checks', async () => {
    const fresh = `doctor-fresh-${randomUUID().slice(0, 8)}`;
    await ensureNamespace(fresh);
    const report = await runDoctor({ env: env({ TEMPORAL_NAMESPACE: fresh }), config, timeoutMs: TIMEOUT_MS });
    expect(byId(report, 'temporal.namespace').status).toBe('PASS');
    const sa = byId(report, 'temporal.search-attributes');
    expect(sa.status).toBe('FAIL');
    expect(sa.detail).toContain('missing: TaskType, UserId, Complexity, RequestStatus');
    expect(sa.advice).toContain(`temporal operator search-attribute create --namespace ${fresh} --name TaskType --type Keyword`);
    expect(byId(report, 'temporal.worker')).toMatchObject({ status: 'FAIL', advice: expect.stringContaining('npm run worker') as unknown });
    expect(byId(report, 'temporal.improvement-schedule')).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('does not exist') as unknown });
    expect(byId(report, 'temporal.routing-policy')).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('never run') as unknown });
    expect(report.ok).toBe(false);
  }, 60_000);

  it('the CLI prints PASS/FAIL lines or JSON and exits 1 when a check fails', async () => {
    const failing = await runDoctor({ env: env({ TEMPORAL_ADDRESS: '127.0.0.1:1' }), config, timeoutMs: 1000 });
    const passing: DoctorReport = { ok: true, at: failing.at, checks: failing.checks.filter((c) => c.status !== 'FAIL') };
    const run = async (report: DoctorReport, args: string[]) => {
      const lines: string[] = [];
      const program = new Command().exitOverride();
      addReportCommands(program, { out: (l) => lines.push(l), diagnose: () => Promise.resolve(report) });
      let error: unknown = null;
      await program.parseAsync(['node', 'cli', 'doctor', ...args]).catch((err: unknown) => (error = err));
      return { lines, error };
    };
    const text = await run(failing, []);
    expect(text.error).toBeInstanceOf(DoctorFailed);
    expect(describeFailure(text.error).code).toBe(1);
    expect(text.lines.some((l) => /^FAIL {2}Temporal reachable: /.test(l))).toBe(true);
    expect(text.lines.some((l) => l.startsWith('      -> start Temporal'))).toBe(true);
    expect(text.lines.at(-1)).toMatch(/^some checks FAILED: \d+ pass, \d+ fail, \d+ skip$/);
    const json = await run(failing, ['--json']);
    expect((JSON.parse(json.lines.join('\n')) as DoctorReport).checks.map((c) => c.id)).toEqual(failing.checks.map((c) => c.id));
    const ok = await run(passing, []);
    expect(ok.error).toBeNull();
    expect(ok.lines.at(-1)).toMatch(/^all checks passed/);
  }, 60_000);
});
