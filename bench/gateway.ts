/**
 * Gateway overhead (`npm run bench:gateway`): the HTTP gateway end to end (auth, validation, the
 * request workflow, the answer in OpenAI's shape) minus the slowest provider call of the request,
 * with eager workflow start on and off (two gateways in one process, requests alternating), beside a bare workflow that calls three no-op activities
 * on the same server in the same run (also started with and without eager start); and the time to
 * the first token of a streamed single-provider answer. Each request asks three providers
 * (consensus) of the emulator, which answers after a fixed latency. Sequential requests; server,
 * worker, emulator and load generator share this machine's cores, so the figures are for this
 * machine only. Readable figures, then one JSON line.
 */
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import OpenAI from 'openai';
import { loadEnv } from '../src/config/env';
import { loadConfig } from '../src/config/load';
import { startBenchGateway } from './harness';
import { percentile, round } from './stats';
import { dataConverterFor } from '../src/temporal/data-converter';

const PROVIDER_LATENCY_MS = Number(process.env['BENCH_PROVIDER_LATENCY_MS'] ?? 50);
const N = Number(process.env['BENCH_GATEWAY_REQUESTS'] ?? 100);
const WARMUP = 10;

Runtime.install({ logger: new DefaultLogger('ERROR') });

interface Summary {
  p50: number;
  p99: number;
}
const summary = (xs: number[]): Summary => ({ p50: round(percentile(xs, 50)), p99: round(percentile(xs, 99)) });

interface Variant {
  ask(i: number, phase: string): Promise<{ total: number; overhead: number }>;
  /** Time to the first content chunk and to the end of a single-provider stream. */
  streamOnce(i: number): Promise<{ first: number | null; total: number }>;
  close(): Promise<void>;
}

async function startVariant(eager: boolean, tag: string): Promise<Variant> {
  const base = loadConfig(loadEnv().CONFIG_PATH);
  const config = { ...base, emulator: { ...base.emulator, mode: 'always' as const, latency_ms: PROVIDER_LATENCY_MS } };
  const taskQueue = `bench-gateway-${tag}-${Date.now().toString(36)}`;
  const bench = await startBenchGateway({ tag: `gateway-${tag}`, taskQueue, config, eagerStart: eager });
  const { gateway, key, url } = bench;
  const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });
  return {
    async ask(i, phase) {
      const started = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'auto',
          messages: [{ role: 'user', content: `What is ${(i % 97) + 3} * ${(i % 13) + 7}? (${tag} ${phase} ${i})` }],
          orchestration: { require_consensus: true, min_providers: 3, task_type: 'benchmark' },
        }),
      });
      const body = (await res.json()) as { orchestration?: { workflow_id: string } };
      const total = performance.now() - started;
      if (res.status !== 200 || !body.orchestration) throw new Error(`gateway answered ${res.status}: ${JSON.stringify(body)}`);
      const result = await gateway.orchestrator.getResult(body.orchestration.workflow_id);
      const slowest = Math.max(...result.metadata.providers.map((p) => p.latencyMs));
      return { total, overhead: total - slowest };
    },
    async streamOnce(i) {
      // A single-provider stream, forwarded live from the in-process stream bus.
      const started = performance.now();
      const stream = await openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: `Describe the number ${i} in a few words. (${tag} stream)` }], stream: true });
      let first: number | null = null;
      for await (const chunk of stream) if (first === null && chunk.choices[0]?.delta.content) first = performance.now() - started;
      return { first, total: performance.now() - started };
    },
    async close() {
      await bench.close();
    },
  };
}

/** Both variants run at once, their requests alternating, so neither gets the quieter half of the run. */
async function measureGateways() {
  const variants = { eager_on: await startVariant(true, 'eager'), eager_off: await startVariant(false, 'plain') };
  try {
    const out = { eager_on: { overhead: [] as number[], e2e: [] as number[], ttft: [] as number[], stream: [] as number[] }, eager_off: { overhead: [] as number[], e2e: [] as number[], ttft: [] as number[], stream: [] as number[] } };
    for (let i = 0; i < WARMUP; i++) for (const v of Object.values(variants)) await v.ask(i, 'warm');
    for (let i = 0; i < N; i++) {
      for (const [name, v] of Object.entries(variants) as [keyof typeof variants, Variant][]) {
        const r = await v.ask(i, 'seq');
        out[name].overhead.push(r.overhead);
        out[name].e2e.push(r.total);
      }
    }
    for (let i = 0; i < Math.min(N, 50) + WARMUP; i++) {
      for (const [name, v] of Object.entries(variants) as [keyof typeof variants, Variant][]) {
        const r = await v.streamOnce(i);
        if (i >= WARMUP && r.first !== null) {
          out[name].ttft.push(r.first);
          out[name].stream.push(r.total);
        }
      }
    }
    const sum = (x: (typeof out)['eager_on']) => ({ overhead: summary(x.overhead), e2e: summary(x.e2e), ttft: summary(x.ttft), streamTotal: summary(x.stream) });
    return { eagerOn: sum(out.eager_on), eagerOff: sum(out.eager_off) };
  } finally {
    for (const v of Object.values(variants)) await v.close();
  }
}

async function measureFloor() {
  const env = loadEnv(process.env);
  const native = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  const taskQueue = `bench-gateway-floor-${Date.now().toString(36)}`;
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./gateway-floor-workflow'), logger: new DefaultLogger('ERROR') }),
    dataConverter: dataConverterFor(env),
    activities: { benchNoopActivity: () => Promise.resolve('ok') },
  });
  // On the worker's connection, so eager start is possible, as in the gateway.
  const client = new Client({ connection: native, namespace: env.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(env) });
  try {
    return await worker.runUntil(async () => {
      const once = async (i: number, eager: boolean) => {
        const started = performance.now();
        await client.workflow.execute('benchThreeNoopActivities', { taskQueue, workflowId: `${taskQueue}-${eager ? 'eager' : 'plain'}-${i}`, args: [], ...(eager && { requestEagerStart: true }) });
        return performance.now() - started;
      };
      const out: Record<'eager' | 'plain', Summary> = { eager: { p50: 0, p99: 0 }, plain: { p50: 0, p99: 0 } };
      for (let i = 0; i < WARMUP; i++) for (const eager of [true, false]) await once(-1 - i, eager);
      const xs: Record<'eager' | 'plain', number[]> = { eager: [], plain: [] };
      for (let i = 0; i < N; i++) for (const eager of [true, false]) xs[eager ? 'eager' : 'plain'].push(await once(i, eager));
      out.eager = summary(xs.eager);
      out.plain = summary(xs.plain);
      return out;
    });
  } finally {
    await native.close();
  }
}

async function main(): Promise<void> {
  console.log(`Gateway overhead: ${N} sequential requests per variant, 3 providers per request (consensus), provider latency ${PROVIDER_LATENCY_MS} ms (emulator), SQLite, worker in the gateway's process.`);
  const floor = await measureFloor();
  const { eagerOn, eagerOff } = await measureGateways();
  const line = (name: string, s: Summary) => `  ${name.padEnd(52)} p50 ${String(s.p50).padStart(6)} ms   p99 ${String(s.p99).padStart(6)} ms`;
  console.log('\nOverhead (end to end minus the slowest provider call):');
  console.log(line('gateway, eager start on', eagerOn.overhead));
  console.log(line('gateway, eager start off', eagerOff.overhead));
  console.log(line('bare workflow, 3 no-op activities, eager start', floor.eager));
  console.log(line('bare workflow, 3 no-op activities, no eager start', floor.plain));
  console.log('\nGateway end to end (provider latency included):');
  console.log(line('eager start on', eagerOn.e2e));
  console.log(line('eager start off', eagerOff.e2e));
  console.log(`\nStreaming, one provider (first chunk after ${PROVIDER_LATENCY_MS} ms at the emulator):`);
  console.log(line('time to first token, eager start on', eagerOn.ttft));
  console.log(line('time to first token, eager start off', eagerOff.ttft));
  console.log(line('whole stream, eager start on', eagerOn.streamTotal));
  console.log(
    `\nAbove the floor (gateway overhead minus the bare workflow's time), p50: eager ${round(eagerOn.overhead.p50 - floor.eager.p50)} ms, ` +
      `no eager ${round(eagerOff.overhead.p50 - floor.plain.p50)} ms: HTTP, auth, validation, planning, consensus and persistence.`,
  );
  console.log(
    JSON.stringify({
      bench: 'gateway',
      requests: N,
      provider_latency_ms: PROVIDER_LATENCY_MS,
      overhead_ms: { eager_on: eagerOn.overhead, eager_off: eagerOff.overhead },
      floor_three_noop_activities_ms: { eager_on: floor.eager, eager_off: floor.plain },
      e2e_ms: { eager_on: eagerOn.e2e, eager_off: eagerOff.e2e },
      ttft_ms: { eager_on: eagerOn.ttft, eager_off: eagerOff.ttft },
      stream_total_ms: { eager_on: eagerOn.streamTotal, eager_off: eagerOff.streamTotal },
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench:gateway failed:', err);
    process.exit(1);
  },
);
