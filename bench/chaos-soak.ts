/**
 * The chaos soak (`npm run bench:chaos`, and its one-minute form in test/chaos/short-soak.test.ts).
 *
 * N worker processes (`node dist/worker.js`, each its own process group) on PostgreSQL, a Temporal
 * dev server of the soak's own (state on disk, free port), and the provider emulator in this
 * process (shared by the workers through EMULATOR_URL) injecting errors and hangs into every
 * model's calls. Steady open-loop load (a fixed request rate, by default half of the capacity
 * measured first, without faults); meanwhile a random worker is SIGKILLed and restarted every
 * `killEveryMs`, the dev server is restarted once, and PostgreSQL (when the soak owns it) is
 * stopped once for `postgresStopMs`.
 *
 * At the end, from the emulator's request log and the database: requests submitted, answered,
 * failed with a typed error, lost; duplicate interactions; provider calls repeated after the
 * provider had answered (by the fault that explains each) and after the answer the request
 * recorded; the budget ledger against the recorded costs; latency during and outside faults.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { stringify } from 'yaml';
import { OrchestratorClient } from '../client/orchestrator-client';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import type { Config } from '../src/config/schema';
import { TASK_QUEUE } from '../src/constants';
import { startEmulator, type EmulatorCallRecord, type RunningEmulator } from '../src/emulator/server';
import { OrchestratorError } from '../src/errors';
import { applyMigrations } from '../src/memory/migrate';
import { createPrismaClient } from '../src/memory/client';
import { PROJECT_ROOT } from '../src/project-root';
import { dataConverterFor } from '../src/temporal/data-converter';
import type { OrchestrateRequest } from '../src/types';
import { percentile, round } from './stats';
import { freePort } from '../src/free-port';
export { freePort };

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type ProviderCallMode = 'activity' | 'local';

export interface SoakOptions {
  /** Length of the loaded, faulted phase. */
  durationMs: number;
  workers: number;
  /** SIGKILL one random worker this often (0: never). */
  killEveryMs: number;
  /** Restart the dev server this long into the soak (null: never). */
  temporalRestartAtMs: number | null;
  /** Stop PostgreSQL this long into the soak, for postgresStopMs (null: never; needs `postgres: 'own'`). */
  postgresStopAtMs: number | null;
  postgresStopMs: number;
  /** Requests per second; null: loadFraction × the capacity measured first. */
  rate: number | null;
  loadFraction: number;
  /** Capacity measurement: closed loop at this concurrency for this long (no faults). */
  capacityMs: number;
  capacityConcurrency: number;
  /** Share of provider calls failing with HTTP 503, and hanging until the call's timeout. */
  errorRate: number;
  hangRate: number;
  /** Emulated provider latency. */
  providerLatencyMs: number;
  /** Seconds one provider call attempt may take (a hang lasts this long). */
  providerTimeoutS: number;
  mode: ProviderCallMode;
  /** 'own': a PostgreSQL of the soak's own (free port, its own folder; can be stopped); else a server URL (a fresh database is created in it). */
  postgres: 'own' | { url: string };
  /** After the load ends, how long outstanding requests may take to finish. */
  drainMs: number;
  /** Progress lines. */
  log: (line: string) => void;
}

export const DEFAULT_SOAK_OPTIONS: Omit<SoakOptions, 'log'> = {
  durationMs: 10 * 60_000,
  workers: 3,
  killEveryMs: 30_000,
  temporalRestartAtMs: 4 * 60_000,
  postgresStopAtMs: 7 * 60_000,
  postgresStopMs: 10_000,
  rate: null,
  loadFraction: 0.5,
  capacityMs: 30_000,
  capacityConcurrency: 20,
  errorRate: 0.1,
  hangRate: 0.01,
  providerLatencyMs: 50,
  providerTimeoutS: 8,
  mode: 'activity',
  postgres: 'own',
  drainMs: 120_000,
};

/** Models the soak's requests can reach (the default route, escalation and fallbacks). */
function soakModels(config: Config): string[] {
  return Object.keys(config.pricing);
}

export interface FaultWindow {
  kind: 'worker-kill' | 'temporal-restart' | 'postgres-stop';
  startMs: number;
  endMs: number;
  detail: string;
}

interface Percentiles {
  count: number;
  p50Ms: number;
  p99Ms: number;
}

export interface SoakReport {
  mode: ProviderCallMode;
  workers: number;
  durationS: number;
  capacityReqPerS: number | null;
  rateReqPerS: number;
  submitted: number;
  answered: number;
  failedTyped: number;
  failedTypedByCode: Record<string, number>;
  /** No answer and no typed error: untyped failures, starts never accepted, still running after the drain. */
  lost: number;
  lostDetail: { untypedFailures: number; neverAccepted: number; unfinished: number; answeredWithoutRecord: number; examples: string[] };
  duplicateInteractions: number;
  providerCalls: {
    total: number;
    faulted: number;
    hung: number;
    /** Successful provider answers followed by another call for the same request and model. */
    repeatedAfterAnswer: number;
    repeatedAfterAnswerByCause: Record<string, number>;
    /** Calls started after the answer the request recorded had been delivered. */
    repeatedAfterCompleting: number;
  };
  ledger: { rows: number; ledgerUsd: number; recordedUsd: number; mismatchedRows: number; unsettled: number; withoutInteraction: number; exact: boolean };
  latency: { duringFaults: Percentiles; outsideFaults: Percentiles };
  faults: { workerKills: number; temporalRestarts: number; postgresStops: number; windows: FaultWindow[] };
  targets: { lost: 0; duplicateInteractions: 0; repeatedAfterCompleting: 0; ledgerExact: true };
  misses: string[];
}

// ---------------------------------------------------------------------------------------------
// Processes the soak starts: every one is tracked here and ended by cleanup, also on a crash.

export interface Owned {
  /** Stop it for good (async, graceful where it matters). */
  stop(): Promise<void>;
  /** Last resort from a process 'exit' handler: synchronous. */
  killSync(): void;
}

/** Every process a running soak or scale run started (ended by its cleanup; killSoakProcesses for a test's afterAll). */
export const LIVE: Set<Owned> = new Set();

/** SIGKILL everything a soak started that is still running (a test that timed out calls this from afterAll). */
export function killSoakProcesses(): void {
  for (const o of LIVE) o.killSync();
  LIVE.clear();
}

/** The processes one run started: stopped in reverse order at its end, SIGKILLed if this process exits first. */
export class OwnedProcesses {
  private readonly list: Owned[] = [];
  private readonly onExit = () => this.list.forEach((o) => o.killSync());

  constructor() {
    process.on('exit', this.onExit);
  }

  add<T extends Owned>(o: T): T {
    this.list.push(o);
    LIVE.add(o);
    return o;
  }

  async stopAll(): Promise<void> {
    for (const o of [...this.list].reverse()) await o.stop().catch(() => undefined);
    this.list.forEach((o) => LIVE.delete(o));
    process.off('exit', this.onExit);
  }
}

/** A temporary folder as an Owned: removed at the end of the run, also when this process exits first. */
export function ownedDir(dir: string): Owned {
  const remove = () => rmSync(dir, { recursive: true, force: true });
  return { stop: () => Promise.resolve(remove()), killSync: remove };
}


function killGroup(child: ChildProcess | null, signal: NodeJS.Signals): void {
  if (child?.pid && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function stopChild(child: ChildProcess | null, graceMs: number): Promise<void> {
  if (!child) return;
  killGroup(child, 'SIGTERM');
  const done = await Promise.race([exited(child).then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    killGroup(child, 'SIGKILL');
    await exited(child);
  }
}

/** The Temporal CLI the scripts use (scripts/lib.sh temporal_cli: $TEMPORAL_CLI, PATH, or .cache/temporal-venv). */
export async function temporalCli(): Promise<string> {
  const { stdout } = await execFileP('bash', ['-c', 'source scripts/lib.sh && temporal_cli'], { cwd: PROJECT_ROOT });
  return stdout.trim();
}

const SEARCH_ATTRIBUTES = ['TaskType', 'UserId', 'Complexity', 'RequestStatus'].flatMap((n) => ['--search-attribute', `${n}=Keyword`]);

/** A dev server of the soak's own, state in a SQLite file so a restart keeps every workflow. */
export class DevServer implements Owned {
  private child: ChildProcess | null = null;
  constructor(
    private readonly cli: string,
    readonly port: number,
    private readonly dbFile: string,
    private readonly logFile: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(this.port), '--headless', '--log-level', 'warn', '--db-filename', this.dbFile, ...SEARCH_ATTRIBUTES];
    const child = spawn(this.cli, args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the soak's Temporal dev server exited (${child.exitCode}); log: ${this.logFile}`);
      const ok = await execFileP(this.cli, ['operator', 'cluster', 'health', '--address', this.address]).then(
        () => true,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`the soak's Temporal dev server did not become healthy in 90 s; log: ${this.logFile}`);
      await sleep(500);
    }
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 15_000);
    this.child = null;
  }

  killSync(): void {
    killGroup(this.child, 'SIGKILL');
  }
}

/** PostgreSQL through scripts/postgres.sh, on a free port in a folder of its own. */
export class OwnPostgres implements Owned {
  readonly env: NodeJS.ProcessEnv;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    this.env = { ...process.env, PGPORT: String(port), POSTGRES_TEST_DIR: dir };
  }

  async start(): Promise<string> {
    await execFileP('bash', ['scripts/postgres.sh', 'start'], { cwd: PROJECT_ROOT, env: this.env });
    const { stdout } = await execFileP('bash', ['scripts/postgres.sh', 'url'], { cwd: PROJECT_ROOT, env: this.env });
    return stdout.trim();
  }

  async pause(): Promise<void> {
    await execFileP('bash', ['scripts/postgres.sh', 'stop'], { cwd: PROJECT_ROOT, env: this.env });
  }

  async stop(): Promise<void> {
    await this.pause().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  killSync(): void {
    spawnSync('bash', ['scripts/postgres.sh', 'stop'], { cwd: PROJECT_ROOT, env: this.env, stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A fresh database in a PostgreSQL server the soak does not own (the test suite's); dropped at the end. */
export async function freshDatabase(serverUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const pg = new PgClient({ connectionString: admin.toString() });
  await pg.connect();
  await pg.query(`CREATE DATABASE ${name}`);
  await pg.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new PgClient({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** One worker slot: `node dist/worker.js` in its own process group, restarted after a kill. */
export class WorkerSlot implements Owned {
  child: ChildProcess | null = null;
  private tail = '';
  starts = 0;
  constructor(
    readonly index: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Spawn and wait for "worker started"; retried (a start can fail while PostgreSQL or Temporal is down). */
  async start(deadlineMs = 180_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        await this.spawnOnce();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(2_000);
      }
    }
  }

  private spawnOnce(): Promise<void> {
    const child = spawn(process.execPath, ['dist/worker.js'], { cwd: PROJECT_ROOT, env: this.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.starts++;
    return new Promise((resolve, reject) => {
      let seen = '';
      let started = false;
      const timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
        reject(new Error(`worker ${this.index} did not log "worker started" in 120 s:\n${this.tail}`));
      }, 120_000);
      const onData = (d: Buffer) => {
        const text = d.toString();
        this.tail = (this.tail + text).slice(-8_000);
        if (started) return;
        seen += text;
        if (seen.includes('"msg":"worker started"')) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
        seen = seen.slice(-2_000);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!started) reject(new Error(`worker ${this.index} exited (${code ?? signal}) before "worker started":\n${this.tail.slice(-3_000)}`));
      });
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    killGroup(child, 'SIGKILL');
    await exited(child);
  }

  output(): string {
    return this.tail;
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 20_000);
  }

  killSync(): void {
    killGroup(this.child, 'SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// Load

interface Tracked {
  index: number;
  requestId: string;
  workflowId: string;
  submitAt: number;
  doneAt: number | null;
  outcome: 'pending' | 'answered' | 'typed' | 'untyped' | 'never-accepted';
  detail: string | null;
}

const PROMPT_TAG = /\[chaos ([a-z0-9]+) #(\d+)\]/;

export function soakRequest(tag: string, i: number): OrchestrateRequest {
  return {
    prompt: `What is ${(i % 89) + 3} * ${(i % 17) + 5}? [chaos ${tag} #${i}]`,
    taskType: 'math',
    userId: `chaos-user-${i % 10}`,
    providers: ['openai', 'anthropic', 'google'],
    requireConsensus: true,
    minProviders: 2,
    requestId: `chaos-${tag}-${i}`,
  };
}

function isTransient(err: unknown): boolean {
  return !(err instanceof OrchestratorError) && !(err instanceof WorkflowFailedError);
}

/** A request that ended with one of our typed errors (a refusal or a typed failure). */
function settleTyped(t: Tracked, err: OrchestratorError): void {
  t.outcome = 'typed';
  t.detail = err.code;
  t.doneAt = Date.now();
}

/** Submit one request and follow it to its end, retrying the client calls while the server is away. */
async function follow(client: OrchestratorClient, input: OrchestrateRequest, t: Tracked, giveUpAt: () => number): Promise<void> {
  for (;;) {
    try {
      await client.start(input);
      break;
    } catch (err) {
      if (err instanceof OrchestratorError) return settleTyped(t, err);
      if (Date.now() > giveUpAt()) {
        t.outcome = 'never-accepted';
        t.detail = (err as Error).message;
        return;
      }
      await sleep(500);
    }
  }
  for (;;) {
    try {
      await client.getResult(t.workflowId);
      t.outcome = 'answered';
      t.doneAt = Date.now();
      return;
    } catch (err) {
      if (err instanceof OrchestratorError) return settleTyped(t, err);
      if (!isTransient(err)) {
        t.outcome = 'untyped';
        t.detail = `${(err as Error).name}: ${(err as Error).message}${(err as Error).cause ? ` (cause: ${String((err as Error).cause)})` : ''}`;
        t.doneAt = Date.now();
        return;
      }
      if (Date.now() > giveUpAt()) return; // stays pending
      await sleep(500);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The soak

/** The repository's config.yaml with budgets on (the ledger is checked), the call mode and bounded provider timeouts. */
export function soakConfig(options: Pick<SoakOptions, 'providerLatencyMs' | 'mode' | 'providerTimeoutS'>): Config {
  const base = loadConfig(join(PROJECT_ROOT, 'config.yaml'));
  return {
    ...base,
    emulator: { ...base.emulator, mode: 'always', latency_ms: options.providerLatencyMs },
    performance: {
      ...base.performance,
      provider_calls: options.mode,
      models: Object.fromEntries(Object.entries(base.performance.models).map(([p, m]) => [p, { ...m, timeout: options.providerTimeoutS }])),
    },
    resilience: { ...base.resilience, budgets: { ...base.resilience.budgets, period: 'month', per_user_usd: 1_000_000, global_usd: 1_000_000 } },
  };
}

/** What a worker process needs to join the soak's stack. */
export function workerEnvironment(input: { temporalAddress: string; databaseUrl: string; configPath: string; emulatorUrl: string; payloadKeys: string }): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    TEMPORAL_ADDRESS: input.temporalAddress,
    DATABASE_URL: input.databaseUrl,
    CONFIG_PATH: input.configPath,
    EMULATOR_URL: input.emulatorUrl,
    PAYLOAD_KEYS: input.payloadKeys,
    // Several workers on one machine: metrics on any free port, no SDK metrics port to clash on.
    METRICS_PORT: '0',
    METRICS_SDK_PORT: 'off',
    LOG_LEVEL: 'info',
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log;
  const tag = Date.now().toString(36) + randomBytes(2).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'orch-chaos-'));
  const owned = new OwnedProcesses();
  owned.add(ownedDir(dir));
  let emulator: RunningEmulator | null = null;
  let connection: Connection | null = null;
  let dropDatabase: (() => Promise<void>) | null = null;
  try {
    // PostgreSQL
    let databaseUrl: string;
    let ownPg: OwnPostgres | null = null;
    if (options.postgres === 'own') {
      const pgPort = await freePort();
      const base = process.getuid?.() === 0 ? '/var/tmp' : dir;
      const pgDir = join(base, `orch-chaos-pg-${tag}`);
      ownPg = new OwnPostgres(pgPort, pgDir);
      owned.add(ownPg);
      log(`PostgreSQL of the soak's own on 127.0.0.1:${pgPort} (${pgDir})`);
      databaseUrl = await ownPg.start();
    } else {
      const fresh = await freshDatabase(options.postgres.url, `chaos_${tag}`);
      databaseUrl = fresh.url;
      dropDatabase = () => fresh.drop();
    }
    if (options.postgresStopAtMs !== null && !ownPg) throw new Error('postgresStopAtMs needs postgres: "own" (the soak stops only a server of its own)');
    await applyMigrations(databaseUrl);

    // Temporal dev server, state on disk
    const temporalPort = await freePort();
    const temporal = new DevServer(await temporalCli(), temporalPort, join(dir, 'temporal.db'), join(dir, 'temporal.log'));
    owned.add(temporal);
    log(`Temporal dev server of the soak's own on ${temporal.address} (state ${join(dir, 'temporal.db')})`);
    await temporal.start();

    const config = soakConfig(options);
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify(config));

    // The emulator, in this process, with a request log.
    const calls: EmulatorCallRecord[] = [];
    emulator = await startEmulator({ port: 0, settings: config.emulator, onCall: (c) => PROMPT_TAG.exec(c.prompt)?.[1] === tag && calls.push(c) });
    const setFaults = (on: boolean) => {
      for (const model of soakModels(config)) {
        emulator!.setModelSettings(model, {
          faults: on
            ? [
                { kind: 'hang', rate: options.hangRate },
                { kind: 503, rate: options.errorRate },
              ]
            : [],
        });
      }
    };

    // Workers
    const payloadKeys = `chaos:${randomBytes(32).toString('base64')}`;
    const workerEnv = workerEnvironment({ temporalAddress: temporal.address, databaseUrl, configPath, emulatorUrl: emulator.url, payloadKeys });
    const slots = Array.from({ length: options.workers }, (_, i) => new WorkerSlot(i, workerEnv));
    slots.forEach((slot) => owned.add(slot));
    // The first alone (it registers the routing-policy workflow and schedules), then the others.
    await slots[0]!.start();
    await Promise.all(slots.slice(1).map((s) => s.start()));
    log(`${options.workers} worker processes polling (node dist/worker.js, mode ${options.mode})`);

    const env = loadEnv({ TEMPORAL_ADDRESS: temporal.address, PAYLOAD_KEYS: payloadKeys });
    connection = await Connection.connect({ address: temporal.address });
    const client = new OrchestratorClient({ client: new Client({ connection, dataConverter: dataConverterFor(env) }), config, env, taskQueue: TASK_QUEUE });

    // Capacity, without faults: closed loop.
    let capacity: number | null = null;
    let rate = options.rate;
    if (rate === null) {
      setFaults(false);
      log(`measuring capacity: closed loop at ${options.capacityConcurrency} concurrent for ${options.capacityMs / 1000} s, no faults`);
      const stopAt = Date.now() + options.capacityMs;
      let n = 0;
      let done = 0;
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: options.capacityConcurrency }, async () => {
          while (Date.now() < stopAt) {
            await client.processRequest({ ...soakRequest(`${tag}cap`, n++), requestId: `chaoscap-${tag}-${n}` }).then(
              () => done++,
              () => undefined,
            );
          }
        }),
      );
      capacity = done / ((Date.now() - t0) / 1000);
      rate = Math.max(0.2, capacity * options.loadFraction);
      log(`capacity ${round(capacity, 2)} req/s; soak load ${round(rate, 2)} req/s (${options.loadFraction * 100}%)`);
    }
    setFaults(true);

    // Load and faults
    const windows: FaultWindow[] = [];
    const tracked: Tracked[] = [];
    const followers: Promise<void>[] = [];
    const soakStart = Date.now();
    const loadEnd = soakStart + options.durationMs;
    let giveUp = loadEnd + options.drainMs;
    const giveUpAt = () => giveUp;
    let kills = 0;
    let temporalRestarts = 0;
    let pgStops = 0;
    const faultTasks: Promise<void>[] = [];
    const timers: NodeJS.Timeout[] = [];
    const at = (offsetMs: number, task: () => Promise<void>) => {
      timers.push(
        setTimeout(() => {
          faultTasks.push(
            task().catch((err: unknown) => {
              log(`fault task failed: ${(err as Error).message}`);
              throw err;
            }),
          );
        }, offsetMs),
      );
    };
    if (options.killEveryMs > 0) {
      for (let t = options.killEveryMs; t < options.durationMs; t += options.killEveryMs) {
        at(t, async () => {
          const slot = slots[Math.floor(Math.random() * slots.length)]!;
          const start = Date.now();
          await slot.kill();
          kills++;
          await slot.start();
          // A killed worker's activities are retried after their heartbeat timeout (5 s); its workflow tasks after the sticky timeout.
          windows.push({ kind: 'worker-kill', startMs: start, endMs: Date.now() + 6_000, detail: `worker ${slot.index} SIGKILLed, restarted in ${Date.now() - start} ms` });
          log(`  t=${round((start - soakStart) / 1000, 0)}s worker ${slot.index} SIGKILLed; restarted in ${Date.now() - start} ms`);
        });
      }
    }
    if (options.temporalRestartAtMs !== null) {
      at(options.temporalRestartAtMs, async () => {
        const start = Date.now();
        await temporal.stop();
        await temporal.start();
        temporalRestarts++;
        windows.push({ kind: 'temporal-restart', startMs: start, endMs: Date.now() + 5_000, detail: `dev server down and back in ${Date.now() - start} ms` });
        log(`  t=${round((start - soakStart) / 1000, 0)}s Temporal dev server restarted (state on disk) in ${Date.now() - start} ms`);
      });
    }
    if (options.postgresStopAtMs !== null && ownPg) {
      const pg = ownPg;
      at(options.postgresStopAtMs, async () => {
        const start = Date.now();
        await pg.pause();
        await sleep(options.postgresStopMs);
        await pg.start();
        pgStops++;
        windows.push({ kind: 'postgres-stop', startMs: start, endMs: Date.now() + 5_000, detail: `PostgreSQL stopped for ${Date.now() - start} ms` });
        log(`  t=${round((start - soakStart) / 1000, 0)}s PostgreSQL stopped, started again after ${Date.now() - start} ms`);
      });
    }

    log(`soak: ${round(rate, 2)} req/s for ${options.durationMs / 1000} s; ${options.errorRate * 100}% errors, ${options.hangRate * 100}% hangs; a worker SIGKILLed every ${options.killEveryMs / 1000} s`);
    for (let i = 0; ; i++) {
      const due = soakStart + (i * 1000) / rate;
      if (due >= loadEnd) break;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      const input = soakRequest(tag, i);
      const t: Tracked = { index: i, requestId: input.requestId!, workflowId: `llm-request-${input.requestId!}`, submitAt: Date.now(), doneAt: null, outcome: 'pending', detail: null };
      tracked.push(t);
      followers.push(follow(client, input, t, giveUpAt));
      if (i > 0 && i % Math.max(1, Math.round(rate * 30)) === 0) {
        const pending = tracked.filter((x) => x.outcome === 'pending').length;
        log(`  t=${round((Date.now() - soakStart) / 1000, 0)}s submitted ${tracked.length}, in flight ${pending}`);
      }
    }
    for (const t of timers) clearTimeout(t);
    // Faults already under way finish (a worker being restarted, the server coming back).
    await Promise.allSettled(faultTasks);
    giveUp = Math.max(giveUp, Date.now() + options.drainMs);
    log(`load done (${tracked.length} submitted); draining up to ${round((giveUp - Date.now()) / 1000, 0)} s`);
    await Promise.all(followers);
    const faultErrors = (await Promise.allSettled(faultTasks)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');

    // Stop the workers before reading the database (nothing writes any more).
    await Promise.all(slots.map((s) => s.stop()));
    const report = await analyse({ options, tag, tracked, calls, windows, databaseUrl, capacity, rate, kills, temporalRestarts, pgStops, durationMs: options.durationMs });
    for (const f of faultErrors) report.misses.push(`a fault task failed: ${String(f.reason)}`);
    // Untyped failures and lost requests: the worker logs help explain them.
    if (report.lost > 0) log(`last worker output:\n${slots.map((s) => `--- worker ${s.index}\n${s.output().slice(-1500)}`).join('\n')}`);
    return report;
  } finally {
    await connection?.close().catch(() => undefined);
    await owned.stopAll();
    await emulator?.close().catch(() => undefined);
    await dropDatabase?.().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

interface AnalyseInput {
  options: SoakOptions;
  tag: string;
  tracked: Tracked[];
  calls: EmulatorCallRecord[];
  windows: FaultWindow[];
  databaseUrl: string;
  capacity: number | null;
  rate: number;
  kills: number;
  temporalRestarts: number;
  pgStops: number;
  durationMs: number;
}

function percentiles(values: number[]): Percentiles {
  return { count: values.length, p50Ms: round(percentile(values, 50), 0), p99Ms: round(percentile(values, 99), 0) };
}

async function analyse(input: AnalyseInput): Promise<SoakReport> {
  const { tracked, calls, windows, tag } = input;
  const db = createPrismaClient(input.databaseUrl);
  try {
    const interactions = await db.interaction.findMany({
      where: { requestId: { startsWith: `chaos-${tag}-` } },
      select: { workflowId: true, requestId: true, status: true, costUsd: true, providerCalls: { select: { model: true, status: true, providerRequestId: true } } },
    });
    const ledgerRows = await db.usageLedger.findMany({ where: { workflowId: { startsWith: `llm-request-chaos-${tag}-` } }, select: { workflowId: true, scope: true, status: true, actualUsd: true } });

    // Requests
    const byRequest = new Map<string, typeof interactions>();
    for (const row of interactions) byRequest.set(row.requestId ?? '', [...(byRequest.get(row.requestId ?? '') ?? []), row]);
    const soakIds = new Set(tracked.map((t) => t.requestId));
    const duplicateInteractions = [...byRequest.entries()].filter(([id]) => soakIds.has(id)).reduce((s, [, rows]) => s + rows.length - 1, 0);
    const answered = tracked.filter((t) => t.outcome === 'answered');
    const answeredWithoutRecord = answered.filter((t) => !byRequest.has(t.requestId));
    const typed = tracked.filter((t) => t.outcome === 'typed');
    const byCode: Record<string, number> = {};
    for (const t of typed) byCode[t.detail ?? '?'] = (byCode[t.detail ?? '?'] ?? 0) + 1;
    const untyped = tracked.filter((t) => t.outcome === 'untyped');
    const neverAccepted = tracked.filter((t) => t.outcome === 'never-accepted');
    const unfinished = tracked.filter((t) => t.outcome === 'pending');
    const lostList = [...untyped, ...neverAccepted, ...unfinished, ...answeredWithoutRecord];
    const lost = lostList.length;

    // Provider calls: repeats after a completed answer, by the fault that explains them.
    const inWindow = (ms: number): FaultWindow | undefined => windows.find((w) => ms >= w.startMs && ms <= w.endMs);
    const usedIds = new Map<string, Set<string>>(); // `${index}\0${model}` -> ids the request recorded
    for (const row of interactions) {
      const index = /-(\d+)$/.exec(row.requestId ?? '')?.[1];
      if (index === undefined || row.requestId !== `chaos-${tag}-${index}`) continue;
      for (const c of row.providerCalls) {
        if (c.status !== 'succeeded' || !c.providerRequestId) continue;
        const key = `${index}\u0000${c.model}`;
        usedIds.set(key, (usedIds.get(key) ?? new Set()).add(c.providerRequestId));
      }
    }
    const groups = new Map<string, EmulatorCallRecord[]>();
    for (const c of calls) {
      const m = PROMPT_TAG.exec(c.prompt);
      if (!m || m[1] !== tag) continue;
      const key = `${m[2]}\u0000${c.model}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    let repeatedAfterAnswer = 0;
    let repeatedAfterCompleting = 0;
    const byCause: Record<string, number> = {};
    for (const [key, group] of groups) {
      group.sort((a, b) => a.startedAt - b.startedAt);
      const answers = group.filter((c) => c.status === 200 && c.completed && c.fault === null);
      // The first answer a later call follows: every call after it repeats work the provider had done.
      const first = answers.find((a) => group.some((c) => c.startedAt > a.endedAt));
      if (first) {
        const laterCalls = group.filter((c) => c.startedAt > first.endedAt);
        const later = laterCalls.length;
        repeatedAfterAnswer += later;
        // The fault that explains it was under way somewhere between the answer and the repeat.
        const repeatAt = laterCalls[0]!.startedAt;
        const cause = (inWindow(first.endedAt) ?? windows.find((w) => w.startMs <= repeatAt && w.endMs >= first.endedAt))?.kind ?? 'no fault';
        byCause[cause] = (byCause[cause] ?? 0) + later;
      }
      const used = usedIds.get(key);
      const usedCall = used ? answers.find((a) => a.ids.some((id) => used.has(id))) : undefined;
      if (usedCall) repeatedAfterCompleting += group.filter((c) => c.startedAt > usedCall.endedAt).length;
    }

    // Budget ledger against the recorded costs (per workflow, and summed in the same order).
    const costByWorkflow = new Map(interactions.map((r) => [r.workflowId, r.costUsd]));
    const global = ledgerRows.filter((r) => r.scope === 'global').sort((a, b) => a.workflowId.localeCompare(b.workflowId));
    let ledgerUsd = 0;
    let recordedUsd = 0;
    let mismatched = 0;
    let withoutInteraction = 0;
    for (const row of global) {
      const recorded = costByWorkflow.get(row.workflowId);
      if (recorded === undefined) {
        withoutInteraction++;
        continue;
      }
      ledgerUsd += row.actualUsd ?? 0;
      recordedUsd += recorded;
      if (row.actualUsd !== recorded) mismatched++;
    }
    const unsettled = ledgerRows.filter((r) => r.status === 'reserved').length;
    const recordedWithoutLedger = interactions.filter((r) => !global.some((g) => g.workflowId === r.workflowId)).length;
    const exact = mismatched === 0 && unsettled === 0 && withoutInteraction === 0 && recordedWithoutLedger === 0 && ledgerUsd === recordedUsd;

    // Latency of answered requests, during and outside faults.
    const during: number[] = [];
    const outside: number[] = [];
    for (const t of answered) {
      const end = t.doneAt!;
      const overlaps = windows.some((w) => t.submitAt <= w.endMs && end >= w.startMs);
      (overlaps ? during : outside).push(end - t.submitAt);
    }

    const misses: string[] = [];
    if (lost > 0) misses.push(`lost ${lost} (target 0)`);
    if (duplicateInteractions > 0) misses.push(`duplicate interactions ${duplicateInteractions} (target 0)`);
    if (repeatedAfterCompleting > 0) misses.push(`provider calls repeated after the recorded answer ${repeatedAfterCompleting} (target 0)`);
    // In activity mode a call is repeated only when its attempt did not complete in Temporal: the
    // worker died, or the completion could not be reported (server or database away). One no fault explains is a miss.
    const unexplained = byCause['no fault'] ?? 0;
    if (input.options.mode === 'activity' && unexplained > 0) misses.push(`provider calls repeated after the provider answered with no fault to explain it: ${unexplained} in activity mode (target 0)`);
    if (!exact) misses.push(`budget ledger not exact (mismatched ${mismatched}, unsettled ${unsettled}, without interaction ${withoutInteraction}, interactions without ledger ${recordedWithoutLedger})`);

    return {
      mode: input.options.mode,
      workers: input.options.workers,
      durationS: input.durationMs / 1000,
      capacityReqPerS: input.capacity === null ? null : round(input.capacity, 2),
      rateReqPerS: round(input.rate, 2),
      submitted: tracked.length,
      answered: answered.length,
      failedTyped: typed.length,
      failedTypedByCode: byCode,
      lost,
      lostDetail: {
        untypedFailures: untyped.length,
        neverAccepted: neverAccepted.length,
        unfinished: unfinished.length,
        answeredWithoutRecord: answeredWithoutRecord.length,
        examples: lostList.slice(0, 5).map((t) => `${t.workflowId}: ${t.outcome}${t.detail ? ` ${t.detail.slice(0, 300)}` : ''}`),
      },
      duplicateInteractions,
      providerCalls: {
        total: calls.length,
        faulted: calls.filter((c) => c.fault !== null).length,
        hung: calls.filter((c) => c.fault === 'hang').length,
        repeatedAfterAnswer,
        repeatedAfterAnswerByCause: byCause,
        repeatedAfterCompleting,
      },
      ledger: { rows: global.length, ledgerUsd: Number(ledgerUsd.toFixed(9)), recordedUsd: Number(recordedUsd.toFixed(9)), mismatchedRows: mismatched, unsettled, withoutInteraction, exact },
      latency: { duringFaults: percentiles(during), outsideFaults: percentiles(outside) },
      faults: { workerKills: input.kills, temporalRestarts: input.temporalRestarts, postgresStops: input.pgStops, windows },
      targets: { lost: 0, duplicateInteractions: 0, repeatedAfterCompleting: 0, ledgerExact: true },
      misses,
    };
  } finally {
    await db.$disconnect();
  }
}

/** The report as lines a person reads. */
export function formatReport(r: SoakReport): string {
  const pc = r.providerCalls;
  const lines = [
    `chaos soak: ${r.workers} workers, mode ${r.mode}, ${r.durationS} s at ${r.rateReqPerS} req/s${r.capacityReqPerS === null ? '' : ` (capacity measured ${r.capacityReqPerS} req/s)`}`,
    `  faults: ${r.faults.workerKills} worker SIGKILLs, ${r.faults.temporalRestarts} dev-server restarts, ${r.faults.postgresStops} PostgreSQL stops`,
    `  requests: submitted ${r.submitted}, answered ${r.answered}, failed with a typed error ${r.failedTyped} ${JSON.stringify(r.failedTypedByCode)}, lost ${r.lost} (target 0)`,
    r.lost > 0 ? `    lost: untyped failures ${r.lostDetail.untypedFailures}, never accepted ${r.lostDetail.neverAccepted}, unfinished ${r.lostDetail.unfinished}, answered without a record ${r.lostDetail.answeredWithoutRecord}; e.g. ${r.lostDetail.examples.join(' | ')}` : null,
    `  duplicate interactions: ${r.duplicateInteractions} (target 0)`,
    `  provider calls: ${pc.total} (faulted ${pc.faulted}, hung ${pc.hung}); repeated after the provider had answered ${pc.repeatedAfterAnswer} ${JSON.stringify(pc.repeatedAfterAnswerByCause)}; after the recorded answer ${pc.repeatedAfterCompleting} (target 0)`,
    `  budget ledger: ${r.ledger.rows} rows, $${r.ledger.ledgerUsd} settled vs $${r.ledger.recordedUsd} recorded; mismatched ${r.ledger.mismatchedRows}, unsettled ${r.ledger.unsettled}: ${r.ledger.exact ? 'exact' : 'NOT exact'}`,
    `  latency (answered, submit to answer): outside faults p50 ${r.latency.outsideFaults.p50Ms} ms p99 ${r.latency.outsideFaults.p99Ms} ms (n=${r.latency.outsideFaults.count}); during faults p50 ${r.latency.duringFaults.p50Ms} ms p99 ${r.latency.duringFaults.p99Ms} ms (n=${r.latency.duringFaults.count})`,
    r.misses.length > 0 ? `  MISSES: ${r.misses.join('; ')}` : '  all targets met',
  ];
  return lines.filter((l): l is string => l !== null).join('\n');
}
