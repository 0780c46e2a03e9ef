/**
 * Durability: a worker process killed with SIGKILL in the middle of a fan-out, in both
 * provider-call modes (performance.provider_calls, README "Provider-call modes"). A new worker
 * finishes the request and nothing is stored twice. What differs is which provider calls are made
 * again, counted from the emulator's request log:
 * - `activity`: a call that had finished is never made again (its result was recorded when it
 *   completed); only the call that died with the worker is repeated.
 * - `local`: the calls that finished inside the workflow task the dead worker never completed are
 *   made again, with the one that was running (every call of that task).
 * And promptly: the new worker never waits on a query to the routing-policy workflow (whose only
 * worker was the killed one), so in `activity` mode the request finishes within the provider
 * call's heartbeat timeout plus 5 s of the new worker starting (it took 40 s when start-up waited
 * on that query); in `local` mode it waits for the dead worker's workflow task to time out instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { IMPROVEMENT_SCHEDULE_ID } from '../../src/improvement/constants';
import { ROUTING_POLICY_WORKFLOW_ID } from '../../src/routing/constants';
import { routingBaseConfig } from '../../src/runtime';
import { routingBaseQuery } from '../../workflows/routing-policy';
import { loadEnv } from '../../src/config/env';
import { TASK_QUEUE } from '../../src/constants';
import type { ProviderCallMode } from '../../src/config/schema';
import { startEmulator, type EmulatorCallRecord, type RunningEmulator } from '../../src/emulator/server';
import { createMemoryStore, type MemoryStore } from '../../src/memory/repository';
import { repoConfig, REPO_ROOT } from '../helpers/config';
import { connectTestTemporal, type TemporalTestContext } from '../helpers/temporal';

let dir: string;
let emulator: RunningEmulator;
let temporal: TemporalTestContext;
/** One database per mode (a worker's start-up migrates it; SQLite would wait on the other mode's open store). */
const memories: MemoryStore[] = [];
const workers: ChildProcess[] = [];
let workerEnv: NodeJS.ProcessEnv;
/** The emulator's request log: every generation call, as it ended. */
const calls: EmulatorCallRecord[] = [];
/** callProvider's heartbeat timeout (workflows/request/proxies.ts HEARTBEAT_TIMEOUT_MS). */
const HEARTBEAT_TIMEOUT_MS = 5_000;
/** Temporal's default workflow task timeout: how long the server waits for a task a dead worker held. */
const WORKFLOW_TASK_TIMEOUT_MS = 10_000;

type Mode = ProviderCallMode;

interface StartedWorker {
  child: ChildProcess;
  spawnedAt: number;
  /** Date.now() when it logged "worker started". */
  startedAt: number;
  /** From spawn to "worker started", as this test saw it. */
  spawnToStartedMs: number;
  /** The worker's own figure (process start to "worker started"), from its log line. */
  startupMs: number | null;
}

/** Start `tsx worker.ts` in its own process group with the mode's config.yaml; resolves once it polls. */
function startWorker(mode: Mode): Promise<StartedWorker> {
  const spawnedAt = Date.now();
  const env = { ...workerEnv, CONFIG_PATH: join(dir, `config-${mode}.yaml`), DATABASE_URL: databaseUrl(mode) };
  const child = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['worker.ts'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  workers.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"msg":"worker started"')) {
        clearTimeout(timer);
        const startedAt = Date.now();
        const line = out.split('\n').find((l) => l.includes('"msg":"worker started"')) ?? '';
        const startupMs = /"startupMs":(\d+)/.exec(line)?.[1];
        resolve({ child, spawnedAt, startedAt, spawnToStartedMs: startedAt - spawnedAt, startupMs: startupMs === undefined ? null : Number(startupMs) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`worker exited (${code}):\n${out}`)));
  });
}

function databaseUrl(mode: Mode): string {
  return `file:${join(dir, `crash-${mode}.db`)}`;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid && child.exitCode === null) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Per model, from the request log: calls made for this prompt, and calls made again after one had already answered. */
function callCounts(prompt: string): Record<string, { calls: number; repeatedAfterCompleting: number }> {
  const out: Record<string, { calls: number; repeatedAfterCompleting: number }> = {};
  const mine = calls.filter((c) => c.prompt === prompt).sort((a, b) => a.startedAt - b.startedAt);
  for (const c of mine) {
    const answeredBefore = mine.some((o) => o !== c && o.model === c.model && o.completed && o.status === 200 && o.endedAt <= c.startedAt);
    const entry = (out[c.model] ??= { calls: 0, repeatedAfterCompleting: 0 });
    entry.calls += 1;
    if (answeredBefore) entry.repeatedAfterCompleting += 1;
  }
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orch-crash-'));
  const base = repoConfig();
  const config = {
    ...base,
    emulator: { ...base.emulator, mode: 'always' as const, latency_ms: 5 },
    performance: { ...base.performance, models: { ...base.performance.models, google: { max_concurrent: 5, timeout: 5, max_attempts: 3, initial_backoff_ms: 200 } } },
  };
  for (const mode of ['activity', 'local'] as const) writeFileSync(join(dir, `config-${mode}.yaml`), stringify({ ...config, performance: { ...config.performance, provider_calls: mode } }));
  emulator = await startEmulator({ port: 0, settings: config.emulator, onCall: (c) => calls.push(c) });
  temporal = await connectTestTemporal('crash');
  workerEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], TEMPORAL_ADDRESS: temporal.address, EMULATOR_URL: emulator.url, LOG_LEVEL: 'info' };
});

afterAll(async () => {
  for (const w of workers) killGroup(w, 'SIGKILL');
  for (const m of memories) await m.close();
  await temporal?.close();
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(['activity', 'local'] as const)('worker killed mid fan-out, provider_calls: %s', (mode) => {
  it('completes on a new worker, persists once, and repeats only the calls this mode can repeat', async () => {
    const { child: first } = await startWorker(mode);
    // Opened once the worker has migrated the mode's database.
    const memory = createMemoryStore(databaseUrl(mode));
    memories.push(memory);
    // At start the worker also announced its config.yaml routing base to the long-lived
    // routing-policy workflow (starting it if absent) and ensured the improvement schedule.
    const routing = temporal.client.workflow.getHandle(ROUTING_POLICY_WORKFLOW_ID);
    expect((await routing.describe()).status.name).toBe('RUNNING');
    const announced = routingBaseConfig(repoConfig()).hash;
    const heard = () => routing.query(routingBaseQuery).then((b) => b?.hash === announced, () => false);
    await until(heard, "the routing-policy workflow to hold the worker's config.yaml base");
    const schedule = await temporal.client.schedule.getHandle(IMPROVEMENT_SCHEDULE_ID).describe();
    expect(schedule.spec.intervals?.[0]?.every).toBe(repoConfig().improvement.analysis_interval * 3_600_000);
    const client = new OrchestratorClient({ client: temporal.client, config: repoConfig(), env: loadEnv({ TEMPORAL_ADDRESS: temporal.address }), taskQueue: TASK_QUEUE });
    const userId = `user-crash-${mode}`;
    // The prompt names the mode, so the emulator's log tells the two runs apart.
    const prompt = `Provider calls as ${mode}: what is 5 * 5? [[emulate:answer=correct]] [[emulate@gemini-2.0-flash:latency=2500]]`;
    const { workflowId } = await client.start({
      prompt,
      taskType: 'question_answering',
      userId,
      providers: ['openai', 'anthropic', 'google'],
      requireConsensus: true,
      minProviders: 3,
      requestId: `crash-${mode}-${Date.now().toString(36)}`,
    });
    const logged = () => callCounts(prompt);

    // The two fast providers have answered (the emulator logged their whole responses); Gemini is still working.
    await until(() => {
      const answered = (model: string) => calls.some((c) => c.prompt === prompt && c.model === model && c.completed);
      const s = emulator.stats();
      return answered('gpt-4o-mini') && answered('claude-haiku-4-5') && (s['gemini-2.0-flash']?.calls ?? 0) >= 1;
    }, 'the fan-out to reach all three providers');
    await new Promise((r) => setTimeout(r, 500));
    killGroup(first, 'SIGKILL');
    await new Promise<void>((resolve) => (first.exitCode !== null ? resolve() : first.once('exit', () => resolve())));

    const killedAt = Date.now();
    const second = await startWorker(mode);
    const result = await client.getResult(workflowId);
    const doneAt = Date.now();
    const recoveredMs = doneAt - second.startedAt;
    killGroup(second.child, 'SIGTERM');
    const counts = logged();
    const repeated = Object.values(counts).reduce((n, c) => n + c.repeatedAfterCompleting, 0);
    console.log(
      `worker-crash [${mode}]: second worker spawn -> "worker started" ${second.spawnToStartedMs} ms (its own startupMs ${second.startupMs}); kill -> result ${doneAt - killedAt} ms; ` +
        `"worker started" -> result ${recoveredMs} ms; provider calls ${JSON.stringify(counts)}; completed calls made again: ${repeated}`,
    );
    // Start-up itself waited ~30 s on a query nobody could answer (40 s to the result): with the
    // process's own boot (tsx, workflow bundle) on a busy machine, the whole stays well under that.
    if (mode === 'activity') {
      expect(recoveredMs).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 5_000);
      expect(doneAt - second.spawnedAt).toBeLessThan(28_000);
    } else {
      // The dead worker's workflow task times out (at most 10 s, counted from before the kill), then
      // every call runs again on the new worker: generous on a busy machine, far below any call's timeout.
      expect(doneAt - Math.max(second.startedAt, killedAt)).toBeLessThan(WORKFLOW_TASK_TIMEOUT_MS + 10_000);
    }

    expect(result.response).toMatch(/25/);
    expect(result.metadata.providers.map((p) => p.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const rows = await memory.listInteractions({ userId, limit: 10 });
    expect(rows).toHaveLength(1);
    const stored = await memory.getInteraction(workflowId);
    expect(stored!.providerCalls).toHaveLength(3);

    if (mode === 'activity') {
      // The two answers were recorded as their activities completed: neither provider is asked again.
      expect(counts['gpt-4o-mini']).toEqual({ calls: 1, repeatedAfterCompleting: 0 });
      expect(counts['claude-haiku-4-5']).toEqual({ calls: 1, repeatedAfterCompleting: 0 });
      // Gemini's attempt died with the worker (it never answered) and was retried once its heartbeat timed out.
      expect(counts['gemini-2.0-flash']?.calls).toBeGreaterThanOrEqual(2);
      expect(counts['gemini-2.0-flash']?.repeatedAfterCompleting).toBe(0);
      expect(stored!.providerCalls.find((c) => c.provider === 'google')).toMatchObject({ status: 'succeeded', attempts: 2 });
    } else {
      // The two answers lived only in the workflow task the dead worker never completed: the new
      // worker replays from history without them and calls all three providers again, once each.
      expect(counts['gpt-4o-mini']).toEqual({ calls: 2, repeatedAfterCompleting: 1 });
      expect(counts['claude-haiku-4-5']).toEqual({ calls: 2, repeatedAfterCompleting: 1 });
      expect(counts['gemini-2.0-flash']).toEqual({ calls: 2, repeatedAfterCompleting: 0 });
      expect(repeated).toBe(2);
      // A fresh local activity on the new worker: its first attempt there.
      expect(stored!.providerCalls.map((c) => c.attempts)).toEqual([1, 1, 1]);
    }
  }, 120_000);
});
