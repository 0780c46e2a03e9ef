/**
 * Chaos soak (`npm run bench:chaos`; `-- --minutes 3`, `--mode local`, `--workers 3`, `--rate 4`).
 *
 * Three worker processes on a PostgreSQL of the soak's own, a Temporal dev server of its own (state
 * on disk), the emulator injecting 10% errors and 1% hangs; load at 50% of the capacity measured
 * first; every 30 s a random worker SIGKILLed and restarted; the dev server restarted once (at 40%
 * of the run) and PostgreSQL stopped for 10 s once (at 70%). Prints the figures (bench/chaos-soak.ts
 * formatReport) and one JSON line with figures, targets and misses. Exit 0 unless the soak itself
 * could not run: misses are reported, not thrown.
 *
 * `--scale`: instead of the soak, throughput of 1, 2 and 3 worker processes in one run (closed loop,
 * no faults, same dev server, database and emulator settings), and the ratios to one worker.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SOAK_OPTIONS, formatReport, runSoak, type ProviderCallMode } from './chaos-soak';
import { runScale, formatScale } from './chaos-scale';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    workers: { type: 'string', default: String(DEFAULT_SOAK_OPTIONS.workers) },
    mode: { type: 'string', default: DEFAULT_SOAK_OPTIONS.mode },
    rate: { type: 'string' },
    'capacity-seconds': { type: 'string', default: String(DEFAULT_SOAK_OPTIONS.capacityMs / 1000) },
    'kill-every': { type: 'string', default: String(DEFAULT_SOAK_OPTIONS.killEveryMs / 1000) },
    scale: { type: 'boolean', default: false },
    'scale-seconds': { type: 'string', default: '45' },
    concurrency: { type: 'string', default: String(DEFAULT_SOAK_OPTIONS.capacityConcurrency) },
  },
});

function num(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    console.error(`bench:chaos: --${name} must be a number >= ${min} (got "${value}")`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const log = (line: string) => console.log(line);
  if (values.scale) {
    const result = await runScale({ seconds: num('scale-seconds', values['scale-seconds'], 5), concurrency: num('concurrency', values.concurrency, 1), maxWorkers: num('workers', values.workers, 1), log });
    console.log(formatScale(result));
    console.log(JSON.stringify({ bench: 'chaos-scale', ...result }));
    return;
  }
  const mode = values.mode as ProviderCallMode;
  if (mode !== 'activity' && mode !== 'local') {
    console.error(`bench:chaos: --mode must be activity or local (got "${values.mode}")`);
    process.exit(2);
  }
  const minutes = num('minutes', values.minutes, 0.5);
  const durationMs = minutes * 60_000;
  const report = await runSoak({
    ...DEFAULT_SOAK_OPTIONS,
    durationMs,
    workers: num('workers', values.workers, 1),
    mode,
    rate: values.rate === undefined ? null : num('rate', values.rate, 0.05),
    capacityMs: num('capacity-seconds', values['capacity-seconds'], 5) * 1000,
    capacityConcurrency: num('concurrency', values.concurrency, 1),
    killEveryMs: num('kill-every', values['kill-every'], 0) * 1000,
    temporalRestartAtMs: Math.round(durationMs * 0.4),
    postgresStopAtMs: Math.round(durationMs * 0.7),
    drainMs: Math.max(60_000, DEFAULT_SOAK_OPTIONS.drainMs),
    log,
  });
  console.log(formatReport(report));
  const { faults, ...figures } = report;
  console.log(JSON.stringify({ bench: 'chaos', ...figures, faults: { workerKills: faults.workerKills, temporalRestarts: faults.temporalRestarts, postgresStops: faults.postgresStops } }));
}

// Ctrl-C or a kill: exit through process.exit, so the soak's exit handler ends every process it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
