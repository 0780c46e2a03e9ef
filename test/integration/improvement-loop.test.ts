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
 * The traffic and the settings that make a run meaningful at this volume (circuit breakers off,
 * one attempt per call, min_calls_per_test 20) are in ../helpers/improvement-traffic.ts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImprovement } from '../../client/improvement';
import { ensureRoutingPolicyWorkflow, showRouting, type RoutingClientOptions } from '../../client/routing';
import { TASK_QUEUE } from '../../src/constants';
import { assignVariant } from '../../src/improvement/assignment';
import { ensureImprovementSchedule, triggerImprovementNow } from '../../src/improvement/schedule';
import { openImprovementStore, type ImprovementStoreHandle } from '../../src/improvement/store';
import { ROUTING_POLICY_WORKFLOW_ID } from '../../src/routing/constants';
import type { ImprovementWorkflowResult, improvementWorkflow } from '../../workflows/improvement';
import { currentPolicyQuery, policyHistoryQuery } from '../../workflows/routing-policy';
import { REPO_ROOT } from '../helpers/config';
import {
  DEGRADED,
  DEGRADED_REQUESTS,
  PER_ARM,
  betterRoutingExperiment,
  defaultRouteRequest,
  degradeHistory,
  equalPromptExperiment,
  faulted,
  firstProvider,
  improvementConfig,
  planningWith,
  results,
  send,
  sleep,
  summaryRequests,
  translationRequests,
} from '../helpers/improvement-traffic';
import { startStack, type TestStack } from '../helpers/stack';

const execFileAsync = promisify(execFile);
const run = `improvement-loop-${Date.now().toString(36)}`;

describe('the improvement loop on real traffic', () => {
  let stack: TestStack;
  let store: ImprovementStoreHandle;
  let routing: RoutingClientOptions;
  const scheduleId = run;

  beforeAll(async () => {
    stack = await startStack({ label: 'improvement-loop', policyRefreshMs: 200, configure: improvementConfig({ min_data_points: 60, auto_apply_threshold: 0.9 }) });
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
    const beforeDemotion = await stack.client.processRequest(defaultRouteRequest(run, 'before', 0));
    expect(firstProvider(beforeDemotion)).toBe('openai');
    const { windowEnd, windowHours, degraded } = await degradeHistory(stack, run, 'auto');

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
    const after = results(await send(stack, Array.from({ length: 6 }, (_, i) => defaultRouteRequest(run, 'after', i))));
    for (const a of after) {
      expect(a.metadata.routingPolicyVersion).toBe(policy.version);
      expect(firstProvider(a)).toBe('anthropic');
      expect(a.metadata.providersUsed).not.toContain('openai');
    }
  }, 240_000);

  it('experiments on live traffic: a clearly better routing variant wins and is applied; equal prompt variants conclude with no winner', async () => {
    stack.runtime.emulator!.resetFaults();
    const better = await store.createExperiment(betterRoutingExperiment(`translation-${run}`));
    const equal = await store.createExperiment(equalPromptExperiment(`summary-${run}`));
    await stack.runtime.experiments.refresh();
    const translation = translationRequests(better, run);
    const summaries = summaryRequests(equal, run);
    const outcomes = await send(stack, [...translation, ...summaries]);
    // Failed: the control's translations that hit the fault, and every faulted summary.
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
    expect(googleArm).toHaveLength(PER_ARM);
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
    expect(concluded.result!.analysis.variants.map((v) => [v.name, v.samples, v.goodRate])).toEqual([
      ['control', PER_ARM, 9 / 24],
      ['google-route', PER_ARM, 1],
    ]);
    const ended = await store.getExperiment(equal.id);
    expect(ended).toMatchObject({ status: 'concluded', result: { analysis: { winner: null } } });
    expect(ended.reason).toMatch(/no winner/);
    const arms = ended.result!.analysis.variants;
    expect(arms.map((v) => [v.name, v.samples, v.goodRate])).toEqual([
      ['a', PER_ARM, 16 / 24],
      ['b', PER_ARM, 16 / 24],
    ]);

    // The winning rule is the policy now: the next translation request goes to gemini, outside the ended experiment.
    const policy = await stack.temporal.client.workflow.getHandle(stack.routingPolicyWorkflowId).query(currentPolicyQuery);
    expect(policy.version).toBe(winner!.appliedVersion);
    expect(policy.rules.find((x) => x.id === 'translation-route')?.providers).toEqual(['google']);
    await planningWith(stack, policy.version);
    await stack.runtime.experiments.refresh();
    const next = await stack.client.processRequest({ prompt: 'Translate "thank you" into French.', taskType: 'translation', userId: 'user-improvement', complexityOverride: 'simple', requestId: `${run}-translate-after` });
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
    stack = await startStack({ label: 'improvement-cli', taskQueue: TASK_QUEUE, policyRefreshMs: 200, configure: improvementConfig({ min_data_points: 100_000, auto_apply_threshold: 0.9 }) });
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
    const { windowEnd, windowHours } = await degradeHistory(stack, run, 'pending');
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
    expect(firstProvider(await stack.client.processRequest(defaultRouteRequest(run, 'pending-before', 0)))).toBe('openai');

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
    const next = await stack.client.processRequest(defaultRouteRequest(run, 'pending-after', 0));
    expect(next.metadata.routingPolicyVersion).toBe(version);
    expect(firstProvider(next)).toBe('anthropic');
  }, 240_000);
});
