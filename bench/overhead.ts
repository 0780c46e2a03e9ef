/**
 * Orchestration overhead against the platform's floor, in one run (`npm run bench:overhead`).
 *
 * On one dev server, one machine and one process (client, workers, gateways and the provider
 * emulator), at 1, 10 and 50 concurrent, level by level with every variant taking its turn:
 *
 *   (a) the floor: bare workflows that call three no-op activities of PROVIDER_LATENCY_MS in
 *       parallel (bench/floor-workflows.ts), as activities and as local activities, each started
 *       by a plain client and with eager workflow start (a Client on the worker's NativeConnection);
 *   (b) our request (three providers, consensus) through the client SDK, through the HTTP gateway
 *       with eager start (worker in the gateway's process), and through the gateway in local mode
 *       (`performance.provider_calls: local`);
 *   (c) the same three provider calls made directly through the connectors, against the same
 *       emulator at the same latency.
 *
 * Overhead = end to end minus the provider latency: for the floor and the direct calls minus the
 * fixed PROVIDER_LATENCY_MS; for our requests minus the slowest provider call of the request as the
 * workflow recorded it (the connector's HTTP round trip stays out; `vs fixed` prints the other
 * reading). Per request: workflow tasks, history events, activities and local activities (from the
 * histories of a sample), database statements (every statement the SQLite driver prepares, counted
 * by a wrapper of better-sqlite3), and CPU ms of this process (process.cpuUsage over the variant's
 * turns: client, worker and emulator together) and of the dev server (/proc, when found). Readable
 * figures, then one JSON line with every figure and the targets.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Client, type WorkflowClient } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import BetterSqlite3 from 'better-sqlite3';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import type { Config } from '../src/config/schema';
import { buildConnectors } from '../src/providers/registry';
import { dataConverterFor } from '../src/temporal/data-converter';
import type { OrchestrateRequest } from '../src/types';
import type { FloorActivities } from './floor-workflows';
import { startBenchGateway, startBenchStack, type BenchGateway } from './harness';
import { percentile, round } from './stats';

const PROVIDER_LATENCY_MS = Number(process.env['BENCH_PROVIDER_LATENCY_MS'] ?? 50);
const LEVELS = [1, 10, 50] as const;
/** Requests per variant at each level (BENCH_PER_LEVEL scales them). */
const SCALE = Number(process.env['BENCH_PER_LEVEL'] ?? 100) / 100;
const PER_LEVEL: Record<(typeof LEVELS)[number], number> = { 1: Math.max(10, Math.round(40 * SCALE)), 10: Math.max(20, Math.round(100 * SCALE)), 50: Math.max(50, Math.round(200 * SCALE)) };
const WARMUP = 10;
const HISTORY_SAMPLE = 5;
const ONLY = process.env['BENCH_VARIANTS']?.split(',').filter(Boolean);

Runtime.install({ logger: new DefaultLogger('ERROR') });

// ---------------------------------------------------------------------------------------------
// Counting database statements: every statement better-sqlite3 prepares or executes (Prisma's
// SQLite adapter prepares one per query, BEGIN/COMMIT included).

const statements = { count: 0 };
/** BENCH_SQL_PROFILE=1: time per statement text, printed at the end (to find what to cut). */
const SQL_PROFILE = process.env['BENCH_SQL_PROFILE'] === '1';
const sqlTimes = new Map<string, { n: number; ms: number }>();
function timeStatement(sql: string, stmt: Record<string, (...x: unknown[]) => unknown>): void {
  for (const method of ['all', 'run', 'get', 'iterate']) {
    const original = stmt[method];
    if (typeof original !== 'function') continue;
    stmt[method] = (...x: unknown[]) => {
      const t = performance.now();
      try {
        return original.apply(stmt, x);
      } finally {
        const e = sqlTimes.get(sql) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += performance.now() - t;
        sqlTimes.set(sql, e);
      }
    };
  }
}
{
  const proto = BetterSqlite3.prototype as unknown as { prepare: (...a: unknown[]) => unknown; exec: (...a: unknown[]) => unknown };
  const prepare = proto.prepare;
  const exec = proto.exec;
  proto.prepare = function (this: unknown, ...a: unknown[]) {
    statements.count++;
    const stmt = prepare.apply(this, a) as Record<string, (...x: unknown[]) => unknown>;
    if (SQL_PROFILE) timeStatement(String(a[0]), stmt);
    return stmt;
  };
  proto.exec = function (this: unknown, ...a: unknown[]) {
    statements.count++;
    return exec.apply(this, a);
  };
}

// ---------------------------------------------------------------------------------------------
// The dev server's CPU, from /proc (the process that listens on TEMPORAL_ADDRESS's port).

function pidListeningOn(port: number): number | null {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A' && cols[9]) inodes.add(cols[9]);
      }
    }
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m && inodes.has(m[1]!)) return Number(pid);
        } catch {
          // gone meanwhile
        }
      }
    }
  } catch {
    // no /proc
  }
  return null;
}

/** utime + stime of a process in ms (clock ticks of 10 ms), null when unreadable. */
function processCpuMs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Variants

type Level = (typeof LEVELS)[number];

interface Sample {
  total: number;
  /** End to end minus the provider latency (see the header). */
  overhead: number;
  /** Ours: end to end minus the fixed provider latency (the floor's reading). */
  fixed?: number;
  workflowId: string | null;
}

interface Variant {
  name: string;
  label: string;
  /** One request; `n` is unique over the whole run. */
  once(n: number): Promise<Sample>;
  /** For the histories: the client that can read this variant's workflows. */
  workflow: WorkflowClient | null;
}

interface Turn {
  samples: Sample[];
  wallMs: number;
}

interface Totals {
  requests: number;
  cpuMs: number;
  serverCpuMs: number | null;
  statements: number;
}

/** Run `n` requests at `concurrency`; each request's figures and the wall time. */
async function runLevel(v: Variant, n: number, concurrency: number, counter: { n: number }): Promise<Turn> {
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        samples.push(await v.once(counter.n++));
      }
    }),
  );
  return { samples, wallMs: performance.now() - started };
}

function request(n: number, tag: string): OrchestrateRequest {
  return {
    // Unique per request: no response-cache hits.
    prompt: `What is ${(n % 97) + 3} * ${(n % 13) + 7}? (${tag} ${n})`,
    taskType: 'benchmark',
    userId: 'bench',
    providers: ['openai', 'anthropic', 'google'],
    requireConsensus: true,
    minProviders: 3,
    requestId: `bench-${tag}-${n}-${Date.now().toString(36)}`,
  };
}

interface HistoryCounts {
  workflowTasks: number;
  events: number;
  activities: number;
  localActivities: number;
}

async function historyCounts(client: WorkflowClient, ids: string[]): Promise<HistoryCounts | null> {
  if (ids.length === 0) return null;
  const sum: HistoryCounts = { workflowTasks: 0, events: 0, activities: 0, localActivities: 0 };
  for (const id of ids) {
    const history = await client.getHandle(id).fetchHistory();
    for (const e of history.events ?? []) {
      sum.events++;
      if (e.workflowTaskCompletedEventAttributes) sum.workflowTasks++;
      if (e.activityTaskScheduledEventAttributes) sum.activities++;
      if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') sum.localActivities++;
    }
  }
  const per = (x: number) => round(x / ids.length, 1);
  return { workflowTasks: per(sum.workflowTasks), events: per(sum.events), activities: per(sum.activities), localActivities: per(sum.localActivities) };
}

const stats = (xs: number[]) => ({ p50: round(percentile(xs, 50)), p95: round(percentile(xs, 95)), p99: round(percentile(xs, 99)) });

async function main(): Promise<void> {
  const processEnv = loadEnv(process.env);
  const base = loadConfig(processEnv.CONFIG_PATH);
  const config: Config = { ...base, emulator: { ...base.emulator, mode: 'always' as const, latency_ms: PROVIDER_LATENCY_MS } };
  // The deployed data converter (payload encryption on unless PAYLOAD_ENCRYPTION=off), as the gateways' workers use.
  const dataConverter: DataConverter = dataConverterFor(processEnv);

  const stack = await startBenchStack('overhead', () => config, { dataConverter });
  const { runtime, client, worker, native, taskQueue } = stack;
  const { connectors } = buildConnectors({ config, env: {}, emulatorUrl: runtime.emulatorUrl! });
  const temporalPort = Number(stack.env.TEMPORAL_ADDRESS.split(':').pop());
  const serverPid = pidListeningOn(temporalPort);

  // The floor's worker: same server, same connection, same data converter and limits as ours.
  const floorQueue = `${taskQueue}-floor`;
  const floorActivities: FloorActivities = { benchSleep: (ms) => new Promise((resolve) => setTimeout(() => resolve('ok'), ms)) };
  const floorWorker = await Worker.create({
    connection: native,
    taskQueue: floorQueue,
    dataConverter,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./floor-workflows'), ...(dataConverter.failureConverterPath && { failureConverterPath: dataConverter.failureConverterPath }), logger: new DefaultLogger('ERROR') }),
    activities: floorActivities,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskExecutions: 300,
    maxConcurrentLocalActivityExecutions: 100,
  });
  // Eager start needs a client on the worker's own connection (a plain Connection client is refused).
  const eagerClient = new Client({ connection: native, namespace: stack.env.TEMPORAL_NAMESPACE, dataConverter });
  const plainClient = client.client;

  const floor = (name: string, label: string, workflowType: 'benchFloorActivities' | 'benchFloorLocalActivities', eager: boolean): Variant => {
    const c = eager ? eagerClient : plainClient;
    return {
      name,
      label,
      workflow: c.workflow,
      async once(n) {
        const workflowId = `${floorQueue}-${name}-${n}`;
        const started = performance.now();
        await c.workflow.execute(workflowType, { taskQueue: floorQueue, workflowId, args: [PROVIDER_LATENCY_MS], ...(eager && { requestEagerStart: true }) });
        const total = performance.now() - started;
        return { total, overhead: total - PROVIDER_LATENCY_MS, workflowId };
      },
    };
  };

  const ours = (name: string, label: string, ask: (n: number) => Promise<{ total: number; workflowId: string; slowest: number }>, workflow: WorkflowClient): Variant => ({
    name,
    label,
    workflow,
    async once(n) {
      const r = await ask(n);
      return { total: r.total, overhead: r.total - r.slowest, fixed: r.total - PROVIDER_LATENCY_MS, workflowId: r.workflowId };
    },
  });

  const clientVariant = ours(
    'client',
    'our request, client SDK',
    async (n) => {
      const started = performance.now();
      const result = await client.processRequest(request(n, 'client'));
      const total = performance.now() - started;
      if (result.metadata.cacheHit) throw new Error('a bench request was answered from the cache');
      return { total, workflowId: result.metadata.workflowId, slowest: Math.max(...result.metadata.providers.map((p) => p.latencyMs)) };
    },
    plainClient.workflow,
  );

  const direct: Variant = {
    name: 'direct',
    label: 'three provider calls, direct',
    workflow: null,
    async once(n) {
      const prompt = request(n, 'direct').prompt ?? '';
      const started = performance.now();
      await Promise.all([...connectors.values()].map((c) => c.generate({ model: c.getSupportedModels()[0]!, prompt })));
      const total = performance.now() - started;
      return { total, overhead: total - PROVIDER_LATENCY_MS, workflowId: null };
    },
  };

  const gateways: BenchGateway[] = [];
  const gatewayVariant = async (name: string, label: string, mode: 'activity' | 'local'): Promise<Variant> => {
    const gatewayConfig = { ...config, performance: { ...config.performance, provider_calls: mode } };
    const bench = await startBenchGateway({ tag: `overhead-${name}`, taskQueue: `${taskQueue}-gw-${name}`, config: gatewayConfig, eagerStart: true });
    gateways.push(bench);
    const { key, url, gateway } = bench;
    return ours(
      name,
      label,
      async (n) => {
        const started = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({
            model: 'auto',
            messages: [{ role: 'user', content: request(n, name).prompt }],
            orchestration: { require_consensus: true, min_providers: 3, task_type: 'benchmark' },
          }),
        });
        const body = (await res.json()) as { orchestration?: { workflow_id: string; cache_hit: boolean } };
        const total = performance.now() - started;
        if (res.status !== 200 || !body.orchestration) throw new Error(`gateway answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
        if (body.orchestration.cache_hit) throw new Error('a bench request was answered from the cache');
        // The provider calls' latencies, read after the clock stopped (a completed workflow's result).
        const result = await gateway.orchestrator.getResult(body.orchestration.workflow_id);
        return { total, workflowId: body.orchestration.workflow_id, slowest: Math.max(...result.metadata.providers.map((p) => p.latencyMs)) };
      },
      gateway.orchestrator.client.workflow,
    );
  };

  const wanted = (name: string) => !ONLY || ONLY.includes(name);
  const variants: Variant[] = [
    floor('floor_activities', 'floor: 3 activities', 'benchFloorActivities', false),
    floor('floor_activities_eager', 'floor: 3 activities, eager start', 'benchFloorActivities', true),
    floor('floor_local', 'floor: 3 local activities', 'benchFloorLocalActivities', false),
    floor('floor_local_eager', 'floor: 3 local activities, eager start', 'benchFloorLocalActivities', true),
    clientVariant,
  ].filter((v) => wanted(v.name));
  if (wanted('gateway_eager')) variants.push(await gatewayVariant('gateway_eager', 'our request, gateway, eager start', 'activity'));
  if (wanted('gateway_local')) variants.push(await gatewayVariant('gateway_local', 'our request, gateway, eager, local mode', 'local'));
  if (wanted('direct')) variants.push(direct);

  const turns: Record<string, Partial<Record<Level, Turn>>> = {};
  const histories: Record<string, HistoryCounts | null> = {};
  const totals: Record<string, Totals> = {};
  const counter = { n: 0 };

  try {
    await floorWorker.runUntil(() =>
      worker.runUntil(async () => {
        for (const v of variants) for (let i = 0; i < WARMUP; i++) await v.once(counter.n++);
        for (let i = 0; i < 20; i++) await direct.once(counter.n++);
        console.log(
          `Provider latency fixed at ${PROVIDER_LATENCY_MS} ms (emulator); our request asks 3 providers (consensus); SQLite; client, workers, gateways and emulator in this process (pid ${process.pid}); dev server pid ${serverPid ?? 'not found'}.`,
        );
        console.log(`Requests per variant: ${LEVELS.map((c) => `${PER_LEVEL[c]} at ${c}`).join(', ')}; each level runs every variant in turn.\n`);
        for (const c of LEVELS) {
          for (const v of variants) {
            const cpu0 = process.cpuUsage();
            const server0 = processCpuMs(serverPid);
            const st0 = statements.count;
            const turn = await runLevel(v, PER_LEVEL[c], c, counter);
            const cpu = process.cpuUsage(cpu0);
            const server1 = processCpuMs(serverPid);
            const t = (totals[v.name] ??= { requests: 0, cpuMs: 0, serverCpuMs: serverPid === null ? null : 0, statements: 0 });
            t.requests += turn.samples.length;
            t.cpuMs += (cpu.user + cpu.system) / 1000;
            if (t.serverCpuMs !== null && server0 !== null && server1 !== null) t.serverCpuMs += server1 - server0;
            t.statements += statements.count - st0;
            (turns[v.name] ??= {})[c] = turn;
            const o = stats(turn.samples.map((s) => s.overhead));
            console.log(`  ${String(c).padStart(2)} concurrent  ${v.label.padEnd(42)} overhead p50 ${String(o.p50).padStart(6)}  p95 ${String(o.p95).padStart(6)}  p99 ${String(o.p99).padStart(6)} ms   ${String(round((turn.samples.length / turn.wallMs) * 1000)).padStart(6)} req/s`);
          }
        }
        // Histories of a sample of each variant's sequential requests (while every connection is open).
        for (const v of variants) {
          const ids = (turns[v.name]?.[1]?.samples ?? []).map((s) => s.workflowId).filter((x): x is string => x !== null).slice(0, HISTORY_SAMPLE);
          histories[v.name] = v.workflow ? await historyCounts(v.workflow, ids) : null;
        }
      }),
    );
  } finally {
    for (const g of gateways) await g.close().catch(() => undefined);
  }

  const report: Record<string, unknown> = {};
  for (const v of variants) {
    const t = totals[v.name]!;
    const levels: Record<string, unknown> = {};
    for (const c of LEVELS) {
      const turn = turns[v.name]?.[c];
      if (!turn) continue;
      const fixed = turn.samples.flatMap((s) => (s.fixed === undefined ? [] : [s.fixed]));
      levels[`c${c}`] = {
        overhead_ms: stats(turn.samples.map((s) => s.overhead)),
        ...(fixed.length > 0 && { overhead_vs_fixed_latency_p50_ms: round(percentile(fixed, 50)) }),
        e2e_p50_ms: round(percentile(turn.samples.map((s) => s.total), 50)),
        throughput_rps: round((turn.samples.length / turn.wallMs) * 1000),
      };
    }
    report[v.name] = {
      ...levels,
      per_request: {
        ...(histories[v.name] && { workflow_tasks: histories[v.name]!.workflowTasks, history_events: histories[v.name]!.events, activities: histories[v.name]!.activities, local_activities: histories[v.name]!.localActivities }),
        db_statements: round(t.statements / t.requests, 1),
        cpu_ms_process: round(t.cpuMs / t.requests, 1),
        cpu_ms_dev_server: t.serverCpuMs === null ? null : round(t.serverCpuMs / t.requests, 1),
      },
    };
  }

  const fig = (name: string, c: Level, what: 'p50' | 'rps'): number | null => {
    const turn = turns[name]?.[c];
    if (!turn) return null;
    return what === 'rps' ? round((turn.samples.length / turn.wallMs) * 1000) : round(percentile(turn.samples.map((s) => s.overhead), 50));
  };
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : round(a / b, 2));
  const cpu = (name: string) => (totals[name] ? totals[name].cpuMs / totals[name].requests : null);

  console.log('\nPer request (histories of a sample; statements and CPU over every turn of the variant):');
  for (const v of variants) {
    const p = (report[v.name] as { per_request: Record<string, number | null | undefined> }).per_request;
    console.log(
      `  ${v.label.padEnd(42)} ${p['workflow_tasks'] ?? '-'} workflow tasks, ${p['history_events'] ?? '-'} events, ${p['activities'] ?? '-'} activities, ${p['local_activities'] ?? '-'} local activities, ${p['db_statements']} DB statements, ${p['cpu_ms_process']} ms CPU here, ${p['cpu_ms_dev_server'] ?? '-'} ms CPU in the dev server`,
    );
  }

  console.log('\nRatios to the floor (same run):');
  const pairs: [string, string][] = [
    ['client', 'floor_activities'],
    ['gateway_eager', 'floor_activities_eager'],
    ['gateway_local', 'floor_local_eager'],
  ];
  const ratios: Record<string, unknown> = {};
  for (const [ours_, floor_] of pairs) {
    if (!totals[ours_] || !totals[floor_]) continue;
    const r = {
      floor: floor_,
      overhead_p50_c1: ratio(fig(ours_, 1, 'p50'), fig(floor_, 1, 'p50')),
      overhead_p50_c10: ratio(fig(ours_, 10, 'p50'), fig(floor_, 10, 'p50')),
      throughput_c10: ratio(fig(ours_, 10, 'rps'), fig(floor_, 10, 'rps')),
      throughput_c50: ratio(fig(ours_, 50, 'rps'), fig(floor_, 50, 'rps')),
      cpu_per_request: ratio(cpu(ours_), cpu(floor_)),
      cpu_per_request_without_direct_calls: ratio(cpu(ours_) !== null && cpu('direct') !== null ? cpu(ours_)! - cpu('direct')! : null, cpu(floor_)),
    };
    ratios[ours_] = r;
    console.log(
      `  ${ours_.padEnd(14)} vs ${floor_.padEnd(22)} overhead p50 x${r.overhead_p50_c1} (at 10: x${r.overhead_p50_c10}); throughput at 10 x${r.throughput_c10}, at 50 x${r.throughput_c50}; CPU per request x${r.cpu_per_request} (x${r.cpu_per_request_without_direct_calls} without the direct calls' own CPU)`,
    );
  }

  // Targets (issue 15).
  const target = (value: number | null, limit: number, cmp: '<=' | '>=') => ({ value, target: limit, met: value === null ? null : cmp === '<=' ? value <= limit : value >= limit });
  const eagerFloor = fig('floor_activities_eager', 1, 'p50');
  const cpuWithout = cpu('client') !== null && cpu('direct') !== null ? cpu('client')! - cpu('direct')! : null;
  const floorCpu = cpu('floor_activities');
  const targets = {
    client_overhead_p50_vs_floor: target(ratio(fig('client', 1, 'p50'), fig('floor_activities', 1, 'p50')), 1.1, '<='),
    client_throughput_c50_vs_floor: target(ratio(fig('client', 50, 'rps'), fig('floor_activities', 50, 'rps')), 0.8, '>='),
    gateway_eager_overhead_p50_ms: target(fig('gateway_eager', 1, 'p50'), eagerFloor === null ? Number.NaN : round(eagerFloor + 10), '<='),
    gateway_local_overhead_p50_ms: target(fig('gateway_local', 1, 'p50'), 35, '<='),
    client_cpu_per_request_vs_floor: target(ratio(cpuWithout, floorCpu), 2, '<='),
  };
  console.log('\nTargets:');
  for (const [name, t] of Object.entries(targets)) console.log(`  ${name.padEnd(32)} ${String(t.value).padStart(7)} ${name.endsWith('c50_vs_floor') ? '>=' : '<='} ${t.target}: ${t.met === null ? 'not measured' : t.met ? 'MET' : 'MISSED'}`);
  console.log('  (CPU: this process per request of our client path minus the direct calls\' (emulator and connectors), against the three-activity floor\'s.)');

  if (SQL_PROFILE) {
    console.log('\nSQL by total time (BENCH_SQL_PROFILE=1):');
    for (const [sql, e] of [...sqlTimes].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`  ${round(e.ms).toString().padStart(8)} ms ${String(e.n).padStart(6)}x  ${sql.replace(/\s+/g, ' ').slice(0, 220)}`);
  }
  await stack.close();

  console.log(
    JSON.stringify({
      bench: 'overhead',
      provider_latency_ms: PROVIDER_LATENCY_MS,
      requests_per_level: PER_LEVEL,
      variants: report,
      ratios,
      targets,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench:overhead failed:', err);
    process.exit(1);
  },
);
