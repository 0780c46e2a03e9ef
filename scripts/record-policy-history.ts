/**
 * Record a routing-policy workflow history from a real run (real worker, real routing activities,
 * SQLite) into test/histories/, for the replay test. The first run of the chain is recorded: it
 * seeds the policy, loads statistics, applies updates (one rejected), rolls back twice (once from
 * its own state, once from the database), and continues as new with a change still pending.
 *
 *   bash scripts/with-test-temporal.sh npx tsx scripts/record-policy-history.ts
 *
 * Run it after a deliberate, compatible change to workflows/routing-policy.ts; never edit the JSON by hand.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { createRoutingActivities } from '../activities/routing';
import { applyMigrations } from '../src/memory/migrate';
import { createMemoryStore } from '../src/memory/repository';
import { openStatsQueries } from '../src/memory/stats-queries';
import { ROUTING_POLICY_WORKFLOW_ID } from '../src/routing/constants';
import type { RoutingUpdate } from '../src/routing/policy';
import { ensureRoutingPolicyWorkflow } from '../client/routing';
import {
  applyRoutingUpdateSignal,
  currentPolicyQuery,
  rollbackRoutingPolicySignal,
  routingChangeOutcomeQuery,
} from '../workflows/routing-policy';
import { repoConfig } from '../test/helpers/config';
import { connectTestTemporal, WORKFLOWS_PATH } from '../test/helpers/temporal';

const OUTPUT = join(__dirname, '..', 'test', 'histories', 'routing-policy-continue-as-new.json');

async function until<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => null);
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const temporal = await connectTestTemporal('policy-recorder');
  const dir = mkdtempSync(join(tmpdir(), 'policy-recorder-'));
  const url = `file:${join(dir, 'recorder.db')}`;
  await applyMigrations(url);
  const memory = createMemoryStore(url);
  const queries = openStatsQueries(url);
  const worker = await Worker.create({
    connection: temporal.nativeConnection,
    taskQueue: temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createRoutingActivities({ config: repoConfig(), memory, queries }),
  });
  const running = worker.run();
  const workflowId = `${ROUTING_POLICY_WORKFLOW_ID}-recorder-${Date.now()}`;
  try {
    // A version written before the workflow existed, in the older shape: the target of a rollback
    // that the workflow must read from the database.
    const legacy = await memory.recordPolicyVersion({
      policy: { strategy: 'static', default_providers: ['openai', 'anthropic'], rules: [] },
      configHash: 'recorder-legacy',
      source: 'config.yaml',
      reason: 'an older worker',
    });

    const options = { client: temporal.client, taskQueue: temporal.taskQueue, workflowId, workflowInput: { maxChangesPerRun: 6, statsRefreshMs: 60_000 } };
    const handle = await ensureRoutingPolicyWorkflow(options);
    const seed = await until('seed', () => handle.query(currentPolicyQuery));
    const firstRunId = (await handle.describe()).runId;

    const who = { source: 'recorder', reason: 'history recording' };
    const updates: RoutingUpdate[] = [
      { kind: 'set_rule', rule: { id: 'qa-simple', task_type: 'question_answering', complexity: 'simple', providers: ['google', 'openai'] }, ...who, id: 'u1' },
      { kind: 'set_weights', weights: { 'anthropic:claude-sonnet-4-6': 2 }, ...who, id: 'u2' },
      { kind: 'set_rule', rule: { task_type: 'qa', providers: ['mistral'] }, ...who, id: 'u3' }, // rejected
      { kind: 'demote', target: 'google', ...who, id: 'u4' },
    ];
    for (const u of updates) await handle.signal(applyRoutingUpdateSignal, u);
    await handle.signal(rollbackRoutingPolicySignal, { version: seed.version, ...who, id: 'r1' });
    await handle.signal(rollbackRoutingPolicySignal, { version: legacy, ...who, id: 'r2' });
    // The seventh change: still pending when the first run continues as new.
    await handle.signal(applyRoutingUpdateSignal, { kind: 'set_exploration', rate: 0.2, ...who, id: 'u5' });

    for (const id of ['u1', 'u2', 'u3', 'u4', 'r1', 'r2', 'u5']) await until(`outcome of ${id}`, () => handle.query(routingChangeOutcomeQuery, id));
    const first = temporal.client.workflow.getHandle(workflowId, firstRunId);
    await until('the first run to continue as new', async () => ((await first.describe()).status.name === 'CONTINUED_AS_NEW' ? true : null));

    // The Temporal CLI writes the standard JSON history format every SDK's replayer reads.
    const json = execFileSync(
      process.env['TEMPORAL_CLI'] ?? 'temporal',
      ['workflow', 'show', '--workflow-id', workflowId, '--run-id', firstRunId, '--address', temporal.address, '--output', 'json'],
      { encoding: 'utf8' },
    );
    writeFileSync(OUTPUT, json.endsWith('\n') ? json : `${json}\n`);
    const events = (JSON.parse(json) as { events?: { eventType?: string }[] }).events ?? [];
    console.log(`recorded ${workflowId} run ${firstRunId} -> ${OUTPUT} (${events.length} events, last ${events.at(-1)?.eventType ?? '?'})`);
  } finally {
    await temporal.client.workflow.getHandle(workflowId).terminate('history recorded').catch(() => undefined);
    worker.shutdown();
    await running;
    await queries.close();
    await memory.close();
    await temporal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
