/**
 * Orchestration overhead and throughput (`npm run bench:overhead`).
 *
 * The emulator answers every model after a fixed latency. Each request asks three providers in
 * parallel (consensus). Overhead = end-to-end time seen by the client minus the slowest provider
 * call inside that request. The baseline makes the same three calls directly through the SDK
 * connectors, in the same process and run. Server, worker, emulator and load generator share
 * this machine's cores, so figures are for this machine only.
 *
 * Payload encryption is on (as deployed), through a metering wrapper of the codec: the run
 * reports the codec's wall and CPU time per request, for these short prompts and for 2 KB ones,
 * and the end-to-end difference against a second worker and client with plain payloads,
 * alternating requests between the two in the same run.
 */
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config/load';
import type { Config } from '../src/config/schema';
import { buildConnectors } from '../src/providers/registry';
import type { OrchestrateRequest } from '../src/types';
import { randomBytes } from 'node:crypto';
import { AesGcmPayloadCodec } from '../src/privacy/payload-codec';
import { MeteredCodec, type CodecFigures } from './codec-meter';
import { startBenchStack } from './harness';
import { percentile, round, runConcurrent } from './stats';

const PROVIDER_LATENCY_MS = Number(process.env['BENCH_PROVIDER_LATENCY_MS'] ?? 50);
const SEQUENTIAL = Number(process.env['BENCH_SEQUENTIAL'] ?? 200);
const PER_LEVEL = Number(process.env['BENCH_PER_LEVEL'] ?? 300);
const LEVELS = [1, 10, 50];
const TARGETS = { overheadP50Ms: 25, throughputRps50: 100, codecMsPerRequest2kb: 1 };
const CODEC_REQUESTS = Number(process.env['BENCH_CODEC_REQUESTS'] ?? 100);

Runtime.install({ logger: new DefaultLogger('ERROR') });

function request(i: number, tag: string): OrchestrateRequest {
  return {
    prompt: `What is ${(i % 97) + 3} * ${(i % 13) + 7}?`,
    taskType: 'benchmark',
    userId: 'bench',
    providers: ['openai', 'anthropic', 'google'],
    requireConsensus: true,
    minProviders: 3,
    requestId: `bench-${tag}-${i}-${Date.now().toString(36)}`,
  };
}

/** About 2 KB of prose (a pasted document), different per request. */
function request2kb(i: number, tag: string): OrchestrateRequest {
  const sentence = (k: number) => `Clause ${k}: the supplier delivers ${(i * 7 + k) % 91} units per week and invoices within ${(k % 5) + 10} days of delivery. `;
  let prompt = 'Summarise the obligations in this contract excerpt. ';
  for (let k = 0; prompt.length < 2048; k++) prompt += sentence(k);
  return { ...request(i, tag), prompt: prompt.slice(0, 2048) };
}

function perRequest(f: CodecFigures, n: number) {
  return { wall_ms: round(f.wallMs / n, 3), payloads: round(f.payloads / n, 1), kb: round(f.bytesIn / n / 1024, 2) };
}

async function main(): Promise<void> {
  let config!: Config;
  const codec = new MeteredCodec(new AesGcmPayloadCodec({ keys: [{ id: 'bench', key: randomBytes(32) }], source: 'bench' }));
  const configure = (env: { CONFIG_PATH: string }) => {
    const base = loadConfig(env.CONFIG_PATH);
    config = { ...base, emulator: { ...base.emulator, mode: 'always' as const, latency_ms: PROVIDER_LATENCY_MS } };
    return config;
  };
  const stack = await startBenchStack('overhead', configure, { dataConverter: { payloadCodecs: [codec] } });
  const plain = await startBenchStack('overhead-plain', configure, { dataConverter: {} });
  const { runtime, client, worker, native, taskQueue } = stack;
  const { connectors } = buildConnectors({ config, env: {}, emulatorUrl: runtime.emulatorUrl! });

  // The floor: an empty workflow on its own worker and queue, same server, same client.
  const noopQueue = `${taskQueue}-noop`;
  const noopWorker = await Worker.create({
    connection: native,
    taskQueue: noopQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./noop-workflow'), logger: new DefaultLogger('ERROR') }),
    dataConverter: { payloadCodecs: [codec] },
  });
  const noop = async (i: number): Promise<void> => {
    await client.client.workflow.execute('benchNoop', { taskQueue: noopQueue, workflowId: `bench-noop-${taskQueue}-${i}`, args: [] });
  };

  const direct = async (i: number): Promise<number> => {
    const started = performance.now();
    const prompt = request(i, 'direct').prompt ?? '';
    await Promise.all([...connectors.values()].map((c) => c.generate({ model: c.getSupportedModels()[0]!, prompt })));
    return performance.now() - started;
  };

  const noopRps: Record<string, number> = {};
  await noopWorker.runUntil(async () => {
    await runConcurrent(20, 5, noop);
    for (const c of LEVELS) {
      const n = c === 1 ? Math.min(PER_LEVEL, 100) : PER_LEVEL;
      const ms = await runConcurrent(n, c, async (i) => noop(c * 100_000 + i));
      noopRps[`c${c}`] = round((n / ms) * 1000);
    }
  });

  const figures = await worker.runUntil(async () => {
    // Warm up: bundle loaded, connections and SQLite pages hot.
    await runConcurrent(20, 5, async (i) => void (await client.processRequest(request(i, 'warm'))));
    for (let i = 0; i < 20; i++) await direct(i);
    codec.take();

    console.log(`Provider latency fixed at ${PROVIDER_LATENCY_MS} ms; 3 providers per request (consensus); SQLite; one worker.`);
    console.log(`\nSequential, ${SEQUENTIAL} requests:`);
    const overhead: number[] = [];
    const e2e: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const started = performance.now();
      const result = await client.processRequest(request(i, 'seq'));
      const total = performance.now() - started;
      const slowest = Math.max(...result.metadata.providers.map((p) => p.latencyMs));
      e2e.push(total);
      overhead.push(total - slowest);
    }
    const codecShort = perRequest(codec.take(), SEQUENTIAL);
    const baseline: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) baseline.push(await direct(i));
    const o = { p50: percentile(overhead, 50), p95: percentile(overhead, 95), p99: percentile(overhead, 99) };
    console.log(`  workflow end-to-end  p50 ${round(percentile(e2e, 50))} ms  p95 ${round(percentile(e2e, 95))} ms`);
    console.log(`  direct SDK calls     p50 ${round(percentile(baseline, 50))} ms  p95 ${round(percentile(baseline, 95))} ms`);
    console.log(`  overhead             p50 ${round(o.p50)} ms  p95 ${round(o.p95)} ms  p99 ${round(o.p99)} ms   (target p50 <= ${TARGETS.overheadP50Ms} ms)`);

    console.log(`\nThroughput, ${PER_LEVEL} requests per level:`);
    const throughput: Record<string, number> = {};
    const baselineThroughput: Record<string, number> = {};
    for (const c of LEVELS) {
      const n = c === 1 ? Math.min(PER_LEVEL, 100) : PER_LEVEL;
      const wf = await runConcurrent(n, c, async (i) => void (await client.processRequest(request(i, `c${c}`))));
      const dr = await runConcurrent(n, c, async (i) => void (await direct(i)));
      throughput[`c${c}`] = round((n / wf) * 1000);
      baselineThroughput[`c${c}`] = round((n / dr) * 1000);
      console.log(
        `  ${String(c).padStart(2)} concurrent: workflows ${throughput[`c${c}`]} req/s   direct SDK calls ${baselineThroughput[`c${c}`]} req/s   empty workflow ${noopRps[`c${c}`]} req/s`,
      );
    }
    // The codec with 2 KB prompts: encrypted and plain requests alternate, each on its own worker and client.
    const codecFigures = await plain.worker.runUntil(async () => {
      for (let i = 0; i < 10; i++) {
        await stack.client.processRequest(request2kb(i, 'warm-enc'));
        await plain.client.processRequest(request2kb(i, 'warm-plain'));
      }
      codec.take();
      codec.recording = { encode: [], decode: [] };
      const encrypted: number[] = [];
      const clear: number[] = [];
      for (let i = 0; i < CODEC_REQUESTS; i++) {
        let t = performance.now();
        await stack.client.processRequest(request2kb(i, 'enc'));
        encrypted.push(performance.now() - t);
        t = performance.now();
        await plain.client.processRequest(request2kb(i, 'plain'));
        clear.push(performance.now() - t);
      }
      // The plain stack has no codec: this is the encrypted requests' codec work only.
      const codecSum = codec.take();
      const isolated = await codec.isolatedCost(CODEC_REQUESTS);
      codec.recording = null;
      return { encrypted, clear, codec2kb: perRequest(codecSum, CODEC_REQUESTS), isolated };
    });
    return { o, e2e, baseline, throughput, baselineThroughput, codecShort, codecFigures };
  });
  const { codecFigures } = figures;

  const e2eEncrypted = percentile(codecFigures.encrypted, 50);
  const e2ePlain = percentile(codecFigures.clear, 50);
  console.log(`\nPayload encryption (AES-256-GCM, zlib from 4 KiB), codec work per request, client and worker together:`);
  console.log(`  in the run, short prompts   ${figures.codecShort.wall_ms} ms wall (${figures.codecShort.payloads} payload encodes/decodes, ${figures.codecShort.kb} KiB)`);
  console.log(`  in the run, 2 KB prompts    ${codecFigures.codec2kb.wall_ms} ms wall (${codecFigures.codec2kb.payloads} payload encodes/decodes, ${codecFigures.codec2kb.kb} KiB); includes time the cores spent elsewhere`);
  console.log(`  isolated, 2 KB prompts      ${codecFigures.isolated.ms_per_request} ms wall, ${codecFigures.isolated.cpu_ms_per_request} ms CPU: the same payloads encoded and decoded again, nothing else running in this process   (target < ${TARGETS.codecMsPerRequest2kb} ms CPU)`);
  console.log(`  end-to-end p50, 2 KB prompts: encrypted ${round(e2eEncrypted)} ms, plain ${round(e2ePlain)} ms (difference ${round(e2eEncrypted - e2ePlain)} ms; alternating, same run: noise of a few ms is expected)`);

  const overheadMet = figures.o.p50 <= TARGETS.overheadP50Ms;
  const rps50 = figures.throughput['c50'] ?? 0;
  const throughputMet = rps50 >= TARGETS.throughputRps50;
  console.log('\nTargets:');
  console.log(`  overhead p50 ${round(figures.o.p50)} ms <= ${TARGETS.overheadP50Ms} ms: ${overheadMet ? 'MET' : 'MISSED'}`);
  console.log(`  throughput at 50 concurrent ${rps50} req/s >= ${TARGETS.throughputRps50}: ${throughputMet ? 'MET' : 'MISSED'}`);
  // Judged on CPU time: the codec's own work, which a loaded machine (two shared cores) does not inflate as it does wall time.
  const codecMet = codecFigures.isolated.cpu_ms_per_request < TARGETS.codecMsPerRequest2kb;
  console.log(`  codec ${codecFigures.isolated.cpu_ms_per_request} ms CPU per request with 2 KB prompts < ${TARGETS.codecMsPerRequest2kb} ms: ${codecMet ? 'MET' : 'MISSED'}`);
  if (!throughputMet || !overheadMet) {
    console.log('  Limits: "empty workflow" is a workflow that does nothing, on the same dev server and client: the platform floor on this');
    console.log('  machine. A request needs two workflow tasks (start; after the provider calls), each waiting 20-35 ms for dispatch on');
    console.log('  the dev server (see the event times in any request history); planning, consensus and persistence run as local activities.');
  }

  await stack.close();
  await plain.close();

  console.log(
    JSON.stringify({
      bench: 'overhead',
      provider_latency_ms: PROVIDER_LATENCY_MS,
      overhead_ms: { p50: round(figures.o.p50), p95: round(figures.o.p95), p99: round(figures.o.p99) },
      e2e_p50_ms: round(percentile(figures.e2e, 50)),
      direct_p50_ms: round(percentile(figures.baseline, 50)),
      throughput_rps: figures.throughput,
      direct_throughput_rps: figures.baselineThroughput,
      empty_workflow_rps: noopRps,
      codec_per_request: { in_run_short_prompts: figures.codecShort, in_run_2kb: codecFigures.codec2kb, isolated_2kb: codecFigures.isolated },
      e2e_p50_2kb_ms: { encrypted: round(e2eEncrypted), plain: round(e2ePlain) },
      targets: {
        codec_cpu_ms_per_request_2kb: { target: TARGETS.codecMsPerRequest2kb, value: codecFigures.isolated.cpu_ms_per_request, met: codecMet },
        overhead_p50_ms: { target: TARGETS.overheadP50Ms, value: round(figures.o.p50), met: overheadMet },
        throughput_rps_c50: { target: TARGETS.throughputRps50, value: rps50, met: throughputMet },
      },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
