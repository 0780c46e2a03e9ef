/**
 * Scale-out on this machine (`npm run bench:scale`, the same as `npm run bench:chaos -- --scale`):
 * throughput of 1, 2, ... N worker processes in one run, on the same stack as the chaos soak (a
 * dev server and a PostgreSQL of its own, the emulator in this process, no faults), closed loop at
 * a fixed concurrency. Beside each step: the CPU the machine spent (all processes, /proc/stat), the
 * workers', the dev server's and this process's (client and emulator), so the bound is visible.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { OrchestratorClient } from '../client/orchestrator-client';
import { loadEnv } from '../src/config/env';
import { TASK_QUEUE } from '../src/constants';
import { startEmulator, type RunningEmulator } from '../src/emulator/server';
import { applyMigrations } from '../src/memory/migrate';
import { dataConverterFor } from '../src/temporal/data-converter';
import { DEFAULT_SOAK_OPTIONS, DevServer, freePort, OwnPostgres, soakConfig, soakRequest, temporalCli, OwnedProcesses, ownedDir, workerEnvironment, WorkerSlot } from './chaos-soak';
import { percentile, round } from './stats';

export interface ScaleOptions {
  seconds: number;
  concurrency: number;
  maxWorkers: number;
  log: (line: string) => void;
}

export interface ScaleStep {
  workers: number;
  completed: number;
  failed: number;
  reqPerS: number;
  ratioToOne: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of the machine's CPU time that was busy (all processes, every core). */
  machineBusy: number;
  /** CPU seconds per second (1 = one core) of: the workers together, the dev server, this process. */
  workersCores: number;
  devServerCores: number;
  clientCores: number;
  /** Worker CPU milliseconds per completed request. */
  workerCpuMsPerRequest: number;
}

export interface ScaleResult {
  cores: number;
  concurrency: number;
  seconds: number;
  steps: ScaleStep[];
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** utime + stime of a process, in seconds (0 when it is gone). */
function processCpuS(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const { log } = options;
  const tag = Date.now().toString(36) + randomBytes(2).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'orch-scale-'));
  const owned = new OwnedProcesses();
  owned.add(ownedDir(dir));
  let emulator: RunningEmulator | null = null;
  let connection: Connection | null = null;
  try {
    const pg = new OwnPostgres(await freePort(), join(process.getuid?.() === 0 ? '/var/tmp' : dir, `orch-scale-pg-${tag}`));
    owned.add(pg);
    const databaseUrl = await pg.start();
    await applyMigrations(databaseUrl);
    const temporal = new DevServer(await temporalCli(), await freePort(), join(dir, 'temporal.db'), join(dir, 'temporal.log'));
    owned.add(temporal);
    await temporal.start();
    const config = soakConfig(DEFAULT_SOAK_OPTIONS);
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, stringify(config));
    emulator = await startEmulator({ port: 0, settings: config.emulator });
    const payloadKeys = `scale:${randomBytes(32).toString('base64')}`;
    const env = workerEnvironment({ temporalAddress: temporal.address, databaseUrl, configPath, emulatorUrl: emulator.url, payloadKeys });
    const slots = Array.from({ length: options.maxWorkers }, (_, i) => new WorkerSlot(i, env));
    slots.forEach((slot) => owned.add(slot));
    connection = await Connection.connect({ address: temporal.address });
    const clientEnv = loadEnv({ TEMPORAL_ADDRESS: temporal.address, PAYLOAD_KEYS: payloadKeys });
    const client = new OrchestratorClient({ client: new Client({ connection, dataConverter: dataConverterFor(clientEnv) }), config, env: clientEnv, taskQueue: TASK_QUEUE });

    let n = 0;
    const closedLoop = async (ms: number) => {
      const latencies: number[] = [];
      let failed = 0;
      const stopAt = Date.now() + ms;
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (Date.now() < stopAt) {
            const t0 = performance.now();
            await client.processRequest(soakRequest(tag, n++)).then(
              () => latencies.push(performance.now() - t0),
              () => failed++,
            );
          }
        }),
      );
      return { latencies, failed };
    };

    const steps: ScaleStep[] = [];
    for (let k = 1; k <= options.maxWorkers; k++) {
      await slots[k - 1]!.start();
      log(`${k} worker process(es): warm-up 5 s, then ${options.seconds} s closed loop at ${options.concurrency} concurrent`);
      await closedLoop(5_000);
      const m0 = machineTicks();
      const w0 = slots.slice(0, k).reduce((s, w) => s + processCpuS(w.child?.pid), 0);
      const d0 = processCpuS(temporal.pid);
      const c0 = process.cpuUsage();
      const t0 = Date.now();
      const { latencies, failed } = await closedLoop(options.seconds * 1000);
      const elapsedS = (Date.now() - t0) / 1000;
      const m1 = machineTicks();
      const workerCpu = slots.slice(0, k).reduce((s, w) => s + processCpuS(w.child?.pid), 0) - w0;
      const c1 = process.cpuUsage(c0);
      const reqPerS = latencies.length / elapsedS;
      steps.push({
        workers: k,
        completed: latencies.length,
        failed,
        reqPerS: round(reqPerS, 2),
        ratioToOne: steps[0] ? round(reqPerS / steps[0].reqPerS, 2) : 1,
        p50Ms: round(percentile(latencies, 50), 0),
        p99Ms: round(percentile(latencies, 99), 0),
        machineBusy: round((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total), 2),
        workersCores: round(workerCpu / elapsedS, 2),
        devServerCores: round((processCpuS(temporal.pid) - d0) / elapsedS, 2),
        clientCores: round((c1.user + c1.system) / 1e6 / elapsedS, 2),
        workerCpuMsPerRequest: latencies.length > 0 ? round((workerCpu * 1000) / latencies.length, 0) : 0,
      });
      log(`  ${steps.at(-1)!.reqPerS} req/s (x${steps.at(-1)!.ratioToOne}), machine busy ${Math.round(steps.at(-1)!.machineBusy * 100)}%`);
    }
    return { cores: cpus().length, concurrency: options.concurrency, seconds: options.seconds, steps };
  } finally {
    await connection?.close().catch(() => undefined);
    await owned.stopAll();
    await emulator?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatScale(r: ScaleResult): string {
  const head = `scale-out: closed loop at ${r.concurrency} concurrent, ${r.seconds} s per step, ${r.cores} cores (shared with whatever else runs)`;
  const rows = r.steps.map(
    (s) =>
      `  ${s.workers} worker(s): ${s.reqPerS} req/s (x${s.ratioToOne} of one), p50 ${s.p50Ms} ms p99 ${s.p99Ms} ms, failed ${s.failed}; ` +
      `machine busy ${Math.round(s.machineBusy * 100)}%, CPU cores used: workers ${s.workersCores}, dev server ${s.devServerCores}, client+emulator ${s.clientCores}; worker CPU ${s.workerCpuMsPerRequest} ms/request`,
  );
  return [head, ...rows].join('\n');
}
