/**
 * config.yaml is the base of the routing policy; run-time changes are layered on it. A worker
 * restarted on an edited config.yaml makes the routing-policy workflow record one new version
 * (source config.yaml, the diff in its reason) with the run-time changes kept; requests and
 * `routing show` follow it; the database and the workflow agree; the same config, or a change
 * outside routing, makes no version; a run-time change the new base overrides is named.
 * Real dev server, real runtime and worker (test/helpers/stack.ts), one SQLite database and one
 * routing-policy workflow of this file's own across the restarts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBaseConfig, applyRoutingUpdate, setRule, showRouting, type RoutingChangeResult, type RoutingClientOptions } from '../../client/routing';
import { formatPolicy } from '../../client/routing-cli';
import type { Config } from '../../src/config/schema';
import { createMemoryStore, type MemoryStore } from '../../src/memory/repository';
import { currentPolicyQuery, policyHistoryQuery, rejectedRoutingChangesQuery } from '../../workflows/routing-policy';
import { startStack, type TestStack } from '../helpers/stack';

const run = randomUUID().slice(0, 8);
const taskQueue = `test-routing-base-${run}`;
const workflowId = `routing-policy-base-${run}`;
let dir: string;
let databaseUrl: string;
let memory: MemoryStore;
let stack: TestStack | null = null;
const logLines: string[] = [];

const translationRule = { id: 'translation-any', task_type: 'translation', complexity: 'any' as const, providers: ['google'] };
const qaRule = { id: 'qa-fast', task_type: 'question_answering', complexity: 'simple' as const, providers: ['anthropic'] };

const configA = (c: Config): Config => c;
const configB = (c: Config): Config => ({ ...c, routing: { ...c.routing, rules: [...c.routing.rules, { ...translationRule, require_consensus: false, fallback: [] }] } });

function options(): RoutingClientOptions {
  return { client: stack!.temporal.client, taskQueue, workflowId, workflowInput: { statsRefreshMs: 0 }, waitMs: 20_000 };
}

/** What worker.ts does at start: the runtime, the worker polling, and the base announced (here awaited). */
async function startWorker(configure: (c: Config) => Config): Promise<RoutingChangeResult> {
  await stack?.close();
  stack = await startStack({ label: 'routing-base', databaseUrl, taskQueue, routingPolicyWorkflowId: workflowId, configure, policyRefreshMs: 200, logDestination: { write: (line: string) => void logLines.push(line) } });
  return applyBaseConfig(options(), stack.runtime.routingBase, true);
}

const handle = () => stack!.temporal.client.workflow.getHandle(workflowId);
const rowCount = async () => ((await memory.latestPolicyVersion())?.version ?? 0);

async function until<T>(what: string, fn: () => Promise<T | null | false | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The database's latest version is the workflow's current one, and the worker plans with it. */
async function agreed(): Promise<number> {
  const version = (await handle().query(currentPolicyQuery)).version;
  expect((await memory.latestPolicyVersion())?.version).toBe(version);
  await until(`the worker to plan with v${version}`, async () => stack!.runtime.policyCache.current().version === version);
  return version;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orch-routing-base-'));
  databaseUrl = `file:${join(dir, 'base.db')}`;
});

afterAll(async () => {
  await stack?.temporal.client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
  await stack?.close();
  await memory?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('config.yaml as the routing base across worker restarts', () => {
  let seed: number;
  let layered: number;
  let rebased: number;

  it('a first start seeds the policy from config.yaml and announces the same base: no second version', async () => {
    expect(await startWorker(configA)).toMatchObject({ status: 'unchanged' });
    memory = createMemoryStore(databaseUrl);
    seed = await agreed();
    expect((await handle().query(policyHistoryQuery)).map((h) => h.kind)).toEqual(['seed']);
  });

  it('run-time changes are layered on top as versions', async () => {
    expect(await applyRoutingUpdate(options(), { kind: 'demote', target: 'openai', source: 'test:ops', reason: 'openai degraded' })).toMatchObject({ status: 'accepted' });
    const r = await setRule(options(), { rule: qaRule, source: 'test:ops', reason: 'fast answers' });
    expect(r).toMatchObject({ status: 'accepted' });
    layered = await agreed();
    expect(layered).toBeGreaterThan(seed);
  });

  it('a restart on an edited config.yaml records one new version from config.yaml, keeps the run-time changes, and requests use the new rule', async () => {
    const outcome = await startWorker(configB);
    expect(outcome).toMatchObject({ status: 'accepted' });
    rebased = await agreed();
    expect(rebased).toBe(layered + 1);

    const latest = (await memory.latestPolicyVersion())!;
    expect(latest.source).toBe('config.yaml');
    expect(latest.reason).toMatch(/^config\.yaml changed: rule \+translation-any\. run-time changes kept: rule \+qa-fast, demoted openai$/);

    const view = await showRouting(options());
    expect(view.policy.version).toBe(rebased);
    expect(view.policy.rules.map((r) => r.id)).toEqual(['codegen-simple', 'codegen-complex', 'review-any', 'translation-any', 'qa-fast']);
    expect(Object.keys(view.policy.demoted)).toEqual(['openai']);
    expect(view.history.at(-1)).toMatchObject({ version: rebased, kind: 'config', source: 'config.yaml', summary: 'rule +translation-any' });
    expect(view.base).toMatchObject({ hash: stack!.runtime.routingBase.hash, layers: ['rule +qa-fast', 'demoted openai'] });
    // What `routing show` prints.
    const printed: string[] = [];
    formatPolicy(view, (line) => printed.push(line));
    expect(printed[0]).toBe(`Routing policy v${rebased}`);
    expect(printed.some((l) => /^ {2}translation-any +translation\/any +google$/.test(l))).toBe(true);
    expect(printed).toContain(`  base          config.yaml (${stack!.runtime.routingBase.hash}); run-time changes on top: rule +qa-fast, demoted openai`);
    expect(printed.find((l) => l.startsWith(`  v${rebased} `))).toMatch(/ config +config\.yaml: rule \+translation-any \(config\.yaml changed: rule \+translation-any\. run-time changes kept: /);

    const translated = await stack!.client.processRequest({ prompt: 'Translate "good morning" to French.', taskType: 'translation', userId: 'user-base', requireConsensus: false, requestId: `base-${run}-1` });
    expect(translated.metadata).toMatchObject({ routingRule: 'translation-any', routingPolicyVersion: rebased, providersUsed: ['google'] });
    // The demotion made at run time still applies on the new base.
    const asked = await stack!.client.processRequest({ prompt: 'Name a planet.', taskType: 'question_answering', userId: 'user-base', requireConsensus: false, complexityOverride: 'medium', requestId: `base-${run}-2` });
    expect(asked.metadata.providersUsed).toEqual(['anthropic']);
  });

  it('a restart on the same config.yaml, or on one that changes only a base URL, records no version', async () => {
    expect(await startWorker(configB)).toMatchObject({ status: 'unchanged', version: rebased });
    const baseUrl = (c: Config): Config => {
      const b = configB(c);
      return { ...b, models: { ...b.models, openai: { ...b.models['openai']!, base_url: 'http://127.0.0.1:9/v1' } } };
    };
    expect(await startWorker(baseUrl)).toMatchObject({ status: 'unchanged', version: rebased });
    expect(await agreed()).toBe(rebased);
    expect(await rowCount()).toBe(rebased);
  });

  it('a run-time change the new config.yaml overrides is reported by name: in the version, the rejections and the worker log', async () => {
    // config.yaml now defines qa-fast itself (differently from the run-time rule) and drops translation-any.
    const configC = (c: Config): Config => ({ ...c, routing: { ...c.routing, rules: [...c.routing.rules, { ...qaRule, providers: ['google'], require_consensus: false, fallback: [] }] } });
    expect(await startWorker(configC)).toMatchObject({ status: 'accepted' });
    const version = await agreed();
    expect(version).toBe(rebased + 1);
    const policy = await handle().query(currentPolicyQuery);
    expect(policy.rules.find((r) => r.id === 'qa-fast')?.providers).toEqual(['google']);
    expect(policy.rules.some((r) => r.id === 'translation-any')).toBe(false);
    expect(Object.keys(policy.demoted)).toEqual(['openai']);
    expect(policy.reason).toContain('config.yaml changed: rule +qa-fast; rule -translation-any');
    expect(policy.reason).toContain('conflicts, config.yaml wins: rule qa-fast (set_rule)');

    const rejected = (await handle().query(rejectedRoutingChangesQuery)).filter((r) => r.type === 'base');
    expect(rejected.map((r) => [r.kind, r.error.code, r.error.message.split(':')[0]])).toEqual([['set_rule', 'BaseConflict', 'rule qa-fast']]);

    const changes = logLines.map((l) => JSON.parse(l) as { msg?: string; version?: number; previous?: number; reason?: string }).filter((l) => l.msg === 'routing policy version changed');
    expect(changes.some((l) => l.version === version && l.reason?.includes('rule qa-fast'))).toBe(true);
    // Versions never went backwards in any worker's log.
    for (const l of changes) expect(l.version!).toBeGreaterThan(l.previous!);
  });
});
