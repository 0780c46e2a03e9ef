/**
 * Record a routing-policy workflow history from a real run (real worker, real routing activities,
 * SQLite) into test/histories/, for the replay test.
 *
 * Default scenario (routing-policy-continue-as-new.json): the first run of the chain seeds the
 * policy, loads statistics, applies updates (one rejected), rolls back twice (once from its own
 * state, once from the database), and continues as new with a change still pending.
 *
 * `--scenario config-base` (routing-policy-config-base.json): a worker announces its config.yaml
 * base (signalWithStart), run-time changes are layered on it, an edited base comes in (new version
 * from config.yaml, run-time changes kept), then one that overrides a run-time rule (conflict
 * named), then the same base again (no version).
 *
 *   bash scripts/with-test-temporal.sh npx tsx scripts/record-policy-history.ts [--scenario config-base]
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
import type { Config } from '../src/config/schema';
import type { RoutingUpdate } from '../src/routing/policy';
import { routingBaseConfig } from '../src/runtime';
import { applyBaseConfig, applyRoutingUpdate, ensureRoutingPolicyWorkflow, setRule, type RoutingChangeResult } from '../client/routing';
import {
  applyRoutingUpdateSignal,
  currentPolicyQuery,
  rollbackRoutingPolicySignal,
  routingChangeOutcomeQuery,
} from '../workflows/routing-policy';
import { repoConfig } from '../test/helpers/config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH } from '../test/helpers/temporal';

const HISTORIES = join(__dirname, '..', 'test', 'histories');
const scenario = process.argv.includes('--scenario') ? process.argv[process.argv.indexOf('--scenario') + 1] : 'continue-as-new';
if (scenario !== 'continue-as-new' && scenario !== 'config-base') throw new Error(`unknown --scenario ${scenario} (continue-as-new, config-base)`);
const OUTPUT = join(HISTORIES, `routing-policy-${scenario}.json`);

function expectStatus(what: string, result: RoutingChangeResult, status: RoutingChangeResult['status']): void {
  if (result.status !== status) throw new Error(`${what}: expected ${status}, got ${JSON.stringify(result)}`);
}

/** The config-base scenario; returns the run id to record. */
async function recordConfigBase(temporal: Awaited<ReturnType<typeof connectTestTemporal>>, workflowId: string): Promise<string> {
  const base = repoConfig();
  const withRules = (rules: Config['routing']['rules']): Config => ({ ...base, routing: { ...base.routing, rules: [...base.routing.rules, ...rules] } });
  const o = { client: temporal.client, taskQueue: temporal.taskQueue, workflowId, workflowInput: { statsRefreshMs: 0 }, waitMs: 30_000 };
  const announce = (config: Config) => applyBaseConfig(o, { ...routingBaseConfig(config), source: 'recorder' }, true);
  const translation = { id: 'translation-any', task_type: 'translation', complexity: 'any' as const, providers: ['google'], require_consensus: false, fallback: [] };
  const qa = { id: 'qa-fast', task_type: 'question_answering', complexity: 'simple' as const, providers: ['anthropic'], require_consensus: false, fallback: [] };

  expectStatus('first announcement', await announce(base), 'unchanged');
  expectStatus('demote', await applyRoutingUpdate(o, { kind: 'demote', target: 'openai', source: 'recorder', reason: 'run-time change' }), 'accepted');
  expectStatus('set_rule', await setRule(o, { rule: qa, source: 'recorder', reason: 'run-time change' }), 'accepted');
  expectStatus('edited base', await announce(withRules([translation])), 'accepted');
  expectStatus('overriding base', await announce(withRules([{ ...qa, providers: ['google'] }])), 'accepted');
  expectStatus('same base', await announce(withRules([{ ...qa, providers: ['google'] }])), 'unchanged');
  return (await temporal.client.workflow.getHandle(workflowId).describe()).runId;
}

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
    dataConverter: testDataConverter(),
    activities: createRoutingActivities({ config: repoConfig(), memory, queries }),
  });
  const running = worker.run();
  const workflowId = `${ROUTING_POLICY_WORKFLOW_ID}-recorder-${Date.now()}`;
  try {
    const runId = scenario === 'config-base' ? await recordConfigBase(temporal, workflowId) : await recordContinueAsNew(temporal, memory, workflowId);
    // The Temporal CLI writes the standard JSON history format every SDK's replayer reads.
    const json = execFileSync(
      process.env['TEMPORAL_CLI'] ?? 'temporal',
      ['workflow', 'show', '--workflow-id', workflowId, '--run-id', runId, '--address', temporal.address, '--output', 'json'],
      { encoding: 'utf8' },
    );
    writeFileSync(OUTPUT, json.endsWith('\n') ? json : `${json}\n`);
    const events = (JSON.parse(json) as { events?: { eventType?: string }[] }).events ?? [];
    console.log(`recorded ${workflowId} run ${runId} -> ${OUTPUT} (${events.length} events, last ${events.at(-1)?.eventType ?? '?'})`);
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

/** The continue-as-new scenario; returns the first run's id (the one recorded). */
async function recordContinueAsNew(temporal: Awaited<ReturnType<typeof connectTestTemporal>>, memory: ReturnType<typeof createMemoryStore>, workflowId: string): Promise<string> {
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
  return firstRunId;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
