/**
 * `npm run bench:versus -- litellm`: our gateway and LiteLLM's proxy side by side, in front of the
 * same provider emulator (one process serving the OpenAI, Anthropic and Gemini APIs at a fixed
 * latency), with the same requests, on the same machine, in one run:
 *
 *  1. overhead (end to end minus the emulator's fixed latency) p50/p99 and throughput at 1, 10 and
 *     50 concurrent, beside a direct call to the emulator (the HTTP floor);
 *  2. faults on the primary model (gpt-4o-mini) with anthropic and google behind it: every call
 *     429 with Retry-After 1 s; every call 503 (down); 5x latency. Success rate, provider calls
 *     per request (the emulator's request log), latency p50;
 *  3. a crash: 200 requests in flight (1 s provider latency), the process SIGKILLed once half of
 *     them have reached a provider, restarted at once; each client whose connection died resends
 *     once after the restart with the same Idempotency-Key. Requests answered (first attempt /
 *     after the resend), lost, provider calls repeated.
 *
 * Each side is its own process: LiteLLM's proxy (scripts/litellm-env.sh installs the pinned
 * `litellm[proxy]` into .cache/litellm-venv; LITELLM_BIN points at it) with its production settings
 * (one worker per core, LITELLM_LOG=ERROR, no debug logging, no database), and our gateway with its
 * in-process worker and eager start (bench/versus-gateway.ts: startGateway as `npm run gateway`
 * runs it), SQLite, on the bench's dev server. The crash kills each whole process (LiteLLM's
 * process group; our gateway with its worker), the same failure for both: the process holding the
 * client's connection dies. The emulator and the load generator share this process and the cores.
 * Readable table rows as each is measured, then one JSON line of every figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config/load';
import { startEmulator, type EmulatedModelInput, type EmulatorCallRecord, type RunningEmulator } from '../src/emulator/server';
import { percentile, round, runConcurrent } from './stats';
import { callsPerRequest, crashAccounting, liteLLMConfig, ourVersusConfig, requestTag, VERSUS_MODELS, VERSUS_TASK_TYPE, type CrashAccounting, type CrashOutcome } from './versus-parts';
import { freePort } from '../src/free-port';

const ROOT = join(__dirname, '..');
const LATENCY_MS = Number(process.env['BENCH_PROVIDER_LATENCY_MS'] ?? 50);
const SCALE = Number(process.env['BENCH_VERSUS_SCALE'] ?? 1);
const LITELLM_WORKERS = Number(process.env['BENCH_LITELLM_WORKERS'] ?? cpus().length);
const MAX_ATTEMPTS = 3; // ours: performance.models.<p>.max_attempts in config.yaml
const FAILURE_THRESHOLD = 5; // ours: resilience.circuit_breaker.failure_threshold (default)
const COOLDOWN_S = 10; // both: circuit breaker cooldown_s / LiteLLM cooldown_time, waited out between fault cases
const CRASH_REQUESTS = 200;
const CRASH_LATENCY_MS = 1000;
const PRIMARY = VERSUS_MODELS[0].model;

type SideName = 'ours' | 'litellm' | 'direct';
interface Target {
  name: SideName;
  url: string;
  key: string;
  model: string;
  extra: Record<string, unknown>;
}
interface Answer {
  ok: boolean;
  status: number;
  ms: number;
}

const started: ChildProcess[] = [];
/** Started detached, in a process group of their own (LiteLLM's server and its workers): killed as a group. */
const groups = new WeakSet<ChildProcess>();
process.on('exit', () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null && child.pid) killTree(child, 'SIGKILL');
});

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(groups.has(child) ? -child.pid : child.pid, signal);
  } catch {
    // already gone
  }
}


function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function ask(target: Target, content: string, options: { idempotencyKey?: string; timeoutMs?: number } = {}): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${target.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${target.key}`,
        ...(options.idempotencyKey !== undefined && { 'idempotency-key': options.idempotencyKey }),
      },
      body: JSON.stringify({ model: target.model, messages: [{ role: 'user', content }], ...target.extra }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
    });
    const body = (await res.json().catch(() => null)) as { choices?: { message?: { content?: unknown } }[] } | null;
    const text = body?.choices?.[0]?.message?.content;
    return { ok: res.status === 200 && typeof text === 'string' && text.length > 0, status: res.status, ms: performance.now() - t0 };
  } catch {
    return { ok: false, status: 0, ms: performance.now() - t0 };
  }
}

const question = (i: number, tag: string, directive = ''): string => `${directive}What is ${(i % 97) + 3} * ${(i % 13) + 7}? ${tag}`;

// ---------------------------------------------------------------------------------------------
// The two processes

interface Proc {
  child: ChildProcess;
  target: Target;
}

async function waitFor(what: string, ms: number, probe: () => Promise<boolean>, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited while starting (log: ${logFile}):\n${tail(logFile)}`);
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what} did not become ready in ${ms / 1000} s (log: ${logFile}):\n${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-25).join('\n');
  } catch {
    return '';
  }
}

async function startLiteLLM(bin: string, configPath: string, port: number, masterKey: string, logFile: string): Promise<Proc> {
  const log = openSync(logFile, 'a');
  // A minimal environment: nothing of ours (no DATABASE_URL: LiteLLM would try to use it), the cost map read locally (no network here).
  const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), LITELLM_LOG: 'ERROR', LITELLM_LOCAL_MODEL_COST_MAP: 'True', LITELLM_MASTER_KEY: masterKey };
  const child = spawn(bin, ['--config', configPath, '--host', '127.0.0.1', '--port', String(port), '--num_workers', String(LITELLM_WORKERS), '--timeout_worker_healthcheck', '120'], { env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  started.push(child);
  groups.add(child);
  const target: Target = { name: 'litellm', url: `http://127.0.0.1:${port}`, key: masterKey, model: PRIMARY, extra: {} };
  await waitFor('LiteLLM proxy', 240_000, async () => (await fetch(`${target.url}/health/liveliness`, { signal: AbortSignal.timeout(2000) })).status === 200, child, logFile);
  // Every worker process answers a real request before the run starts.
  for (let i = 0; i < 4 * LITELLM_WORKERS; i++) if (!(await ask(target, question(i, requestTag('litellm', 'start', Date.now() + i)), { timeoutMs: 30_000 })).ok && i === 0) throw new Error(`LiteLLM answered no request (log: ${logFile}):\n${tail(logFile)}`);
  return { child, target };
}

async function startOurs(env: NodeJS.ProcessEnv, logFile: string): Promise<Proc> {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/versus-gateway.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', log] });
  closeSync(log);
  started.push(child);
  const ready = new Promise<{ url: string; key: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('VERSUS_READY ')) resolve(JSON.parse(line.slice('VERSUS_READY '.length)) as { url: string; key: string });
      else appendFileSync(logFile, `${line}\n`);
    });
    child.once('exit', (code, signal) => reject(new Error(`our gateway exited while starting (${code ?? signal}); log: ${logFile}\n${tail(logFile)}`)));
  });
  const timeout = sleep(240_000).then(() => Promise.reject(new Error(`our gateway did not start in 240 s (log: ${logFile})`)));
  const { url, key } = await Promise.race([ready, timeout]);
  const target: Target = { name: 'ours', url, key, model: `route:${VERSUS_TASK_TYPE}`, extra: {} };
  await ask(target, question(0, requestTag('ours', 'start', Date.now())), { timeoutMs: 60_000 });
  return { child, target };
}

// ---------------------------------------------------------------------------------------------
// The table

interface Row {
  row: string;
  ours: number;
  litellm: number;
  direct?: number;
  unit: string;
  better: 'lower' | 'higher';
}
const rows: Row[] = [];
function printHeader(): void {
  console.log('\n| | ours | LiteLLM | direct to the emulator | better |');
  console.log('|---|---|---|---|---|');
}
function printRow(r: Row): void {
  rows.push(r);
  const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${round(x, 2)}${r.unit}`);
  const winner = r.ours === r.litellm ? 'tie' : (r.better === 'lower') === r.ours < r.litellm ? 'ours' : 'LiteLLM';
  console.log(`| ${r.row} | ${fmt(r.ours)} | ${fmt(r.litellm)} | ${fmt(r.direct)} | ${winner} |`);
}

// ---------------------------------------------------------------------------------------------

async function measureLoad(targets: Record<SideName, Target>) {
  const out: Record<string, Record<SideName, { p50: number; p99: number; rps: number; failed: number }>> = {};
  for (const [concurrency, total] of [
    [1, Math.round(100 * SCALE)],
    [10, Math.round(200 * SCALE)],
    [50, Math.round(300 * SCALE)],
  ] as const) {
    const level = {} as Record<SideName, { p50: number; p99: number; rps: number; failed: number }>;
    for (const side of ['direct', 'litellm', 'ours'] as const) {
      const overheads: number[] = [];
      let failed = 0;
      const wall = await runConcurrent(total, concurrency, async (i) => {
        const r = await ask(targets[side], question(i, requestTag(side, `c${concurrency}`, i)));
        if (r.ok) overheads.push(r.ms - LATENCY_MS);
        else failed++;
      });
      level[side] = { p50: round(percentile(overheads, 50)), p99: round(percentile(overheads, 99)), rps: round(overheads.length / (wall / 1000)), failed };
    }
    out[`c${concurrency}`] = level;
    printRow({ row: `overhead p50, ${concurrency} concurrent`, ours: level.ours.p50, litellm: level.litellm.p50, direct: level.direct.p50, unit: ' ms', better: 'lower' });
    printRow({ row: `overhead p99, ${concurrency} concurrent`, ours: level.ours.p99, litellm: level.litellm.p99, direct: level.direct.p99, unit: ' ms', better: 'lower' });
    printRow({ row: `throughput, ${concurrency} concurrent`, ours: level.ours.rps, litellm: level.litellm.rps, direct: level.direct.rps, unit: ' req/s', better: 'higher' });
    if (level.ours.failed + level.litellm.failed + level.direct.failed > 0) console.log(`  (failed: ours ${level.ours.failed}, LiteLLM ${level.litellm.failed}, direct ${level.direct.failed})`);
  }
  return out;
}

const FAULT_CASES: { id: string; name: string; settings: EmulatedModelInput }[] = [
  { id: '429', name: '429 with Retry-After 1 s', settings: { faults: [{ kind: 429, rate: 1, retry_after_s: 1 }] } },
  { id: 'down', name: 'down (503 to every call)', settings: { faults: [{ kind: 503, rate: 1 }] } },
  { id: 'slow', name: `5x latency (${5 * LATENCY_MS} ms)`, settings: { latency_ms: 5 * LATENCY_MS } },
];

async function measureFaults(emulator: RunningEmulator, log: EmulatorCallRecord[], targets: Record<'ours' | 'litellm', Target>) {
  const n = Math.round(60 * SCALE);
  const out: Record<string, Record<'ours' | 'litellm', { success_rate: number; calls_per_request: number; p50_ms: number }>> = {};
  for (const fault of FAULT_CASES) {
    const result = {} as Record<'ours' | 'litellm', { success_rate: number; calls_per_request: number; p50_ms: number }>;
    emulator.setModelSettings(PRIMARY, fault.settings);
    for (const side of ['litellm', 'ours'] as const) {
      const phase = `fault-${fault.id}`;
      const times: number[] = [];
      await runConcurrent(n, 10, async (i) => {
        const r = await ask(targets[side], question(i, requestTag(side, phase, i)), { timeoutMs: 120_000 });
        if (r.ok) times.push(r.ms);
      });
      result[side] = { success_rate: round(times.length / n, 3), calls_per_request: round(callsPerRequest(log, `<${side}:${phase}:`, n), 2), p50_ms: round(percentile(times, 50)) };
    }
    out[fault.id] = result;
    printRow({ row: `${fault.name}: success rate`, ours: result.ours.success_rate * 100, litellm: result.litellm.success_rate * 100, unit: ' %', better: 'higher' });
    printRow({ row: `${fault.name}: provider calls per request`, ours: result.ours.calls_per_request, litellm: result.litellm.calls_per_request, unit: '', better: 'lower' });
    printRow({ row: `${fault.name}: latency p50`, ours: result.ours.p50_ms, litellm: result.litellm.p50_ms, unit: ' ms', better: 'lower' });
    // Heal, wait out both sides' cooldowns, and let each side see the provider healthy again.
    emulator.setModelSettings(PRIMARY, {});
    emulator.resetFaults();
    await sleep((COOLDOWN_S + 1) * 1000);
    for (const side of ['litellm', 'ours'] as const) for (let i = 0; i < 3; i++) await ask(targets[side], question(i, requestTag(side, `heal-${fault.id}`, i)));
  }
  return out;
}

interface CrashResult extends CrashAccounting {
  /** Provider calls started before the kill, those still running then, and requests already answered then. */
  calls_before_kill: number;
  in_flight_at_kill: number;
  answered_before_kill: number;
  kill_after_s: number;
  restart_s: number;
}

async function crash(side: 'ours' | 'litellm', emulator: RunningEmulator, log: EmulatorCallRecord[], proc: Proc, restart: () => Promise<Proc>): Promise<{ result: CrashResult; proc: Proc }> {
  const prefix = `<${side}:crash:`;
  const totalCalls = () => Object.values(emulator.stats()).reduce((s, m) => s + m.calls, 0);
  const before = totalCalls();
  let resolveRestarted!: (t: Target) => void;
  const restarted = new Promise<Target>((resolve) => (resolveRestarted = resolve));
  const outcomes: CrashOutcome[] = [];
  const requests = Array.from({ length: CRASH_REQUESTS }, async (_, i) => {
    const tag = requestTag(side, 'crash', i);
    const content = question(i, tag, `[[emulate:latency=${CRASH_LATENCY_MS}]] `);
    const first = await ask(proc.target, content, { idempotencyKey: `versus-${side}-crash-${i}-${process.pid}` });
    if (first.ok) return void outcomes.push({ tag, firstAttemptOk: true, answered: true });
    const again = await ask(await restarted, content, { idempotencyKey: `versus-${side}-crash-${i}-${process.pid}` });
    outcomes.push({ tag, firstAttemptOk: false, answered: again.ok });
  });
  // Kill once half of the requests have reached a provider (or after 60 s).
  const t0 = Date.now();
  while (totalCalls() - before < CRASH_REQUESTS / 2 && Date.now() - t0 < 60_000) await sleep(10);
  const reached = totalCalls() - before;
  const inFlight = reached - log.filter((c) => c.prompt.includes(prefix)).length;
  const answeredBeforeKill = outcomes.length;
  const killedAt = Date.now();
  const killAfterS = (killedAt - t0) / 1000;
  killTree(proc.child, 'SIGKILL');
  await exited(proc.child);
  const r0 = Date.now();
  const next = await restart();
  const restartS = (Date.now() - r0) / 1000;
  resolveRestarted(next.target);
  await Promise.all(requests);
  await sleep(5000); // calls still running after the last answer (ours: none expected) reach the log
  return { result: { ...crashAccounting(outcomes, log, prefix, killedAt), calls_before_kill: reached, in_flight_at_kill: inFlight, answered_before_kill: answeredBeforeKill, kill_after_s: round(killAfterS), restart_s: round(restartS) }, proc: next };
}

async function main(): Promise<void> {
  const peer = process.argv[2];
  if (peer !== 'litellm') throw new Error(`usage: npm run bench:versus -- litellm (the only peer; got ${peer === undefined ? 'nothing' : `"${peer}"`})`);
  const bin = process.env['LITELLM_BIN'];
  if (!bin) throw new Error('LITELLM_BIN is not set: run through `npm run bench:versus -- litellm` (scripts/bench-versus.sh installs LiteLLM)');
  const litellmVersion = process.env['LITELLM_VERSION'] ?? 'unknown';
  const dir = mkdtempSync(join(tmpdir(), 'bench-versus-'));
  const log: EmulatorCallRecord[] = [];
  let emulator: RunningEmulator | null = null;
  let ours: Proc | null = null;
  let litellm: Proc | null = null;
  try {
    // Our config: config.yaml with the bench's route; the emulator serves from that config's settings.
    const ourConfigPath = join(dir, 'ours.yaml');
    const raw = parse(readFileSync(join(ROOT, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    writeFileSync(ourConfigPath, stringify(ourVersusConfig(raw, { latencyMs: LATENCY_MS, cooldownS: COOLDOWN_S })));
    const config = loadConfig(ourConfigPath);
    emulator = await startEmulator({ port: 0, settings: config.emulator, onCall: (c) => void log.push(c) });

    const masterKey = `sk-versus-${process.pid}-${Date.now().toString(36)}`;
    const litellmConfigPath = join(dir, 'litellm.yaml');
    writeFileSync(litellmConfigPath, stringify(liteLLMConfig({ emulatorUrl: emulator.url, masterKey, maxAttempts: MAX_ATTEMPTS, allowedFails: FAILURE_THRESHOLD, cooldownS: COOLDOWN_S })));
    const litellmPort = await freePort();
    const litellmLog = join(dir, 'litellm.log');
    const ourPort = await freePort();
    const ourLog = join(dir, 'ours.log');
    const taskQueue = `bench-versus-${Date.now().toString(36)}`;
    const ourEnv = {
      ...process.env,
      CONFIG_PATH: ourConfigPath,
      DATABASE_URL: `file:${join(dir, 'ours.db')}`,
      EMULATOR_URL: emulator.url,
      GATEWAY_PORT: String(ourPort),
      GATEWAY_WORKER: 'on',
      VERSUS_TASK_QUEUE: taskQueue,
      LOG_LEVEL: 'error',
      METRICS_PORT: '0',
      METRICS_SDK_PORT: 'off',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      REDIS_URL: '',
    };

    console.log(
      `bench:versus: our gateway (in-process worker, eager start, SQLite; its own process) vs LiteLLM ${litellmVersion} proxy ` +
        `(${LITELLM_WORKERS} workers = cores, LITELLM_LOG=ERROR, no database), both in front of one emulator at ${LATENCY_MS} ms (OpenAI, Anthropic, Gemini APIs); ` +
        `${cpus().length} cores shared with the dev server, the emulator and the load generator.`,
    );
    console.log(`Routes: ${VERSUS_MODELS.map((m) => `${m.provider}:${m.model}`).join(' → ')} (the first answers; the others are failover). Retries: ${MAX_ATTEMPTS} attempts per model (LiteLLM num_retries ${MAX_ATTEMPTS - 1}), breaker after ${FAILURE_THRESHOLD} failures for ${COOLDOWN_S} s (LiteLLM allowed_fails / cooldown_time).`);
    [litellm, ours] = [await startLiteLLM(bin, litellmConfigPath, litellmPort, masterKey, litellmLog), await startOurs(ourEnv, ourLog)];
    const direct: Target = { name: 'direct', url: emulator.url, key: 'emulator', model: PRIMARY, extra: {} };
    const targets = { direct, litellm: litellm.target, ours: ours.target };

    // Warm-up: both sides and the emulator see traffic before anything is measured.
    for (const side of ['direct', 'litellm', 'ours'] as const) await runConcurrent(20, 5, async (i) => void (await ask(targets[side], question(i, requestTag(side, 'warm', i)))));

    printHeader();
    const load = await measureLoad(targets);
    const faults = await measureFaults(emulator, log, targets);

    const ourRestart = () => startOurs(ourEnv, ourLog);
    const litellmRestart = () => startLiteLLM(bin, litellmConfigPath, litellmPort, masterKey, litellmLog);
    const liteCrash = await crash('litellm', emulator, log, litellm, litellmRestart);
    litellm = liteCrash.proc;
    const ourCrash = await crash('ours', emulator, log, ours, ourRestart);
    ours = ourCrash.proc;
    const [l, o] = [liteCrash.result, ourCrash.result];
    const crashRow = (row: string, key: keyof CrashResult, better: Row['better'], unit = '') => printRow({ row: `crash, ${CRASH_REQUESTS} in flight: ${row}`, ours: o[key], litellm: l[key], unit, better });
    crashRow('answered on the first attempt', 'answeredFirstAttempt', 'higher');
    crashRow('answered (first attempt or one resend)', 'answered', 'higher');
    crashRow('lost', 'lost', 'lower');
    crashRow('provider calls', 'providerCalls', 'lower');
    crashRow('provider calls repeated', 'callsRepeated', 'lower');
    crashRow('repeated after the provider had answered', 'repeatedAfterCompleted', 'lower');
    crashRow('… of which the answer came before the kill', 'repeatedAnswerFromBeforeKill', 'lower');
    crashRow('restart to ready', 'restart_s', 'lower', ' s');
    console.log(
      `  (at the kill, ${o.kill_after_s} s / ${l.kill_after_s} s after sending: provider calls started ours ${o.calls_before_kill}, LiteLLM ${l.calls_before_kill}; ` +
        `still running ours ${o.in_flight_at_kill}, LiteLLM ${l.in_flight_at_kill}; requests answered ours ${o.answered_before_kill}, LiteLLM ${l.answered_before_kill})`,
    );

    const wins = rows.reduce((acc, r) => (r.ours === r.litellm ? acc : ((r.better === 'lower') === r.ours < r.litellm ? { ...acc, ours: acc.ours + 1 } : { ...acc, litellm: acc.litellm + 1 })), { ours: 0, litellm: 0 });
    console.log(`\nRows won: ours ${wins.ours}, LiteLLM ${wins.litellm}, of ${rows.length}. LiteLLM is stateless: a request in flight when its process dies is gone, and the client's resend calls the provider again. Ours is durable: the request is a workflow that goes on after the restart, the resend with the same Idempotency-Key attaches to it, and a provider call whose result had reached Temporal is never made again; one that had finished at the provider but not been reported by the killed worker is (provider calls are activities).`);
    console.log(
      JSON.stringify({
        bench: 'versus',
        peer: 'litellm',
        litellm_version: litellmVersion,
        litellm_workers: LITELLM_WORKERS,
        cores: cpus().length,
        provider_latency_ms: LATENCY_MS,
        load,
        faults,
        crash: { requests: CRASH_REQUESTS, provider_latency_ms: CRASH_LATENCY_MS, ours: o, litellm: l },
        rows_won: wins,
      }),
    );
  } finally {
    for (const proc of [litellm, ours]) {
      if (!proc) continue;
      killTree(proc.child, 'SIGTERM');
      await Promise.race([exited(proc.child), sleep(10_000)]);
      killTree(proc.child, 'SIGKILL');
    }
    await emulator?.close();
    if (process.env['BENCH_VERSUS_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
    else console.log(`kept ${dir}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench:versus failed:', err);
    process.exit(1);
  },
);
