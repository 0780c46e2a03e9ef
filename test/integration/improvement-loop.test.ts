/**
 * The self-improvement loop end to end, on the test dev server with the real runtime, the real
 * worker, the provider emulator and real request workflows (no row is written by hand):
 *
 * 1. History from real requests: a healthy stretch, then openai (gpt-4o-mini) fails 60% of its
 *    calls and every request fails over to the next provider. The improvement schedule, triggered
 *    now, demotes gpt-4o-mini with its evidence through an `applyRoutingUpdate` signal to the
 *    stack's routing-policy workflow; the next default-route requests start with anthropic.
 * 2. The same degradation with min_data_points out of reach: the proposal stays pending, nothing
 *    changes; `improvement approve <id>` run as a child process (environment only, as a person
 *    runs it) applies it, and the next requests follow.
 * 3. A/B experiments on live traffic (planning assigns each request by its id, the interaction
 *    records the variant): a routing variant that avoids a failing model concludes as the winner
 *    and its rule is applied; two identical prompt variants conclude with no winner.
 *
 * Settings that make a run meaningful at this volume: circuit breakers off (an open circuit would
 * skip the failing model and hide its failures), one attempt per call (a failure is a failure),
 * min_calls_per_test 20.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImprovement } from '../../client/improvement';
import { ensureRoutingPolicyWorkflow, showRouting, type RoutingClientOptions } from '../../client/routing';
import type { Config, RoutingRule } from '../../src/config/schema';
import { TASK_QUEUE } from '../../src/constants';
import { assignVariant } from '../../src/improvement/assignment';
import type { Experiment } from '../../src/improvement/experiments';
import { ensureImprovementSchedule, triggerImprovementNow } from '../../src/improvement/schedule';
import { openImprovementStore, type ImprovementStoreHandle } from '../../src/improvement/store';
import { ROUTING_POLICY_WORKFLOW_ID } from '../../src/routing/constants';
import type { OrchestrateRequest, OrchestrationResult } from '../../src/types';
import type { ImprovementWorkflowResult, improvementWorkflow } from '../../workflows/improvement';
import { currentPolicyQuery, policyHistoryQuery } from '../../workflows/routing-policy';
import { REPO_ROOT } from '../helpers/config';
import { startStack, type TestStack } from '../helpers/stack';

const execFileAsync = promisify(execFile);
const run = Date.now().toString(36);
const DEGRADED = 'openai:gpt-4o-mini';
const HEALTHY_REQUESTS = 40;
const DEGRADED_REQUESTS = 40;
const CONCURRENCY = 6;

/** Translation requests go to gpt-4o only, with no fallback: when it fails, the request fails. */
const TRANSLATION_RULE: RoutingRule = { id: 'translation-route', task_type: 'translation', complexity: 'any', providers: ['openai:gpt-4o'], require_consensus: false, fallback: [] };

function configure(improvement: Partial<Config['improvement']>) {
  return (c: Config): Config => ({
    ...c,
    routing: { ...c.routing, rules: [...c.routing.rules, TRANSLATION_RULE] },
    resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false } },
    performance: { ...c.performance, models: Object.fromEntries(Object.entries(c.performance.models).map(([p, m]) => [p, { ...m, max_attempts: 1 }])) },
    improvement: { ...c.improvement, min_calls_per_test: 20, ...improvement },
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function concurrently<T>(items: readonly T[], task: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i]!, i);
      }
    }),
  );
}

type Outcome = { requestId: string; result: OrchestrationResult | null; error: string | null };

async function send(stack: TestStack, requests: readonly OrchestrateRequest[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array<Outcome>(requests.length);
  await concurrently(requests, async (request, i) => {
    try {
      out[i] = { requestId: request.requestId!, result: await stack.client.processRequest(request), error: null };
    } catch (err) {
      out[i] = { requestId: request.requestId!, result: null, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
  });
  return out;
}

/** Question-answering requests that name the three providers: one is called, the others are its failover chain. */
function failoverRequests(label: string, n: number): OrchestrateRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    prompt: `Name a planet of the solar system (${label} ${i}).`,
    taskType: 'question_answering',
    userId: 'user-improvement',
    providers: ['openai', 'anthropic', 'google'],
    minProviders: 1,
    requireConsensus: false,
    complexityOverride: 'simple' as const,
    requestId: `improvement-loop-${run}-${label}-${i}`,
  }));
}

/** A request on the default route (no providers named). */
function defaultRouteRequest(label: string, i: number): OrchestrateRequest {
  return { prompt: `Name a moon of Jupiter (${label} ${i}).`, taskType: 'question_answering', userId: 'user-improvement', complexityOverride: 'simple', requestId: `improvement-loop-${run}-${label}-${i}` };
}

function results(outcomes: readonly Outcome[]): OrchestrationResult[] {
  const failed = outcomes.filter((o) => o.result === null);
  if (failed.length > 0) throw new Error(`${failed.length} request(s) failed, e.g. ${failed[0]!.error}`);
  return outcomes.map((o) => o.result!);
}

/**
 * A healthy stretch, then gpt-4o-mini fails 60% of its calls (HTTP 500): the history an
 * improvement run compares. Returns the window that holds the degraded stretch (the window
 * before it, of the same length, holds the healthy one).
 */
async function degradeHistory(stack: TestStack, label: string): Promise<{ windowEnd: string; windowHours: number; healthy: OrchestrationResult[]; degraded: OrchestrationResult[] }> {
  const t0 = Date.now();
  const healthy = results(await send(stack, failoverRequests(`${label}-healthy`, HEALTHY_REQUESTS)));
  await sleep(50);
  const split = Date.now();
  await sleep(50);
  stack.runtime.emulator!.setModelSettings('gpt-4o-mini', { faults: [{ kind: 500, rate: 0.6 }] });
  const degraded = results(await send(stack, failoverRequests(`${label}-degraded`, DEGRADED_REQUESTS)));
  const span = Math.max(split - t0, Date.now() - split) + 2_000;
  return { windowEnd: new Date(split + span).toISOString(), windowHours: span / 3_600_000, healthy, degraded };
}

/** Wait until the worker plans with `version`. */
async function planningWith(stack: TestStack, version: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (stack.runtime.policyCache.current().version !== version) {
    if (Date.now() > deadline) throw new Error(`the worker still plans with v${stack.runtime.policyCache.current().version}, not v${version}`);
    await sleep(50);
  }
}

function firstProvider(r: OrchestrationResult): string {
  return r.metadata.providers[0]!.provider;
}

describe('the improvement loop on real traffic', () => {
  let stack: TestStack;
  let store: ImprovementStoreHandle;
  let routing: RoutingClientOptions;
  const scheduleId = `improvement-loop-${run}`;

  beforeAll(async () => {
    stack = await startStack({ label: 'improvement-loop', policyRefreshMs: 200, configure: configure({ min_data_points: 60, auto_apply_threshold: 0.9 }) });
    store = openImprovementStore(stack.databaseUrl);
    routing = { client: stack.temporal.client, taskQueue: stack.temporal.taskQueue, workflowId: stack.routingPolicyWorkflowId };
    await ensureRoutingPolicyWorkflow(routing);
  });
  afterAll(async () => {
    await stack?.temporal.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    await stack?.temporal.client.workflow.getHandle(stack.routingPolicyWorkflowId).terminate('test over').catch(() => undefined);
    await store?.close();
    await stack?.close();
  });

  it('a provider that degrades is demoted by the scheduled run (triggered now) through a signal; the next requests follow', async () => {
    const before = (await showRouting(routing)).policy;
    await planningWith(stack, before.version);
    const beforeDemotion = await stack.client.processRequest(defaultRouteRequest('before', 0));
    expect(firstProvider(beforeDemotion)).toBe('openai');
    const { windowEnd, windowHours, degraded } = await degradeHistory(stack, 'auto');

    // The history is real: openai was called first every time, and failed over when it failed.
    const failedOver = degraded.filter((r) => r.metadata.providers[0]?.status === 'failed');
    expect(failedOver.length).toBeGreaterThanOrEqual(12);
    expect(failedOver.length).toBeLessThan(DEGRADED_REQUESTS);
    for (const r of failedOver) expect(r.metadata.providers.map((p) => `${p.provider}:${p.status}`)).toEqual(['openai:failed', 'anthropic:succeeded']);

    // The schedule (created from code, on this stack's queue and routing-policy workflow), run now.
    const schedule = await ensureImprovementSchedule({
      client: stack.temporal.client,
      config: stack.config,
      taskQueue: stack.temporal.taskQueue,
      scheduleId,
      workflowId: `improvement-scheduled-${run}`,
      workflowInput: { routingPolicyWorkflowId: stack.routingPolicyWorkflowId, overrides: { windowEnd, windowHours } },
    });
    expect(schedule).toMatchObject({ created: true, paused: false });
    await triggerImprovementNow({ client: stack.temporal.client, scheduleId });
    let started: string | undefined;
    for (let i = 0; i < 100 && !started; i++) {
      started = (await stack.temporal.client.schedule.getHandle(scheduleId).describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!started) await sleep(200);
    }
    expect(started).toBeDefined();
    const r: ImprovementWorkflowResult = await stack.temporal.client.workflow.getHandle<typeof improvementWorkflow>(started!).result();

    expect(r.skipped).toBe(false);
    const demote = r.proposals.find((p) => p.kind === 'demote');
    expect(demote).toMatchObject({ decision: 'apply', status: 'applied' });
    expect(demote!.summary).toContain(`demote ${DEGRADED}`);
    expect(r.proposals.filter((p) => p.kind === 'demote')).toHaveLength(1);
    expect(demote!.appliedVersion).toBeGreaterThan(before.version);

    // The evidence: significant error-rate tests on the calls the requests made.
    const stored = await store.getProposal(demote!.id);
    expect(stored).toMatchObject({ status: 'applied', decidedBy: 'improvement-workflow', target: DEGRADED, appliedVersion: demote!.appliedVersion });
    expect(stored.dataPoints).toBeGreaterThanOrEqual(60);
    expect(stored.confidence).toBeGreaterThanOrEqual(0.9);
    expect(stored.evidence.tests.length).toBeGreaterThan(0);
    for (const t of stored.evidence.tests) expect(t.adjustedPValue).toBeLessThan(0.01);
    expect(stored.evidence.tests.map((t) => t.name)).toContain('two-proportion z');
    const errorRate = stored.evidence.figures['errorRate'];
    expect(typeof errorRate === 'number' && errorRate > 0.2).toBe(true);
    const report = await store.getReport(r.reportId!);
    expect(report.report.trigger).toBe('schedule');
    const openaiNow = report.report.analysis.groups.find((g) => g.key.level === 'model' && g.key.provider === 'openai' && g.key.model === 'gpt-4o-mini');
    expect(openaiNow?.current.failed).toBe(failedOver.length);
    expect(openaiNow?.previous?.failed).toBe(0);

    // The routing-policy workflow took the signal: a new version with the demotion, and who and why.
    const policy = await stack.temporal.client.workflow.getHandle(stack.routingPolicyWorkflowId).query(currentPolicyQuery);
    expect(policy.version).toBe(demote!.appliedVersion);
    expect(Object.keys(policy.demoted)).toContain(DEGRADED);
    expect(policy.demoted[DEGRADED]!.source).toBe(`improvement:${r.reportId}`);
    const history = await stack.temporal.client.workflow.getHandle(stack.routingPolicyWorkflowId).query(policyHistoryQuery);
    expect(history.some((v) => v.kind === 'demote' && v.version === demote!.appliedVersion)).toBe(true);

    // The next default-route requests no longer start with openai.
    await planningWith(stack, policy.version);
    const after = results(await send(stack, Array.from({ length: 6 }, (_, i) => defaultRouteRequest('after', i))));
    for (const a of after) {
      expect(a.metadata.routingPolicyVersion).toBe(policy.version);
      expect(firstProvider(a)).toBe('anthropic');
      expect(a.metadata.providersUsed).not.toContain('openai');
    }
  }, 240_000);

  it('experiments on live traffic: a clearly better routing variant wins and is applied; equal prompt variants conclude with no winner', async () => {
    stack.runtime.emulator!.resetFaults();
    const better = await store.createExperiment({
      id: `translation-route-${run}`,
      name: 'translation on gemini instead of gpt-4o',
      kind: 'routing_policy',
      taskType: 'translation',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'google-route', share: 0.5, config: { update: { kind: 'set_rule', rule: { id: 'translation-route', task_type: 'translation', providers: ['google'] } } } },
      ],
      trafficShare: 1,
      minSamples: 20,
      createdBy: 'test:improvement-loop',
    });
    const equal = await store.createExperiment({
      id: `summary-prompt-${run}`,
      name: 'the same prompt twice',
      kind: 'prompt_template',
      taskType: 'summarization',
      variants: [
        { name: 'a', share: 0.5, config: { systemPrompt: null } },
        { name: 'b', share: 0.5, config: { systemPrompt: null } },
      ],
      trafficShare: 1,
      minSamples: 20,
      createdBy: 'test:improvement-loop',
    });
    await stack.runtime.experiments.refresh();

    // Request ids until each arm has 24 requests (assignment is a hash of the request id).
    const perArm = 24;
    const plan = (e: Experiment, label: string) => {
      const arms = new Map<string, string[]>(e.variants.map((v) => [v.name, []]));
      for (let i = 0; [...arms.values()].some((ids) => ids.length < perArm); i++) {
        const requestId = `improvement-loop-${run}-${label}-${i}`;
        const ids = arms.get(assignVariant(e, requestId)!)!;
        if (ids.length < perArm) ids.push(requestId);
      }
      return arms;
    };
    // gpt-4o fails 3 in 5 translation requests in both arms; only the control's route calls it.
    const translation: OrchestrateRequest[] = [...plan(better, 'translate')].flatMap(([, ids]) =>
      ids.map((requestId, k) => ({
        prompt: `Translate "good morning" into language number ${k}.${k % 5 < 3 ? ' [[emulate@gpt-4o:500]]' : ''}`,
        taskType: 'translation',
        userId: 'user-improvement',
        complexityOverride: 'simple' as const,
        requestId,
      })),
    );
    // Every provider fails 1 in 3 summarization requests, the same requests in both arms.
    const summaries: OrchestrateRequest[] = [...plan(equal, 'summary')].flatMap(([, ids]) =>
      ids.map((requestId, k) => ({
        prompt: `Summarise in one line: the meeting moved to room ${k}.${k % 3 === 0 ? ' [[emulate:500]]' : ''}`,
        taskType: 'summarization',
        userId: 'user-improvement',
        complexityOverride: 'simple' as const,
        requestId,
      })),
    );
    const outcomes = await send(stack, [...translation, ...summaries]);
    // Failed: the control's translations that hit the fault, and every faulted summary.
    const faulted = (q: OrchestrateRequest) => q.prompt.includes('[[emulate');
    const expectedFailures = translation.filter((q) => faulted(q) && assignVariant(better, q.requestId!) === 'control').length + summaries.filter(faulted).length;
    expect(expectedFailures).toBe(15 + 16);
    expect(outcomes.filter((o) => o.result === null).map((o) => o.requestId).sort()).toEqual([...translation, ...summaries].filter((q) => faulted(q) && (q.taskType === 'summarization' || assignVariant(better, q.requestId!) === 'control')).map((q) => q.requestId).sort());

    // Each interaction records the experiment and the variant its request id hashes to.
    for (const [e, requests] of [
      [better, translation],
      [equal, summaries],
    ] as const) {
      for (const q of requests) {
        const row = await stack.runtime.memory.getInteraction(`llm-request-${q.requestId!}`);
        expect({ id: q.requestId, experimentId: row?.experimentId, variant: row?.variant }).toEqual({ id: q.requestId, experimentId: e.id, variant: assignVariant(e, q.requestId!) });
      }
    }
    // The google arm never called gpt-4o.
    const googleArm = outcomes.slice(0, translation.length).filter((o) => assignVariant(better, o.requestId) === 'google-route');
    expect(googleArm).toHaveLength(perArm);
    for (const o of googleArm) expect(o.result!.metadata.providersUsed).toEqual(['google']);

    // One run (manual, its history window empty): only the experiments are analysed.
    const r = (await runImprovement({ client: stack.temporal.client, taskQueue: stack.temporal.taskQueue, routingPolicyWorkflowId: stack.routingPolicyWorkflowId }, { requestedBy: 'test:experiments', windowEnd: '2020-01-01T00:00:00.000Z', minDataPoints: 40 })).result!;
    expect(r.experiments).toEqual(
      expect.arrayContaining([
        { experimentId: better.id, action: 'conclude', winner: 'google-route' },
        { experimentId: equal.id, action: 'conclude', winner: null },
      ]),
    );
    const winner = r.proposals.find((p) => p.summary.includes(better.id));
    expect(winner).toMatchObject({ kind: 'rule', decision: 'apply', status: 'applied' });
    expect(r.proposals.some((p) => p.summary.includes(equal.id))).toBe(false);
    const concluded = await store.getExperiment(better.id);
    expect(concluded).toMatchObject({ status: 'concluded', result: { analysis: { winner: 'google-route' } } });
    const ended = await store.getExperiment(equal.id);
    expect(ended).toMatchObject({ status: 'concluded', result: { analysis: { winner: null } } });
    expect(ended.reason).toMatch(/no winner/);
    const arms = ended.result!.analysis.variants;
    expect(arms.map((v) => [v.name, v.samples, v.goodRate])).toEqual([
      ['a', perArm, 16 / 24],
      ['b', perArm, 16 / 24],
    ]);

    // The winning rule is the policy now: the next translation request goes to gemini, outside the ended experiment.
    const policy = await stack.temporal.client.workflow.getHandle(stack.routingPolicyWorkflowId).query(currentPolicyQuery);
    expect(policy.version).toBe(winner!.appliedVersion);
    expect(policy.rules.find((x) => x.id === 'translation-route')?.providers).toEqual(['google']);
    await planningWith(stack, policy.version);
    await stack.runtime.experiments.refresh();
    const next = await stack.client.processRequest({ prompt: 'Translate "thank you" into French.', taskType: 'translation', userId: 'user-improvement', complexityOverride: 'simple', requestId: `improvement-loop-${run}-translate-after` });
    expect(next.metadata.providersUsed).toEqual(['google']);
    expect(next.metadata.routingPolicyVersion).toBe(policy.version);
    expect((await stack.runtime.memory.getInteraction(next.metadata.workflowId))?.experimentId).toBeNull();
  }, 240_000);
});

describe('thresholds not met: the proposal waits for a person, and the CLI applies it', () => {
  // The CLI reaches the worker's task queue and the routing-policy workflow by their default ids
  // (it has no setting for others), so this stack polls TASK_QUEUE and the routing-policy workflow
  // is the default one. The stack's policy cache queries a workflow id of its own
  // (routing-policy-<queue>, not started here) and so falls back to the latest version stored in
  // the database, which the default routing-policy workflow writes through this worker.
  let stack: TestStack;
  let store: ImprovementStoreHandle;

  const terminateDefaultRoutingPolicy = async (t: TestStack) => {
    await t.temporal.client.workflow
      .getHandle(ROUTING_POLICY_WORKFLOW_ID)
      .terminate('improvement-loop test: a routing-policy workflow seeded from this test database')
      .catch(() => undefined);
  };

  beforeAll(async () => {
    stack = await startStack({ label: 'improvement-cli', taskQueue: TASK_QUEUE, policyRefreshMs: 200, configure: configure({ min_data_points: 100_000, auto_apply_threshold: 0.9 }) });
    store = openImprovementStore(stack.databaseUrl);
    await terminateDefaultRoutingPolicy(stack);
  });
  afterAll(async () => {
    if (stack) await terminateDefaultRoutingPolicy(stack);
    await store?.close();
    await stack?.close();
  });

  function cli(...args: string[]) {
    return execFileAsync(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'client', 'cli.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, DATABASE_URL: stack.databaseUrl, CONFIG_PATH: join(REPO_ROOT, 'config.yaml'), LOG_LEVEL: 'warn' },
    });
  }

  it('pending with too few data points; `improvement approve` demotes it through the signal and the next requests follow', async () => {
    const { windowEnd, windowHours } = await degradeHistory(stack, 'pending');
    const r = (await runImprovement({ client: stack.temporal.client, taskQueue: TASK_QUEUE }, { requestedBy: 'test:pending', windowEnd, windowHours })).result!;
    const proposal = r.proposals.find((p) => p.kind === 'demote');
    expect(proposal).toMatchObject({ decision: 'pending', status: 'pending', appliedVersion: null });
    expect(proposal!.summary).toContain(`demote ${DEGRADED}`);
    const stored = await store.getProposal(proposal!.id);
    expect(stored.decisionReason).toMatch(/fewer than min_data_points 100000/);
    expect(stored.confidence).toBeGreaterThanOrEqual(0.9);

    const routingPolicy = stack.temporal.client.workflow.getHandle(ROUTING_POLICY_WORKFLOW_ID);
    const before = await routingPolicy.query(currentPolicyQuery);
    expect(Object.keys(before.demoted)).toEqual([]);
    await planningWith(stack, before.version);
    expect(firstProvider(await stack.client.processRequest(defaultRouteRequest('pending-before', 0)))).toBe('openai');

    const listed = await cli('improvement', 'proposals', '--status', 'pending');
    expect(listed.stdout).toContain(proposal!.id);
    const approved = await cli('improvement', 'approve', proposal!.id, '--by', 'cli:dana', '--reason', 'openai is failing, confirmed');
    const version = Number(new RegExp(`^${proposal!.id}: applied by cli:dana \\(routing policy v(\\d+)\\)`).exec(approved.stdout)?.[1]);
    expect(version).toBeGreaterThan(before.version);

    const after = await routingPolicy.query(currentPolicyQuery);
    expect(after.version).toBe(version);
    expect(Object.keys(after.demoted)).toEqual([DEGRADED]);
    expect(await store.getProposal(proposal!.id)).toMatchObject({ status: 'applied', decidedBy: 'cli:dana', appliedVersion: version });

    await planningWith(stack, version);
    const next = await stack.client.processRequest(defaultRouteRequest('pending-after', 0));
    expect(next.metadata.routingPolicyVersion).toBe(version);
    expect(firstProvider(next)).toBe('anthropic');
  }, 240_000);
});
