/**
 * Workflow-thread cost of a request, without server or database: replays a recorded request
 * history (test/histories/, default the three-provider consensus) N times in one replay worker and
 * prints wall and CPU ms per replay. `npx tsx bench/replay-cost.ts [history.json] [N]`.
 * BENCH_NO_PROMISE_HOOK=1 replays with the SDK's per-promise stack-trace hook disabled (an
 * experiment: it shows what that hook costs; the worker always runs with it).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { loadEnv } from '../src/config/env';
import { PROJECT_ROOT } from '../src/project-root';
import { dataConverterFor } from '../src/temporal/data-converter';
import { WORKFLOW_INTERCEPTORS_FILE } from '../src/tracing/tracing';

const file = process.argv[2] ?? path.join(PROJECT_ROOT, 'test', 'histories', 'encrypted-consensus-three-providers.json');
const N = Number(process.argv[3] ?? 100);

async function main(): Promise<void> {
  if (process.env['BENCH_NO_PROMISE_HOOK'] === '1') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- experiment only
    const shared = require('@temporalio/worker/lib/workflow/vm-shared') as { GlobalHandlers: { prototype: { setPromiseHook(): void } } };
    shared.GlobalHandlers.prototype.setPromiseHook = () => undefined;
  }
  const silent = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} };
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.join(PROJECT_ROOT, 'workflows'), workflowInterceptorModules: [path.join(PROJECT_ROOT, WORKFLOW_INTERCEPTORS_FILE)], logger: silent });
  const dataConverter = dataConverterFor(loadEnv({ PAYLOAD_KEYS_FILE: path.join(PROJECT_ROOT, 'test', 'histories', 'payload-keys') }));
  const history = historyFromJSON(JSON.parse(readFileSync(file, 'utf8')));
  const copies = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ workflowId: `replay-cost-${tag}-${i}`, history }));
  for await (const r of Worker.runReplayHistories({ workflowBundle, dataConverter, replayName: 'warm' }, copies(10, 'warm'))) if (r.error) throw r.error;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for await (const r of Worker.runReplayHistories({ workflowBundle, dataConverter, replayName: 'cost' }, copies(N, 'cost'))) if (r.error) throw r.error;
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ bench: 'replay-cost', history: path.basename(file), replays: N, wall_ms_per_replay: Math.round((wall / N) * 10) / 10, cpu_ms_per_replay: Math.round(((cpu.user + cpu.system) / 1000 / N) * 10) / 10, promise_hook: process.env['BENCH_NO_PROMISE_HOOK'] !== '1' }));
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
