/**
 * The improvement workflows on the real test dev server, with their real activities, the real
 * routing-policy workflow and a SQLite database: a degraded provider is demoted through a signal;
 * with thresholds not met the proposal waits and an approval through the CLI applies it;
 * experiments conclude with a clear winner and without one when the variants are equal;
 * meta-prompting proposes a prompt experiment that an approval starts; the schedule is created and
 * updated idempotently, paused by configuration, and triggered now.
 *
 * Each test has its own window of history (windowEnd) and its own routing-policy workflow.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImprovementActivities } from '../../activities/improvement';
import { createRoutingActivities } from '../../activities/routing';
import { addImprovementCommands, type ImprovementConnection } from '../../client/improvement-cli';
import { approveProposal, rejectProposal, runImprovement, type ImprovementClientOptions } from '../../client/improvement';
import type { Config } from '../../src/config/schema';
import { IMPROVEMENT_WORKFLOW_TYPE } from '../../src/improvement/constants';
import { ImprovementError } from '../../src/improvement/errors';
import { ensureImprovementSchedule, triggerImprovementNow } from '../../src/improvement/schedule';
import { createImprovementStore, type ImprovementStore } from '../../src/improvement/store';
import { createMemoryStore, type MemoryStore } from '../../src/memory/repository';
import { createStatsQueries } from '../../src/memory/stats-queries';
import type { ModelConnector } from '../../src/providers/types';
import { ROUTING_POLICY_WORKFLOW_ID } from '../../src/routing/constants';
import type { ImprovementWorkflowResult, improvementWorkflow } from '../../workflows/improvement';
import { currentPolicyQuery, policyHistoryQuery } from '../../workflows/routing-policy';
import { testConfig } from '../helpers/config';
import { connectTestTemporal, testDataConverter, WORKFLOWS_PATH, type TemporalTestContext } from '../helpers/temporal';
import { insertRows, scratchSqlite, type ScratchSqlite } from './db-fixtures';
import { HEALTHY, synthetic, withProvider } from './synthetic';

const CANDIDATE_PROMPT = 'Answer the question in one precise sentence, then stop.';

function configWith(improvement: Record<string, unknown>): Config {
  return testConfig({
    improvement: { window_hours: 1, min_data_points: 100, auto_apply_threshold: 0.9, meta_prompting: { enabled: true, model: 'openai', min_samples: 5, max_samples: 3 }, ...improvement },
  });
}

const config = configWith({});
const disabledConfig = configWith({ enable: false });

/** Stands in for the prompt-writing model: answers as a model would, in a code fence. */
const promptWriter: ModelConnector = {
  provider: 'openai',
  kind: 'openai',
  generate: (request) =>
    Promise.resolve({
      content: `Here is a clearer prompt.\n\`\`\`json\n${JSON.stringify({ systemPrompt: CANDIDATE_PROMPT, rationale: 'answers varied in length and form' })}\n\`\`\``,
      provider: 'openai',
      model: request.model,
      tokensIn: 100,
      tokensOut: 40,
      latencyMs: 5,
      finishReason: 'stop',
      providerRequestId: null,
      confidence: null,
    }),
  validateConnection: () => Promise.resolve(true),
  getSupportedModels: () => ['gpt-4o-mini', 'gpt-4o'],
};

let t: TemporalTestContext;
let scratch: ScratchSqlite;
let memory: MemoryStore;
let store: ImprovementStore;
const workers: { worker: Worker; running: Promise<void> }[] = [];
const routingIds: string[] = [];
const schedules: string[] = [];
let disabledQueue: string;

beforeAll(async () => {
  t = await connectTestTemporal('improvement');
  scratch = await scratchSqlite('workflow');
  memory = createMemoryStore(scratch.url, { client: scratch.db });
  store = createImprovementStore(scratch.db, scratch.url);
  const queries = createStatsQueries(scratch.db, scratch.url);
  const start = async (taskQueue: string, cfg: Config) => {
    const worker = await Worker.create({
      connection: t.nativeConnection,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      dataConverter: testDataConverter(),
      activities: {
        ...createRoutingActivities({ config: cfg, memory, queries }),
        ...createImprovementActivities({ config: cfg, store, connectors: new Map([['openai', promptWriter]]) }),
      },
    });
    workers.push({ worker, running: worker.run() });
  };
  await start(t.taskQueue, config);
  disabledQueue = `${t.taskQueue}-disabled`;
  await start(disabledQueue, disabledConfig);
});

afterAll(async () => {
  for (const id of schedules) await t?.client.schedule.getHandle(id).delete().catch(() => undefined);
  for (const id of routingIds) await t?.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  for (const w of workers) w.worker.shutdown();
  await Promise.all(workers.map((w) => w.running));
  await scratch?.close();
  await t?.close();
});

/** SDK options with a routing-policy workflow of this test's own. */
function sdk(label: string, taskQueue = t.taskQueue): ImprovementClientOptions {
  const routingPolicyWorkflowId = `${ROUTING_POLICY_WORKFLOW_ID}-${label}-${randomUUID().slice(0, 8)}`;
  routingIds.push(routingPolicyWorkflowId);
  return { client: t.client, taskQueue, routingPolicyWorkflowId };
}

/** Two hours of history ending at `end`: the first healthy, the second as `current` says. */
async function history(end: string, current: typeof HEALTHY, label: string, requests = 200): Promise<void> {
  const endMs = Date.parse(end);
  const spacingMs = Math.floor(3_600_000 / requests);
  await insertRows(scratch.db, synthetic({ seed: `${label}-prev`, requests, start: new Date(endMs - 7_200_000).toISOString(), spacingMs, providers: HEALTHY, idPrefix: `${label}-prev` }));
  await insertRows(scratch.db, synthetic({ seed: `${label}-cur`, requests, start: new Date(endMs - 3_600_000).toISOString(), spacingMs, providers: current, idPrefix: `${label}-cur` }));
}

function cli(o: ImprovementClientOptions, cfg: Config = config): { program: Command; lines: string[] } {
  const lines: string[] = [];
  const connection: ImprovementConnection = { improvement: o, store, config: cfg, close: () => Promise.resolve() };
  const program = new Command('orchestrator').exitOverride();
  addImprovementCommands(program, { connect: () => Promise.resolve(connection), out: (line) => lines.push(line) });
  return { program, lines };
}

async function policyOf(routingId: string) {
  return t.client.workflow.getHandle(routingId).query(currentPolicyQuery);
}

describe('improvementWorkflow', () => {
  it('a provider that degraded is demoted automatically: the signal changes the routing policy, the proposal is applied and reported', async () => {
    const end = '2026-06-01T12:00:00.000Z';
    await history(end, withProvider(HEALTHY, 'anthropic', { errorRate: 0.35 }), 'auto');
    const o = sdk('auto');
    const { result } = await runImprovement(o, { requestedBy: 'test:auto', windowEnd: end });
    const r = result!;
    expect(r).toMatchObject({ skipped: false, windowStart: '2026-06-01T11:00:00.000Z', windowEnd: end, applied: 1, pending: 0 });
    expect(r.proposals).toEqual([expect.objectContaining({ kind: 'demote', decision: 'apply', status: 'applied' }) as unknown]);
    const proposal = r.proposals[0]!;
    expect(proposal.appliedVersion).toBeGreaterThan(0);

    // The routing-policy workflow took it as a signal and recorded who and why.
    const policy = await policyOf(o.routingPolicyWorkflowId!);
    expect(policy.version).toBe(proposal.appliedVersion);
    expect(Object.keys(policy.demoted)).toEqual(['anthropic:claude-haiku-4-5']);
    expect(policy.source).toBe(`improvement:${r.reportId}`);
    const versions = await t.client.workflow.getHandle(o.routingPolicyWorkflowId!).query(policyHistoryQuery);
    expect(versions.at(-1)).toMatchObject({ kind: 'demote', version: proposal.appliedVersion });

    // The database has the decision and the final report.
    expect(await store.getProposal(proposal.id)).toMatchObject({ status: 'applied', decidedBy: 'improvement-workflow', appliedVersion: proposal.appliedVersion });
    const stored = await store.getReport(r.reportId!);
    expect(stored.report.proposals[0]).toMatchObject({ status: 'applied', appliedVersion: proposal.appliedVersion, outcome: expect.stringMatching(/^accepted as routing policy v\d+/) as unknown });
    expect(stored.report.analysis.anomalies.length).toBeGreaterThan(0);
    expect(stored.report.requestedBy).toBe('test:auto');

    // Run again over the same window: it is demoted already, nothing new is proposed.
    const again = (await runImprovement(o, { requestedBy: 'test:auto', windowEnd: end })).result!;
    expect(again.proposals).toEqual([]);
  });

  it('thresholds not met: the proposal stays pending; approving it through the CLI applies it; decisions are final', async () => {
    const end = '2026-06-02T12:00:00.000Z';
    await history(end, withProvider(HEALTHY, 'google', { errorRate: 0.4 }), 'pending');
    const o = sdk('pending');
    const r = (await runImprovement(o, { requestedBy: 'test:pending', windowEnd: end, minDataPoints: 100_000 })).result!;
    expect(r).toMatchObject({ applied: 0, pending: 1 });
    const [p] = r.proposals;
    expect(p).toMatchObject({ kind: 'demote', decision: 'pending', status: 'pending' });
    expect(Object.keys((await policyOf(o.routingPolicyWorkflowId!)).demoted)).toEqual([]);

    const { program, lines } = cli(o);
    await program.parseAsync(['node', 'cli', 'improvement', 'proposals']);
    expect(lines.join('\n')).toContain(p!.id);
    expect(lines.join('\n')).toMatch(/fewer than min_data_points 100000/);

    lines.length = 0;
    await program.parseAsync(['node', 'cli', 'improvement', 'approve', p!.id, '--by', 'cli:dana', '--reason', 'google is failing, confirmed']);
    expect(lines.join('\n')).toMatch(new RegExp(`^${p!.id}: applied by cli:dana \\(routing policy v\\d+\\)`));
    const policy = await policyOf(o.routingPolicyWorkflowId!);
    expect(Object.keys(policy.demoted)).toEqual(['google:gemini-2.0-flash']);
    expect(await store.getProposal(p!.id)).toMatchObject({ status: 'applied', decidedBy: 'cli:dana', appliedVersion: policy.version });

    // Asking again, or the opposite, returns the first decision.
    const again = await rejectProposal(o, { proposalId: p!.id, decidedBy: 'cli:erin' });
    expect(again).toMatchObject({ status: 'applied', decidedBy: 'cli:dana', appliedVersion: policy.version });
    // An unknown proposal is a typed error.
    const missing = await approveProposal(o, { proposalId: 'p-000000000000', decidedBy: 'cli:dana' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ImprovementError);
    expect((missing as ImprovementError).code).toBe('ProposalNotFound');
  });

  it('a pending proposal rejected by a person is never applied', async () => {
    const end = '2026-06-03T12:00:00.000Z';
    await history(end, withProvider(HEALTHY, 'openai', { errorRate: 0.4 }), 'reject');
    const o = sdk('reject');
    const r = (await runImprovement(o, { requestedBy: 'test:reject', windowEnd: end, minDataPoints: 100_000 })).result!;
    const p = r.proposals[0]!;
    expect(p).toMatchObject({ kind: 'demote', status: 'pending' });
    const { program, lines } = cli(o);
    await program.parseAsync(['node', 'cli', 'improvement', 'reject', p.id, '--by', 'cli:frank', '--reason', 'planned maintenance']);
    expect(lines.join('\n')).toBe(`${p.id}: rejected by cli:frank: planned maintenance`);
    expect(await store.getProposal(p.id)).toMatchObject({ status: 'rejected', decidedBy: 'cli:frank', outcome: 'planned maintenance' });
    expect(Object.keys((await policyOf(o.routingPolicyWorkflowId!)).demoted)).toEqual([]);
  });

  it('experiments: a clearly better variant wins and its routing change is applied; equal variants conclude with no winner', async () => {
    const better = await store.createExperiment({
      id: 'exp-openai-first',
      name: 'openai first for QA',
      kind: 'routing_policy',
      taskType: 'question_answering',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'openai-first', share: 0.5, config: { update: { kind: 'set_weights', weights: { 'openai:gpt-4o-mini': 1.5 } } } },
      ],
      trafficShare: 0.5,
      minSamples: 300,
      createdBy: 'test',
    });
    const equal = await store.createExperiment({
      id: 'exp-equal',
      name: 'same prompt twice',
      kind: 'prompt_template',
      taskType: 'code_generation',
      variants: [
        { name: 'a', share: 0.5, config: { systemPrompt: null } },
        { name: 'b', share: 0.5, config: { systemPrompt: null } },
      ],
      trafficShare: 0.5,
      minSamples: 300,
      createdBy: 'test',
    });
    // Outside every run's window (2025), so only the experiment analysis sees them.
    const rows = (id: string, variant: string, goodRate: number, n: number, seed: string) =>
      synthetic({ seed, requests: n, start: '2025-01-01T00:00:00.000Z', providers: HEALTHY, idPrefix: `${id}-${variant}` }).map((row, i) => ({
        ...row,
        status: 'completed' as const,
        experimentId: id,
        variant,
        thresholdMet: (i * 7919) % 1000 < goodRate * 1000,
      }));
    await insertRows(scratch.db, [...rows(better.id, 'control', 0.6, 320, 'b1'), ...rows(better.id, 'openai-first', 0.85, 320, 'b2'), ...rows(equal.id, 'a', 0.7, 320, 'e1'), ...rows(equal.id, 'b', 0.7, 320, 'e2')]);

    const o = sdk('experiments');
    const r = (await runImprovement(o, { requestedBy: 'test:experiments', windowEnd: '2026-06-04T12:00:00.000Z' })).result!;
    expect(r.experiments).toEqual(
      expect.arrayContaining([
        { experimentId: 'exp-openai-first', action: 'conclude', winner: 'openai-first' },
        { experimentId: 'exp-equal', action: 'conclude', winner: null },
      ]),
    );
    const winner = r.proposals.find((p) => p.summary.includes('exp-openai-first'));
    expect(winner).toMatchObject({ kind: 'weights', decision: 'apply', status: 'applied' });
    expect((await policyOf(o.routingPolicyWorkflowId!)).weights).toEqual({ 'openai:gpt-4o-mini': 1.5 });
    expect(await store.getExperiment('exp-openai-first')).toMatchObject({ status: 'concluded', result: { analysis: { winner: 'openai-first' } } });
    const ended = await store.getExperiment('exp-equal');
    expect(ended).toMatchObject({ status: 'concluded', result: { analysis: { winner: null } } });
    expect(ended.result!.looks).toHaveLength(1);
    expect(ended.reason).toMatch(/no winner/);
  });

  it('meta-prompting proposes a prompt experiment; approving it starts the experiment; the CLI shows and stops it', async () => {
    const end = '2026-06-05T12:00:00.000Z';
    const low = synthetic({ seed: 'meta', requests: 8, start: '2026-06-05T11:10:00.000Z', providers: HEALTHY, taskTypes: ['summarize'], idPrefix: 'meta' }).map((row) => ({
      ...row,
      status: 'completed' as const,
      consensusApplied: true,
      agreement: 0.2,
    }));
    await insertRows(scratch.db, low, { systemPrompt: 'Summarise.' });
    const o = sdk('meta');
    const r = (await runImprovement(o, { requestedBy: 'test:meta', windowEnd: end })).result!;
    const p = r.proposals.find((x) => x.kind === 'prompt_experiment');
    expect(p).toMatchObject({ decision: 'pending', status: 'pending' });
    const stored = await store.getProposal(p!.id);
    expect(stored.change).toMatchObject({ type: 'experiment', experiment: { kind: 'prompt_template', taskType: 'summarize', variants: [{ name: 'current', config: { systemPrompt: 'Summarise.' } }, { name: 'candidate', config: { systemPrompt: CANDIDATE_PROMPT } }] } });

    const decided = await approveProposal(o, { proposalId: p!.id, decidedBy: 'cli:gina' });
    expect(decided).toMatchObject({ status: 'applied', decidedBy: 'cli:gina', outcome: expect.stringMatching(/experiment prompt-summarize-[0-9a-f]{8} started/) as unknown });
    const experimentId = /experiment (\S+) started/.exec(decided.outcome!)![1]!;
    expect(await store.getExperiment(experimentId)).toMatchObject({ status: 'running', kind: 'prompt_template', taskType: 'summarize', trafficShare: 0.1 });

    const { program, lines } = cli(o);
    await program.parseAsync(['node', 'cli', 'experiments', 'show', experimentId]);
    expect(lines.join('\n')).toMatch(/continue: no decision yet/);
    await program.parseAsync(['node', 'cli', 'experiments', 'stop', experimentId, '--reason', 'test over', '--by', 'cli:gina']);
    expect(lines.at(-1)).toBe(`stopped experiment ${experimentId}: stopped by cli:gina: test over`);
  });

  it('improvement.enable false: a scheduled run does nothing; a manual run proposes but applies nothing', async () => {
    const o = sdk('disabled', disabledQueue);
    const handle = await t.client.workflow.start<typeof improvementWorkflow>(IMPROVEMENT_WORKFLOW_TYPE, {
      workflowId: `improvement-disabled-${randomUUID().slice(0, 8)}`,
      taskQueue: disabledQueue,
      args: [{ trigger: 'schedule', routingPolicyWorkflowId: o.routingPolicyWorkflowId! }],
    });
    expect(await handle.result()).toMatchObject({ skipped: true, reportId: null });
    const end = '2026-06-06T12:00:00.000Z';
    await history(end, withProvider(HEALTHY, 'anthropic', { errorRate: 0.4 }), 'disabled');
    const r = (await runImprovement(o, { requestedBy: 'test:disabled', windowEnd: end })).result!;
    expect(r.proposals).toEqual([expect.objectContaining({ kind: 'demote', decision: 'pending', status: 'pending' }) as unknown]);
    expect((await store.getReport(r.reportId!)).report.notes).toContain('improvement.enable is false: proposals wait for a person');
  });

  it('the CLI runs a report and prints it as Markdown and JSON', async () => {
    const o = sdk('cli');
    const { program, lines } = cli(o);
    await program.parseAsync(['node', 'cli', 'improvement', 'run', '--window-end', '2026-06-07T12:00:00.000Z', '--json', '--by', 'cli:hal']);
    const { result } = JSON.parse(lines.join('\n')) as { result: ImprovementWorkflowResult };
    lines.length = 0;
    await program.parseAsync(['node', 'cli', 'improvement', 'report', result.reportId!, '--format', 'json']);
    expect(JSON.parse(lines.join('\n'))).toMatchObject({ id: result.reportId, trigger: 'manual', requestedBy: 'cli:hal' });
    lines.length = 0;
    await program.parseAsync(['node', 'cli', 'improvement', 'report']);
    expect(lines.join('\n')).toContain(`# Improvement report ${result.reportId}`);
  });
});

describe('improvement schedule', () => {
  it('created once, updated after (interval and pause follow the configuration), triggered now', async () => {
    const scheduleId = `improvement-test-${randomUUID().slice(0, 8)}`;
    schedules.push(scheduleId);
    const o = sdk('schedule');
    const base = { client: t.client, taskQueue: t.taskQueue, scheduleId, workflowId: `improvement-scheduled-${scheduleId}`, workflowInput: { routingPolicyWorkflowId: o.routingPolicyWorkflowId! } };
    const created = await ensureImprovementSchedule({ ...base, config });
    expect(created).toMatchObject({ created: true, paused: false, intervalHours: 24 });
    const again = await ensureImprovementSchedule({ ...base, config });
    expect(again).toMatchObject({ created: false, paused: false, intervalHours: 24 });

    const paused = await ensureImprovementSchedule({ ...base, config: configWith({ enable: false, analysis_interval: 6 }) });
    expect(paused).toMatchObject({ created: false, paused: true, intervalHours: 6 });
    const resumed = await ensureImprovementSchedule({ ...base, config: configWith({ analysis_interval: 12 }) });
    expect(resumed).toMatchObject({ paused: false, intervalHours: 12 });

    await triggerImprovementNow({ client: t.client, scheduleId });
    const deadline = Date.now() + 20_000;
    let runs: { workflowId: string }[] = [];
    while (runs.length === 0 && Date.now() < deadline) {
      runs = (await t.client.schedule.getHandle(scheduleId).describe()).info.recentActions.map((a) => a.action.workflow);
      if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(runs).toHaveLength(1);
    const result = await t.client.workflow.getHandle<typeof improvementWorkflow>(runs[0]!.workflowId).result();
    expect(result).toMatchObject({ skipped: false });
    expect((await store.getReport(result.reportId!)).report.trigger).toBe('schedule');
  });

  it('the CLI creates the schedule from the configuration', async () => {
    const scheduleId = `improvement-cli-${randomUUID().slice(0, 8)}`;
    schedules.push(scheduleId);
    const lines: string[] = [];
    const program = new Command('orchestrator').exitOverride();
    addImprovementCommands(program, {
      connect: () => Promise.resolve({ improvement: { client: t.client, taskQueue: t.taskQueue }, store, config: configWith({ enable: false }), close: () => Promise.resolve() }),
      out: (line) => lines.push(line),
      schedule: { scheduleId },
    });
    await program.parseAsync(['node', 'cli', 'improvement', 'schedule']);
    expect(lines[0]).toBe(`schedule ${scheduleId} created: every 24 h, PAUSED (paused: improvement.enable is false in the configuration)`);
  });
});
