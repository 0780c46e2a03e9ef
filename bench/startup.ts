/**
 * bench:startup: how long the programs users start take before they do anything, run compiled
 * (dist/, npm run build) and through tsx (how they ran before), against a same-run floor
 * (`node -e 0`).
 *
 *   cli --help            process start to exit
 *   worker start          process start to the worker's first poll on the task queue (seen by the
 *                         server: describeTaskQueue lists the worker's identity), and to its
 *                         "worker started" log line; one cold start (fresh database), then warm ones
 *   cli run               process start to exit for one request on the emulator, with a compiled
 *                         worker already running; beside it the same request from a client inside
 *                         this process (the request's own latency, without any process start)
 *
 * Run by `npm run bench:startup` (scripts/bench.sh: its own dev server). BENCH_RUNS (default 10)
 * sets the repetitions. Prints readable figures, then one JSON line with figures and targets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { OrchestratorClient } from '../client/orchestrator-client';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import { TASK_QUEUE } from '../src/constants';
import { PROJECT_ROOT } from '../src/project-root';
import { selectWorkflowSource } from '../src/temporal/workflow-bundle';
import { percentile, round } from './stats';

const TARGETS = { workerStartToPollingMs: 2000, cliHelpMs: 500, cliRunMs: 1000 };
const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 10));
const ROOT = PROJECT_ROOT;
const NODE = process.execPath;
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** Every process this bench started and that has not exited: killed if the bench itself ends early. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
function tracked<C extends ChildProcess>(child: C): C {
  running.add(child);
  child.on('close', () => running.delete(child));
  return child;
}

interface Stats {
  n: number;
  p50: number;
  p90: number;
  min: number;
  max: number;
}

function stats(values: readonly number[]): Stats {
  return { n: values.length, p50: round(percentile(values, 50)), p90: round(percentile(values, 90)), min: round(Math.min(...values)), max: round(Math.max(...values)) };
}

function show(label: string, s: Stats): void {
  console.log(`  ${label.padEnd(44)} p50 ${String(s.p50).padStart(7)} ms   p90 ${String(s.p90).padStart(7)}   min ${String(s.min).padStart(7)}   max ${String(s.max).padStart(7)}   (n=${s.n})`);
}

interface Exited {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; wall time from spawn to exit. */
function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = tracked(spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - started, code, stdout, stderr }));
  });
}

async function repeat(runs: number, command: string, args: readonly string[], check: (r: Exited, i: number) => void, env?: NodeJS.ProcessEnv): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await timed(command, args, env);
    check(r, i);
    out.push(r.ms);
  }
  return out;
}

function mustSucceed(what: string) {
  return (r: Exited) => {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  };
}

interface WorkerStart {
  toPollingMs: number;
  toStartedLogMs: number | null;
  stopMs: number;
  /** Whether the worker loaded the prebuilt bundle (its "workflow code" log line). */
  usedPrebuiltBundle: boolean;
  /** The exit code after SIGTERM (0 is a clean shutdown). */
  exitCode: number | null;
}

/**
 * Starts a worker process and measures until the server sees it polling the workflow task queue
 * (its identity, `<pid>@<host>`, in describeTaskQueue), then stops it with SIGTERM.
 */
async function workerStart(connection: Connection, args: readonly string[], env: NodeJS.ProcessEnv): Promise<WorkerStart> {
  // Sources edited since the last build (a busy working tree) would make this start bundle them.
  mustSucceed('scripts/build.sh --if-needed')(await timed('bash', ['scripts/build.sh', '--if-needed']));
  const started = performance.now();
  const child = tracked(spawn(NODE, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const identity = `${child.pid}@${hostname()}`;
  let toStartedLogMs: number | null = null;
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString();
    output += text;
    if (toStartedLogMs === null && text.includes('"msg":"worker started"')) toStartedLogMs = performance.now() - started;
  });
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  let toPollingMs: number | null = null;
  const deadline = performance.now() + 60_000;
  while (toPollingMs === null) {
    if (exitCode !== undefined) throw new Error(`worker exited (${exitCode}) before polling:\n${output.slice(-3000)}`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker not polling after 60 s:\n${output.slice(-3000)}`);
    }
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: TASK_QUEUE, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    if (pollers.some((p) => p.identity === identity)) toPollingMs = performance.now() - started;
    else await new Promise((r) => setTimeout(r, 20));
  }
  // Wait for the start-up log line too (it may come just after the first poll), then stop.
  for (let i = 0; i < 100 && toStartedLogMs === null && exitCode === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  const stopping = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) console.log(`  ! worker exited ${code} after SIGTERM: ${output.trim().split('\n').filter((l) => !l.startsWith('{')).slice(-3).join(' | ').slice(0, 400)}`);
  const usedPrebuiltBundle = /"msg":"workflow code"/.test(output) && output.split('\n').some((l) => l.includes('"msg":"workflow code"') && l.includes('workflow-bundle.js'));
  return { toPollingMs, toStartedLogMs, stopMs: performance.now() - stopping, usedPrebuiltBundle, exitCode: code };
}

/** Starts a compiled worker and returns a stop function, once it polls. */
async function runningWorker(connection: Connection, env: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  const child = tracked(spawn(NODE, ['dist/worker.js'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] }));
  const identity = `${child.pid}@${hostname()}`;
  for (let i = 0; i < 3000; i++) {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: TASK_QUEUE, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    if (pollers.some((p) => p.identity === identity)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return () =>
    new Promise<void>((resolve) => {
      child.on('close', () => resolve());
      child.kill('SIGTERM');
    });
}

function verdict(value: number, target: number): string {
  return value < target ? 'met' : 'MISSED';
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const baseEnv = loadEnv();
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: `file:${join(dir, 'bench.db')}`, LOG_LEVEL: 'info', TEMPORAL_ADDRESS: baseEnv.TEMPORAL_ADDRESS };
  const quietEnv: NodeJS.ProcessEnv = { ...env, LOG_LEVEL: 'warn' };
  const connection = await Connection.connect({ address: baseEnv.TEMPORAL_ADDRESS });

  console.log(`bench:startup on ${baseEnv.TEMPORAL_ADDRESS}, ${RUNS} runs each (BENCH_RUNS); wall time from spawn`);
  const build = await timed('bash', ['scripts/build.sh', '--if-needed']);
  mustSucceed('scripts/build.sh --if-needed')(build);
  const source = selectWorkflowSource();
  if (source.kind !== 'bundle') throw new Error(`the worker would not use the prebuilt bundle: ${source.reason}`);
  console.log(`  build --if-needed ${round(build.ms)} ms (${build.stderr.includes('building dist/') ? 'rebuilt' : 'up to date'}); workflow code: ${source.reason}`);

  // Floor: a node process that does nothing.
  const nodeFloor = stats(await repeat(RUNS, NODE, ['-e', '0'], mustSucceed('node -e 0')));

  // cli --help
  const helpCheck = (r: Exited) => {
    mustSucceed('cli --help')(r);
    if (!r.stdout.includes('Usage: orchestrator')) throw new Error(`cli --help printed no usage: ${r.stdout.slice(0, 500)}`);
  };
  const helpCompiled = stats(await repeat(RUNS, NODE, ['dist/client/cli.js', '--help'], helpCheck));
  const helpTsx = stats(await repeat(RUNS, TSX, ['client/cli.ts', '--help'], helpCheck));
  const helpNpm = stats(await repeat(Math.max(1, Math.ceil(RUNS / 2)), 'npm', ['run', '--silent', 'cli', '--', '--help'], helpCheck));

  console.log('\ncli --help');
  show('node -e 0 (floor)', nodeFloor);
  show('node dist/client/cli.js --help', helpCompiled);
  show('tsx client/cli.ts --help', helpTsx);
  show('npm run cli -- --help (npm + build check)', helpNpm);

  // Worker start: once cold (fresh database: migrations, routing-policy workflow), then warm.
  const cold = await workerStart(connection, ['dist/worker.js'], env);
  const warm: WorkerStart[] = [];
  for (let i = 0; i < RUNS; i++) warm.push(await workerStart(connection, ['dist/worker.js'], env));
  const warmTsx: WorkerStart[] = [];
  for (let i = 0; i < Math.max(1, Math.ceil(RUNS / 2)); i++) warmTsx.push(await workerStart(connection, ['--import', 'tsx', 'worker.ts'], env));
  const bundleStarted = performance.now();
  const silent = () => undefined;
  await bundleWorkflowCode({ workflowsPath: join(ROOT, 'workflows', 'index.ts'), logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: silent } });
  const bundleMs = performance.now() - bundleStarted;

  const warmPolling = stats(warm.map((w) => w.toPollingMs));
  const startedLogs = warm.map((w) => w.toStartedLogMs).filter((x): x is number => x !== null);
  const warmStartedLog = startedLogs.length > 0 ? stats(startedLogs) : null;
  const tsxPolling = stats(warmTsx.map((w) => w.toPollingMs));
  const stop = stats(warm.map((w) => w.stopMs));
  console.log('\nworker start (process start to first poll, as the server sees it)');
  console.log(`  cold (fresh database)                        to polling ${round(cold.toPollingMs)} ms, to "worker started" ${cold.toStartedLogMs === null ? '-' : round(cold.toStartedLogMs)} ms`);
  show('node dist/worker.js, warm: to polling', warmPolling);
  if (warmStartedLog) show('node dist/worker.js, warm: to "worker started"', warmStartedLog);
  show('node --import tsx worker.ts, warm: to polling', tsxPolling);
  show('SIGTERM to exit (idle worker)', stop);
  const all = [cold, ...warm, ...warmTsx];
  const bundled = all.filter((w) => w.usedPrebuiltBundle).length;
  const unclean = all.filter((w) => w.exitCode !== 0).length;
  console.log(`  ${bundled} of ${all.length} starts loaded the prebuilt bundle; ${unclean} of ${all.length} exited non-zero after SIGTERM`);
  console.log(`  bundleWorkflowCode (what a start without the prebuilt bundle adds): ${round(bundleMs)} ms`);

  // cli run end to end on the emulator, a compiled worker running.
  const stopWorker = await runningWorker(connection, quietEnv);
  const config = loadConfig(baseEnv.CONFIG_PATH);
  const client = await OrchestratorClient.connect({ env: loadEnv({ ...process.env, TEMPORAL_ADDRESS: baseEnv.TEMPORAL_ADDRESS }), config });
  let n = 0;
  const request = () => {
    return { prompt: `What is ${11 + n++} * 7?` }; // a new prompt each time: no cache hit
  };
  const warmup = request();
  await client.processRequest({ prompt: warmup.prompt, taskType: 'question_answering', userId: 'bench-startup' });
  const inProcess: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = request();
    const t = performance.now();
    const result = await client.processRequest({ prompt: r.prompt, taskType: 'question_answering', userId: 'bench-startup' });
    inProcess.push(performance.now() - t);
    if (result.response.trim() === '') throw new Error(`in-process request "${r.prompt}": empty response`);
  }
  const cliRun = async (command: string, args: string[], runs: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = request();
      const exited = await timed(command, [...args, 'run', '-p', r.prompt, '-t', 'question_answering', '-u', 'bench-startup', '--json'], quietEnv);
      mustSucceed('cli run')(exited);
      const parsed = JSON.parse(exited.stdout) as { response: string; metadata: { workflowId: string } };
      // The emulator's models are wrong on purpose now and then: an answer is what counts here, not its value.
      if (parsed.response.trim() === '' || !parsed.metadata.workflowId) throw new Error(`cli run "${r.prompt}": no answer in ${exited.stdout.slice(0, 500)}`);
      out.push(exited.ms);
    }
    return out;
  };
  const runCompiled = stats(await cliRun(NODE, ['dist/client/cli.js'], RUNS));
  const runTsx = stats(await cliRun(TSX, ['client/cli.ts'], Math.max(1, Math.ceil(RUNS / 2))));
  const runInProcess = stats(inProcess);
  await client.close();
  await stopWorker();
  await connection.close();
  rmSync(dir, { recursive: true, force: true });

  console.log('\ncli run (one request, emulator, a compiled worker running)');
  show('in-process client (no process start)', runInProcess);
  show('node dist/client/cli.js run --json', runCompiled);
  show('tsx client/cli.ts run --json', runTsx);

  const met = {
    workerStartToPolling: warmPolling.p50 < TARGETS.workerStartToPollingMs,
    cliHelp: helpCompiled.p50 < TARGETS.cliHelpMs,
    cliRun: runCompiled.p50 < TARGETS.cliRunMs,
  };
  console.log('\ntargets (p50 of the compiled programs)');
  console.log(`  worker start to polling < ${TARGETS.workerStartToPollingMs} ms: ${warmPolling.p50} ms, ${verdict(warmPolling.p50, TARGETS.workerStartToPollingMs)}`);
  console.log(`  cli --help < ${TARGETS.cliHelpMs} ms: ${helpCompiled.p50} ms, ${verdict(helpCompiled.p50, TARGETS.cliHelpMs)}`);
  console.log(`  cli run end to end < ${TARGETS.cliRunMs} ms: ${runCompiled.p50} ms, ${verdict(runCompiled.p50, TARGETS.cliRunMs)}`);

  console.log(
    JSON.stringify({
      bench: 'startup',
      runs: RUNS,
      build_if_needed_ms: round(build.ms),
      node_floor_ms: nodeFloor,
      cli_help_ms: { compiled: helpCompiled, tsx: helpTsx, npm_run: helpNpm },
      worker_start_ms: {
        cold_to_polling: round(cold.toPollingMs),
        cold_to_started_log: cold.toStartedLogMs === null ? null : round(cold.toStartedLogMs),
        warm_to_polling: warmPolling,
        warm_to_started_log: warmStartedLog,
        tsx_warm_to_polling: tsxPolling,
        sigterm_to_exit: stop,
        starts_using_prebuilt_bundle: bundled,
        starts: all.length,
        nonzero_exit_after_sigterm: unclean,
        bundle_workflow_code: round(bundleMs),
      },
      cli_run_ms: { compiled: runCompiled, tsx: runTsx, in_process: runInProcess },
      targets: {
        worker_start_to_polling_ms: { target: TARGETS.workerStartToPollingMs, value: warmPolling.p50, met: met.workerStartToPolling },
        cli_help_ms: { target: TARGETS.cliHelpMs, value: helpCompiled.p50, met: met.cliHelp },
        cli_run_ms: { target: TARGETS.cliRunMs, value: runCompiled.p50, met: met.cliRun },
      },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
