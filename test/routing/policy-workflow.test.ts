/**
 * The routing-policy workflow on the real test dev server with its real activities over a SQLite
 * database: signals change the policy and queries show it, rollbacks, rejected changes,
 * continue-as-new without losing state or pending changes, the worker-side cache, the CLI.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRoutingActivities } from '../../activities/routing';
import { addRoutingCommands } from '../../client/routing-cli';
import { applyBaseConfig, applyRoutingUpdate, ensureRoutingPolicyWorkflow, rollback, setRule, showRouting, type RoutingChangeResult, type RoutingClientOptions } from '../../client/routing';
import { routingBaseConfig } from '../../src/runtime';
import { InvalidRequest } from '../../src/errors';
import { applyMigrations } from '../../src/memory/migrate';
import { createMemoryStore, type MemoryStore } from '../../src/memory/repository';
import { openStatsQueries, type StatsQueriesHandle } from '../../src/memory/stats-queries';
import { ROUTING_POLICY_WORKFLOW_ID } from '../../src/routing/constants';
import { applyUpdate, knownProvidersFromConfig, policyFromConfig, type RoutingPolicy } from '../../src/routing/policy';
import { databasePolicySource, RoutingPolicyCache, workflowPolicySource, type RoutingPolicyCacheOptions } from '../../src/routing/policy-cache';
import type { InteractionRecord } from '../../src/memory/repository';
import {
  applyBaseConfigSignal,
  applyRoutingUpdateSignal,
  currentPolicyQuery,
  policyHistoryQuery,
  rejectedRoutingChangesQuery,
  routingChangeOutcomeQuery,
  routingPolicyStatusQuery,
  routingStatsQuery,
  routingPolicyWorkflow,
  type ChangeOutcome,
  type RoutingPolicyState,
  type RoutingPolicyWorkflowInput,
} from '../../workflows/routing-policy';
import { testConfig } from '../helpers/config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH, type TemporalTestContext } from '../helpers/temporal';

const config = testConfig({
  routing: {
    default_providers: ['openai', 'anthropic', 'google'],
    rules: [{ id: 'review-any', task_type: 'code_review', complexity: 'any', providers: ['openai', 'anthropic'], require_consensus: true }],
  },
});

let t: TemporalTestContext;
let dir: string;
let memory: MemoryStore;
let queries: StatsQueriesHandle;
let worker: Worker;
let running: Promise<void>;
const started: string[] = [];

beforeAll(async () => {
  t = await connectTestTemporal('routing-policy');
  dir = mkdtempSync(join(tmpdir(), 'routing-policy-'));
  const url = `file:${join(dir, 'routing.db')}`;
  await applyMigrations(url);
  memory = createMemoryStore(url);
  queries = openStatsQueries(url);
  worker = await Worker.create({
    connection: t.nativeConnection,
    taskQueue: t.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    dataConverter: testDataConverter(),
    activities: createRoutingActivities({ config, memory, queries }),
  });
  running = worker.run();
});

afterAll(async () => {
  for (const id of started) await t?.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  worker?.shutdown();
  await running;
  await queries?.close();
  await memory?.close();
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Options for a policy workflow of this test's own (the real one is ROUTING_POLICY_WORKFLOW_ID). */
function routingOptions(label: string, input: RoutingClientOptions['workflowInput'] = { statsRefreshMs: 0 }): RoutingClientOptions {
  const workflowId = `${ROUTING_POLICY_WORKFLOW_ID}-${label}-${randomUUID().slice(0, 8)}`;
  started.push(workflowId);
  return { client: t.client, taskQueue: t.taskQueue, workflowId, workflowInput: input, waitMs: 15_000 };
}

function accepted(result: RoutingChangeResult): Extract<ChangeOutcome, { status: 'accepted' }> {
  if (result.status !== 'accepted') throw new Error(`expected accepted, got ${JSON.stringify(result)}`);
  return result;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('routingPolicyWorkflow', () => {
  it('starts from the configuration (seed version in the database); a signal changes the policy and the query shows it', async () => {
    const o = routingOptions('signal');
    const before = await showRouting(o);
    expect(before.policy.rules.map((r) => r.id)).toEqual(['review-any']);
    expect(before.history).toEqual([expect.objectContaining({ version: before.policy.version, kind: 'seed', source: 'config.yaml' })]);
    expect((await queries.policyVersion(before.policy.version))?.source).toBe('config.yaml');

    const result = accepted(await setRule(o, { rule: { id: 'qa-simple', task_type: 'question_answering', complexity: 'simple', providers: ['google', 'openai:gpt-4o'] }, source: 'test:alice', reason: 'cheaper for simple questions' }));
    expect(result.version).toBeGreaterThan(before.policy.version);
    expect(result.summary).toMatch(/set rule qa-simple/);

    const after = await showRouting(o);
    expect(after.policy).toMatchObject({ version: result.version, source: 'test:alice', reason: 'cheaper for simple questions', basedOn: before.policy.version });
    expect(after.policy.rules.map((r) => r.id)).toEqual(['review-any', 'qa-simple']);
    expect(after.history.map((h) => h.kind)).toEqual(['seed', 'set_rule']);

    // Persisted with who and why; the stored JSON reads back as the same policy.
    const row = await queries.policyVersion(result.version);
    expect(row).toMatchObject({ version: result.version, source: 'test:alice', reason: 'cheaper for simple questions' });
    expect({ ...(row!.policy as object), version: result.version }).toEqual(after.policy);

    // The same rule again: no new version.
    expect(await setRule(o, { rule: { id: 'qa-simple', task_type: 'question_answering', complexity: 'simple', providers: ['google', 'openai:gpt-4o'] }, reason: 'again' })).toMatchObject({ status: 'unchanged', version: result.version });
  });

  it('rollback restores an earlier version as a new one, also one only the database still has', async () => {
    const o = routingOptions('rollback');
    const seed = (await showRouting(o)).policy;
    const v1 = accepted(await setRule(o, { rule: { task_type: 'translation', providers: ['google'] }, reason: 'first' }));
    const v2 = accepted(await applyRoutingUpdate(o, { kind: 'demote', target: 'anthropic', source: 'optimizer', reason: 'error rate 40%' }));
    const beforeRollback = await showRouting(o);
    expect(Object.keys(beforeRollback.policy.demoted)).toEqual(['anthropic']);

    const back = accepted(await rollback(o, { version: v1.version, source: 'test:bob', reason: 'the demotion was a false alarm' }));
    expect(back.version).toBeGreaterThan(v2.version);
    const now = await showRouting(o);
    expect(now.policy).toMatchObject({ version: back.version, basedOn: v1.version, source: 'test:bob', reason: `rollback to v${v1.version}: the demotion was a false alarm`, demoted: {} });
    expect(now.policy.rules).toEqual((await until('v1 row', () => queries.policyVersion(v1.version)).then((r) => r.policy as RoutingPolicy)).rules);
    expect(now.history.map((h) => h.kind)).toEqual(['seed', 'set_rule', 'demote', 'rollback']);
    expect((await queries.policyVersion(back.version))?.reason).toBe(`rollback to v${v1.version}: the demotion was a false alarm`);

    // Back to the seed: the rule added since is gone.
    accepted(await rollback(o, { version: seed.version, reason: 'start over' }));
    expect((await showRouting(o)).policy.rules).toEqual(seed.rules);

    // A version written by a worker before this workflow existed (older shape), read from the database.
    const legacy = await memory.recordPolicyVersion({ policy: { strategy: 'static', default_providers: ['google'], rules: [{ task_type: 'code_review', providers: ['google'] }] }, configHash: `legacy-${randomUUID()}`, source: 'config.yaml', reason: 'older worker' });
    accepted(await rollback(o, { version: legacy, reason: 'restore the old route' }));
    const restored = (await showRouting(o)).policy;
    expect(restored.defaultProviders).toEqual(['google']);
    expect(restored.rules).toEqual([{ task_type: 'code_review', complexity: 'any', providers: ['google'], require_consensus: false, fallback: [] }]);

    const missing = await rollback(o, { version: 999_999, reason: 'typo' });
    expect(missing).toMatchObject({ status: 'rejected', error: { code: 'UnknownVersion', message: 'rollback rejected: version: no routing policy version 999999' } });
  });

  it('an invalid update is rejected with its reason and recorded; the policy and the database are unchanged', async () => {
    const o = routingOptions('invalid');
    const before = await showRouting(o);
    const latestBefore = (await memory.latestPolicyVersion())!.version;

    const result = await setRule(o, { rule: { task_type: 'qa', providers: ['openai', 'mistral'] }, source: 'test:carol', reason: 'try mistral' });
    expect(result).toMatchObject({ status: 'rejected', error: { code: 'UnknownProvider', message: 'set_rule rejected: rule.providers.1: unknown provider "mistral" (configured: openai, anthropic, google)' } });

    // A malformed signal sent around the SDK's own check is rejected by the workflow too.
    const handle = t.client.workflow.getHandle(o.workflowId!);
    await handle.signal(applyRoutingUpdateSignal, { kind: 'set_exploration', rate: 7, source: 'raw', reason: 'bad', id: 'raw-1' });
    await until('raw rejection', () => handle.query(routingChangeOutcomeQuery, 'raw-1'));

    const rejections = await handle.query(rejectedRoutingChangesQuery);
    expect(rejections.map((r) => [r.kind, r.source, r.error.code])).toEqual([
      ['set_rule', 'test:carol', 'UnknownProvider'],
      ['set_exploration', 'raw', 'InvalidUpdate'],
    ]);
    expect(rejections[1]!.error.issues[0]).toMatchObject({ path: 'rate' });
    expect(rejections[0]!.payload).toContain('mistral');

    expect((await handle.query(currentPolicyQuery)).version).toBe(before.policy.version);
    expect((await memory.latestPolicyVersion())!.version).toBe(latestBefore);

    // The SDK refuses a malformed update before sending anything.
    await expect(applyRoutingUpdate(o, { kind: 'set_exploration', rate: 2, source: 's', reason: 'r' })).rejects.toBeInstanceOf(InvalidRequest);
  });

  it('continues as new after N changes, keeping the state, the rejections and every pending change', async () => {
    const o = routingOptions('can');

    // Seven changes: the first four already queued when the chain starts (as a previous run would
    // hand them over), the other three signalled at once. Two per run: the first run must hand
    // over at least two unapplied changes.
    const updates = [
      { kind: 'set_rule' as const, rule: { task_type: 't1', providers: ['openai'] } },
      { kind: 'set_weights' as const, weights: { google: 2 } },
      { kind: 'set_rule' as const, rule: { task_type: 't2', providers: ['nope'] } }, // rejected
      { kind: 'demote' as const, target: 'anthropic' },
      { kind: 'set_exploration' as const, rate: 0.2, method: 'ucb' as const },
      { kind: 'set_rule' as const, rule: { task_type: 't3', providers: ['google'], fallback: ['openai'] } },
      { kind: 'set_strategy' as const, strategy: 'performance_based' as const },
    ].map((u, i) => ({ ...u, id: `can-${i}`, source: 'test', reason: `change ${i}` }));
    const input: RoutingPolicyWorkflowInput = {
      maxChangesPerRun: 2,
      statsRefreshMs: 0,
      pending: updates.slice(0, 4).map((payload) => ({ type: 'update', payload, receivedAt: new Date().toISOString() })),
    };
    const handle = await t.client.workflow.start(routingPolicyWorkflow, { workflowId: o.workflowId!, taskQueue: t.taskQueue, args: [input] });
    const firstRunId = handle.firstExecutionRunId;
    for (const u of updates.slice(4)) await handle.signal(applyRoutingUpdateSignal, u);

    const outcomes = await until('all outcomes', async () => {
      const all = await Promise.all(updates.map((u) => handle.query(routingChangeOutcomeQuery, u.id)));
      return all.every((x) => x !== null) ? all : null;
    }, 30_000);
    expect(outcomes.map((x) => x.status)).toEqual(['accepted', 'accepted', 'rejected', 'accepted', 'accepted', 'accepted', 'accepted']);
    const versions = outcomes.flatMap((x) => (x.status === 'accepted' ? [x.version] : []));
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);

    const policy = await handle.query(currentPolicyQuery);
    expect(policy).toMatchObject({ version: versions.at(-1), weights: { google: 2 }, explorationRate: 0.2, explorationMethod: 'ucb', strategy: 'performance_based' });
    expect(policy.rules.map((r) => r.task_type)).toEqual(['code_review', 't1', 't3']);
    expect(Object.keys(policy.demoted)).toEqual(['anthropic']);

    const history = await handle.query(policyHistoryQuery);
    const seedVersion = history[0]!.version;
    expect(history.map((h) => h.version)).toEqual([seedVersion, ...versions]);
    expect(history.map((h) => h.kind)).toEqual(['seed', 'set_rule', 'set_weights', 'demote', 'set_exploration', 'set_rule', 'set_strategy']);
    expect((await handle.query(rejectedRoutingChangesQuery)).map((r) => r.id)).toEqual(['can-2']);

    const status = await handle.query(routingPolicyStatusQuery);
    expect(status.runs).toBeGreaterThanOrEqual(4); // 7 changes, 2 per run
    expect(status.pending).toBe(0);
    const desc = await t.client.workflow.getHandle(o.workflowId!).describe();
    expect(desc.runId).not.toBe(firstRunId);
    expect(desc.status.name).toBe('RUNNING');

    // The first run handed its unapplied changes to the next one in its continue-as-new input.
    const firstRun = await t.client.workflow.getHandle(o.workflowId!, firstRunId).fetchHistory();
    const handover = firstRun.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.input?.payloads?.[0];
    expect(handover).toBeDefined();
    // Decrypted first: histories hold the codec's ciphertext.
    const [decoded] = await testDataConverter().payloadCodecs![0]!.decode([handover!]);
    const carried = defaultPayloadConverter.fromPayload<RoutingPolicyWorkflowInput>(decoded!);
    expect(carried.pending!.length).toBeGreaterThanOrEqual(2);
    expect(carried.state).toMatchObject({ runs: 2, changes: 2 });

    // One database row per accepted version, keyed by the chain's first run: none lost, none doubled.
    // (A rejected change uses no number: change n of the chain is the n-th accepted one.)
    for (const [n, v] of [seedVersion, ...versions].entries()) {
      expect((await queries.policyVersionByKey(`routing-policy:${firstRunId}:${n}`))?.version).toBe(v);
    }
  });

  it('loads the statistics snapshot from the database on start and serves it by query', async () => {
    const at = new Date();
    const record: InteractionRecord = {
      workflowId: `llm-request-stats-${randomUUID()}`,
      requestId: null,
      userId: 'u',
      taskType: 'stats_probe',
      complexity: 'medium',
      complexityScore: 0.4,
      prompt: 'p',
      systemPrompt: null,
      response: 'r',
      confidence: 1,
      agreement: 1,
      consensusStrategy: 'lexical',
      consensusApplied: true,
      status: 'completed',
      errorType: null,
      errorMessage: null,
      routingPolicyVersion: 1,
      routingRule: null,
      providersUsed: ['openai', 'google'],
      tokensIn: 2,
      tokensOut: 2,
      costUsd: 0.002,
      processingTimeMs: 10,
      startedAt: at,
      completedAt: at,
      providerCalls: ['openai:gpt-4o-mini', 'google:gemini-2.0-flash'].map((s, i) => {
        const [provider, model] = s.split(':') as [string, string];
        return { callIndex: i, provider, model, attempts: 1, status: 'succeeded' as const, errorType: null, errorMessage: null, latencyMs: 50 + i * 50, tokensIn: 1, tokensOut: 1, costUsd: 0.001, finishReason: 'stop', providerRequestId: null };
      }),
    };
    await memory.persistInteraction(record);
    const o = routingOptions('stats', { statsRefreshMs: 60_000 });
    const handle = await ensureRoutingPolicyWorkflow(o);
    const stats = await until('stats', () => handle.query(routingStatsQuery));
    const probe = stats.entries.filter((e) => e.key.taskType === 'stats_probe' && e.key.complexity === 'medium');
    expect(probe.map((e) => [e.selector, e.calls, e.successRate, e.quality])).toEqual([
      ['google:gemini-2.0-flash', 1, 1, 1],
      ['openai:gpt-4o-mini', 1, 1, 1],
    ]);
  });
});

describe('config.yaml base announcements', () => {
  it('a chain carried over from before the base existed takes its seed as the old base; a malformed announcement is rejected, the policy unchanged', async () => {
    const o = routingOptions('legacy-base');
    // State as a run from before patch routing-config-base hands it over: no base, no providers.
    const at = new Date().toISOString();
    const seed: RoutingPolicy = { ...policyFromConfig(config, at), version: 1 };
    const runtimeRule = applyUpdateOrThrow(seed, { kind: 'set_rule', rule: { id: 'rt-rule', task_type: 'rt', providers: ['google'] }, source: 'cli:old', reason: 'before the upgrade' });
    const state: RoutingPolicyState = {
      policy: runtimeRule,
      changes: 1,
      history: [
        { version: 1, kind: 'seed', summary: 'initial policy from configuration', source: 'config.yaml', reason: 'seed', at, basedOn: null },
        { version: 2, kind: 'set_rule', summary: 'set rule rt-rule', source: 'cli:old', reason: 'before the upgrade', at, basedOn: 1 },
      ],
      recent: [seed, runtimeRule],
      rejections: [],
      outcomes: [],
      stats: null,
      statsLoadedAt: null,
      runs: 3,
    };
    await t.client.workflow.start(routingPolicyWorkflow, { workflowId: o.workflowId!, taskQueue: t.taskQueue, args: [{ state, statsRefreshMs: 0 }] });
    const handle = t.client.workflow.getHandle(o.workflowId!);

    const edited = testConfig({ routing: { ...config.routing, rules: [...config.routing.rules, { id: 'translation-any', task_type: 'translation', providers: ['google'] }] } });
    const result = accepted(await applyBaseConfig(o, routingBaseConfig(edited), true));
    const policy = await handle.query(currentPolicyQuery);
    expect(policy).toMatchObject({ version: result.version, source: 'config.yaml', reason: 'config.yaml changed: rule +translation-any. run-time changes kept: rule +rt-rule', basedOn: 2 });
    expect(policy.rules.map((r) => r.id)).toEqual(['review-any', 'translation-any', 'rt-rule']);
    expect((await memory.latestPolicyVersion())?.version).toBe(result.version);

    await handle.signal(applyBaseConfigSignal, { base: { strategy: 'fastest', rules: [], defaultProviders: ['openai'], defaultFallback: [] }, knownProviders: {}, hash: 'x', source: 'raw', id: 'bad-base' } as never);
    const bad = await until('bad base outcome', () => handle.query(routingChangeOutcomeQuery, 'bad-base'));
    expect(bad).toMatchObject({ status: 'rejected', error: { code: 'InvalidUpdate' } });
    expect((await handle.query(currentPolicyQuery)).version).toBe(result.version);
  });
});

function applyUpdateOrThrow(policy: RoutingPolicy, update: Parameters<typeof applyUpdate>[1]): RoutingPolicy {
  const r = applyUpdate(policy, update, knownProvidersFromConfig(config));
  if (!r.ok) throw new Error(r.error.message);
  return r.policy;
}

describe('worker-side policy cache', () => {
  it('picks a new version up within seconds, without a query per request; falls back to the database, and keeps the last good policy when nothing answers', async () => {
    const o = routingOptions('cache');
    const seed = (await showRouting(o)).policy;
    const initial = { ...policyFromConfig(config, new Date().toISOString()), version: 0 };
    const cache = new RoutingPolicyCache({ sources: [workflowPolicySource(t.client, o.workflowId), databasePolicySource(memory)], initial, refreshIntervalMs: 250 }).start();
    try {
      await until('first refresh', async () => cache.current().version === seed.version);
      expect(cache.origin).toBe(`workflow ${o.workflowId}`);

      const changed = accepted(await setRule(o, { rule: { task_type: 'cache_probe', providers: ['google'] }, reason: 'cache test' }));
      const sent = Date.now();
      await until('new version in the cache', async () => cache.current().version === changed.version, 5_000);
      expect(Date.now() - sent).toBeLessThan(3_000);
      expect(cache.current().rules.some((r) => r.task_type === 'cache_probe')).toBe(true);

      // No workflow to ask: the latest stored version; nothing answers at all: the last good policy stays.
      const missing = workflowPolicySource(t.client, `${o.workflowId}-missing`);
      const fallback = new RoutingPolicyCache({ sources: [missing, databasePolicySource(memory)], initial });
      await fallback.refresh();
      expect(fallback.origin).toBe('database');
      expect(fallback.current().version).toBe((await memory.latestPolicyVersion())!.version);
      const stuck = new RoutingPolicyCache({ sources: [missing], initial: cache.current() });
      expect(await stuck.refresh()).toBe(cache.current());
      expect(stuck.origin).toBe('initial');

      // A workflow not started yet and an empty database is a fresh start, not a failure (no warning);
      // a source that errors is one.
      const logs: { level: string; msg: string }[] = [];
      const capture = (level: string) => (...args: unknown[]) => void logs.push({ level, msg: String(args[1]) });
      const logger = { info: capture('info'), warn: capture('warn') } as unknown as RoutingPolicyCacheOptions['logger'] & object;
      const empty = { name: 'database', load: async () => null };
      await new RoutingPolicyCache({ sources: [missing, empty], initial, logger }).refresh();
      expect(logs).toEqual([{ level: 'info', msg: "no routing policy stored yet; planning with config.yaml's base" }]);
      logs.length = 0;
      const broken = { name: 'database', load: () => Promise.reject(new Error('database is down')) };
      await new RoutingPolicyCache({ sources: [missing, broken], initial, logger }).refresh();
      expect(logs).toEqual([{ level: 'warn', msg: 'routing policy refresh failed; keeping the current policy' }]);
    } finally {
      await cache.stop();
    }
  });
});

describe('routing CLI commands', () => {
  it('routing set-rule, show and rollback', async () => {
    const o = routingOptions('cli');
    const lines: string[] = [];
    const run = async (...args: string[]) => {
      lines.length = 0;
      const program = addRoutingCommands(new Command('orchestrator').exitOverride(), { connect: async () => ({ routing: o, close: async () => {} }), out: (l) => lines.push(l) });
      await program.parseAsync(['routing', ...args], { from: 'user' });
      return lines.join('\n');
    };

    const seedVersion = (await showRouting(o)).policy.version;
    const set = await run('set-rule', '--task-type', 'question_answering', '--complexity', 'simple', '--providers', 'google,openai:gpt-4o', '--require-consensus', '--min-providers', '2', '--reason', 'from the CLI test', '--source', 'cli:test');
    expect(set).toMatch(/^accepted: routing policy v\d+ \(set rule question_answering:simple \(question_answering\/simple -> google, openai:gpt-4o; consensus; min 2\)\)$/);

    const shown = await run('show');
    expect(shown).toMatch(/Routing policy v\d+/);
    expect(shown).toMatch(/question_answering:simple\s+question_answering\/simple\s+google, openai:gpt-4o {2}\[consensus, min 2\]/);
    expect(shown).toMatch(/cli:test: set rule question_answering:simple/);

    const json = JSON.parse(await run('show', '--json')) as { policy: RoutingPolicy };
    expect(json.policy.rules.at(-1)).toMatchObject({ task_type: 'question_answering', min_providers: 2, require_consensus: true });

    await expect(run('set-rule', '--task-type', 'qa', '--providers', 'mistral')).rejects.toThrow(/routing change rejected \(UnknownProvider\): set_rule rejected: rule\.providers\.0: unknown provider "mistral"/);

    const back = await run('rollback', String(seedVersion), '--reason', 'undo');
    expect(back).toMatch(/^accepted: routing policy v\d+ \(rollback to v\d+\)$/);
    expect((await showRouting(o)).policy.rules.map((r) => r.id)).toEqual(['review-any']);
  });
});
