/**
 * Resilience under degraded providers (`npm run bench:resilience`).
 *
 * 500 consensus requests over three emulated providers, run twice on the same dev server and
 * worker setup: all healthy, then degraded (openai fails 30% of its calls with a 500, anthropic
 * answers at 5x the latency). Prints the success rate (target 100%), p50/p99 latency of each run,
 * and the provider calls each request made (attempts, and calls cancelled by early stop).
 * The default resilience settings of config.yaml apply (circuit breaker on, 5 failures in 60 s).
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import type { Config } from '../src/config/schema';
import { createPrismaClient } from '../src/memory/client';
import type { OrchestrateRequest } from '../src/types';
import { startBenchStack } from './harness';
import { percentile, round, runConcurrent } from './stats';

const REQUESTS = Number(process.env['BENCH_RESILIENCE_REQUESTS'] ?? 500);
const CONCURRENCY = Number(process.env['BENCH_RESILIENCE_CONCURRENCY'] ?? 10);
const LATENCY_MS = Number(process.env['BENCH_PROVIDER_LATENCY_MS'] ?? 100);
const FAILURE_RATE = 0.3;
const SLOWDOWN = 5;
const TARGET_SUCCESS = 1;

Runtime.install({ logger: new DefaultLogger('ERROR') });

function request(i: number, tag: string): OrchestrateRequest {
  return {
    prompt: `What is ${(i % 89) + 3} * ${(i % 17) + 5}? (${tag} ${i})`,
    taskType: 'benchmark',
    userId: 'bench',
    providers: ['openai', 'anthropic', 'google'],
    requireConsensus: true,
    minProviders: 2,
    requestId: `bench-res-${tag}-${i}-${Date.now().toString(36)}`,
  };
}

interface RunFigures {
  label: string;
  succeeded: number;
  failures: Record<string, number>;
  latencies: number[];
  attemptsPerRequest: number;
  callsPerRequest: number;
  cancelledPerRequest: number;
  circuitOpenSkips: number;
}

async function runScenario(label: string, config: Config, tag: string): Promise<RunFigures> {
  const stack = await startBenchStack(`resilience-${tag}`, () => config);
  const { client, worker, databaseUrl } = stack;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let succeeded = 0;
  await worker.runUntil(async () => {
    await runConcurrent(REQUESTS, CONCURRENCY, async (i) => {
      const started = performance.now();
      try {
        await client.processRequest(request(i, tag));
        succeeded += 1;
        latencies.push(performance.now() - started);
      } catch (err) {
        const name = err instanceof Error ? err.name : 'Error';
        failures[name] = (failures[name] ?? 0) + 1;
      }
    });
  });
  const db = createPrismaClient(databaseUrl);
  const calls = await db.providerCall.findMany({ select: { attempts: true, status: true, errorType: true } });
  await db.$disconnect();
  await stack.close();
  const per = (x: number) => round(x / REQUESTS, 2);
  return {
    label,
    succeeded,
    failures,
    latencies,
    attemptsPerRequest: per(calls.reduce((s, c) => s + (c.status === 'cancelled' ? 0 : c.attempts), 0)),
    callsPerRequest: per(calls.length),
    cancelledPerRequest: per(calls.filter((c) => c.status === 'cancelled').length),
    circuitOpenSkips: calls.filter((c) => c.errorType === 'CircuitOpen').length,
  };
}

function line(f: RunFigures): string {
  return (
    `  ${f.label.padEnd(9)} success ${f.succeeded}/${REQUESTS} (${round((100 * f.succeeded) / REQUESTS, 1)}%)  ` +
    `p50 ${round(percentile(f.latencies, 50))} ms  p99 ${round(percentile(f.latencies, 99))} ms  ` +
    `calls/request ${f.callsPerRequest} (attempts ${f.attemptsPerRequest}, cancelled by early stop ${f.cancelledPerRequest})` +
    (f.circuitOpenSkips > 0 ? `  circuit-open skips ${f.circuitOpenSkips}` : '') +
    (Object.keys(f.failures).length > 0 ? `  failures ${JSON.stringify(f.failures)}` : '')
  );
}

async function main(): Promise<void> {
  const base = loadConfig(loadEnv().CONFIG_PATH);
  const emulator = (models: Config['emulator']['models']): Config => ({ ...base, emulator: { ...base.emulator, mode: 'always', latency_ms: LATENCY_MS, models } });
  const healthyConfig = emulator({});
  const degradedConfig = emulator({
    'gpt-4o-mini': { latency_ms: LATENCY_MS, faults: [{ kind: 500, rate: FAILURE_RATE }] },
    'claude-haiku-4-5': { latency_ms: LATENCY_MS * SLOWDOWN, faults: [] },
  });

  console.log(`bench:resilience: ${REQUESTS} consensus requests (3 providers, 2 needed, early stop), ${CONCURRENCY} concurrent, provider latency ${LATENCY_MS} ms`);
  console.log(`degraded: openai fails ${FAILURE_RATE * 100}% of calls (HTTP 500, retried by Temporal), anthropic ${SLOWDOWN}x slower\n`);
  const healthy = await runScenario('healthy', healthyConfig, 'healthy');
  console.log(line(healthy));
  const degraded = await runScenario('degraded', degradedConfig, 'degraded');
  console.log(line(degraded));

  const successRate = degraded.succeeded / REQUESTS;
  const p50 = (f: RunFigures) => round(percentile(f.latencies, 50));
  const p99 = (f: RunFigures) => round(percentile(f.latencies, 99));
  const met = successRate >= TARGET_SUCCESS;
  console.log(`\nlatency degraded vs healthy: p50 x${round(p50(degraded) / p50(healthy), 2)}, p99 x${round(p99(degraded) / p99(healthy), 2)}`);
  console.log(met ? 'Target met: every request answered.' : `TARGET MISSED: success rate ${round(successRate * 100, 1)}% < 100%.`);
  console.log(
    JSON.stringify({
      bench: 'resilience',
      requests: REQUESTS,
      concurrency: CONCURRENCY,
      provider_latency_ms: LATENCY_MS,
      healthy: { success_rate: healthy.succeeded / REQUESTS, p50_ms: p50(healthy), p99_ms: p99(healthy), calls_per_request: healthy.callsPerRequest, attempts_per_request: healthy.attemptsPerRequest },
      degraded: {
        success_rate: successRate,
        p50_ms: p50(degraded),
        p99_ms: p99(degraded),
        calls_per_request: degraded.callsPerRequest,
        attempts_per_request: degraded.attemptsPerRequest,
        cancelled_per_request: degraded.cancelledPerRequest,
        circuit_open_skips: degraded.circuitOpenSkips,
        failures: degraded.failures,
      },
      targets: { success_rate: { target: TARGET_SUCCESS, value: successRate, met } },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
