/**
 * The improvement store on a real SQLite database (migrated like production): history windows,
 * reports with proposals in one transaction, proposal decisions, experiments, samples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseWindow, type InteractionRow } from '../../src/improvement/analysis';
import { ImprovementError } from '../../src/improvement/errors';
import type { ExperimentInput } from '../../src/improvement/experiments';
import { buildProposals } from '../../src/improvement/proposals';
import { withDecisions, type ImprovementReport } from '../../src/improvement/report';
import { createImprovementStore, type ImprovementStore } from '../../src/improvement/store';
import { policyBody, policyFromConfig } from '../../src/routing/policy';
import { testConfig } from '../helpers/config';
import { insertRows, scratchSqlite, type ScratchSqlite } from './db-fixtures';
import { HEALTHY, synthetic, withProvider } from './synthetic';

let scratch: ScratchSqlite;
let store: ImprovementStore;

beforeAll(async () => {
  scratch = await scratchSqlite('store');
  store = createImprovementStore(scratch.db, scratch.url);
});

afterAll(async () => {
  await scratch?.close();
});

async function expectCode(promise: Promise<unknown>, code: ImprovementError['code']): Promise<ImprovementError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${code}, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImprovementError);
  expect((error as ImprovementError).code).toBe(code);
  return error as ImprovementError;
}

const settings = { anomalyAlpha: 0.01, minErrorRateIncrease: 0.05, minLatencyRatio: 1.3, minCallsPerTest: 30 };

function reportFor(id: string, rows: { current: InteractionRow[]; previous: InteractionRow[] }, window: { start: string; end: string }, previousWindow: { start: string; end: string }): ImprovementReport {
  const analysis = analyseWindow({ ...rows, window, previousWindow, settings });
  const proposals = withDecisions(buildProposals({ reportId: id, analysis, policy: { demoted: [], weights: {}, version: 1 }, settings: { ...settings, timeouts: {}, defaultTimeoutSeconds: 30 } }), { minDataPoints: 100, autoApplyThreshold: 0.9 });
  return {
    id,
    workflowId: `improvement-${id}`,
    trigger: 'manual',
    requestedBy: 'test',
    generatedAt: window.end,
    settings: { ...settings, minDataPoints: 100, autoApplyThreshold: 0.9, windowHours: 1 },
    policyVersion: 1,
    analysis,
    experiments: [],
    proposals,
    notes: [],
  };
}

describe('history windows', () => {
  const rows = synthetic({ seed: 'window', requests: 30, start: '2026-01-01T00:00:00.000Z', spacingMs: 60_000, providers: HEALTHY }).map((r, i) => ({
    ...r,
    id: `w-${i}`,
    feedback: i === 3 ? [0.2, 0.6] : [],
  }));

  beforeAll(async () => {
    await insertRows(scratch.db, rows);
  });

  it('loads the interactions of a window (start inclusive, end exclusive) with calls, dissent and feedback', async () => {
    const { rows: loaded, truncated } = await store.loadInteractions({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:10:00.000Z' }, 1000);
    expect(truncated).toBe(false);
    expect(loaded.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `w-${i}`));
    const original = rows[3]!;
    const three = loaded[3]!;
    expect(three).toMatchObject({ taskType: original.taskType, complexity: original.complexity, status: original.status, consensusApplied: original.consensusApplied, dissenting: original.dissenting, feedback: [0.2, 0.6] });
    expect(three.calls).toEqual(original.calls);
  });

  it('keeps the newest rows when a window has more than maxRows, and says so', async () => {
    const { rows: loaded, truncated } = await store.loadInteractions({ start: '2026-01-01T00:00:00.000Z', end: '2026-01-02T00:00:00.000Z' }, 5);
    expect(truncated).toBe(true);
    expect(loaded.map((r) => r.id)).toEqual(['w-25', 'w-26', 'w-27', 'w-28', 'w-29']);
  });
});

describe('reports and proposals', () => {
  const window = { start: '2026-02-01T12:00:00.000Z', end: '2026-02-02T00:00:00.000Z' };
  const previousWindow = { start: '2026-02-01T00:00:00.000Z', end: '2026-02-01T12:00:00.000Z' };
  const rows = {
    current: synthetic({ seed: 'r-cur', requests: 200, start: window.start, providers: withProvider(HEALTHY, 'google', { errorRate: 0.4 }) }),
    previous: synthetic({ seed: 'r-prev', requests: 200, start: previousWindow.start, providers: HEALTHY }),
  };

  it('saves a report with its proposals (pending) in one go; saving it again changes nothing', async () => {
    const report = reportFor('r-one', rows, window, previousWindow);
    expect(report.proposals.map((p) => p.kind)).toEqual(['demote']);
    expect(await store.saveReport({ report, experimentUpdates: [] })).toEqual({ created: true });
    expect(await store.saveReport({ report, experimentUpdates: [] })).toEqual({ created: false });
    const stored = await store.getReport('r-one');
    expect(stored.report).toEqual(report);
    expect(stored).toMatchObject({ workflowId: 'improvement-r-one', windowStart: window.start, windowEnd: window.end });
    const [p] = await store.listProposals({ status: 'pending', limit: 10 });
    expect(p).toMatchObject({ id: report.proposals[0]!.id, reportId: 'r-one', kind: 'demote', target: 'google:gemini-2.0-flash', status: 'pending', decidedBy: null, change: report.proposals[0]!.change, decisionReason: report.proposals[0]!.decisionReason });
    expect(p!.evidence).toEqual(report.proposals[0]!.evidence);
    expect((await store.latestReport())?.id).toBe('r-one');
  });

  it('a newer report proposing the same change supersedes the older pending proposal', async () => {
    const older = (await store.listProposals({ status: 'pending', limit: 10 }))[0]!;
    const report = reportFor('r-two', rows, window, previousWindow);
    await store.saveReport({ report, experimentUpdates: [] });
    expect(await store.getProposal(older.id)).toMatchObject({ status: 'superseded', decidedBy: 'report:r-two' });
    expect((await store.listProposals({ status: 'pending', limit: 10 })).map((p) => p.id)).toEqual([report.proposals[0]!.id]);
  });

  it('a report that cannot be written leaves nothing behind', async () => {
    const report = reportFor('r-three', rows, window, previousWindow);
    // The proposal id of r-two again: the insert fails on the primary key, after the report row.
    const clash = { ...report, proposals: [{ ...report.proposals[0]!, id: (await store.listProposals({ status: 'pending', limit: 1 }))[0]!.id }] };
    await expect(store.saveReport({ report: clash, experimentUpdates: [] })).rejects.toThrow();
    await expectCode(store.getReport('r-three'), 'ReportNotFound');
    // The pending proposal it would have superseded is still pending.
    expect(await store.listProposals({ status: 'pending', limit: 10 })).toHaveLength(1);
  });

  it('decisions: pending -> applied with the version; the same decision again is a no-op; a different one is refused', async () => {
    const [p] = await store.listProposals({ status: 'pending', limit: 1 });
    const applied = await store.markProposal(p!.id, { status: 'applied', decidedBy: 'improvement-workflow', appliedVersion: 7, outcome: 'accepted as routing policy v7' });
    expect(applied).toMatchObject({ status: 'applied', appliedVersion: 7, decidedBy: 'improvement-workflow', outcome: 'accepted as routing policy v7' });
    expect(applied.decidedAt).not.toBeNull();
    expect(await store.markProposal(p!.id, { status: 'applied', decidedBy: 'someone-else', appliedVersion: 8, outcome: 'again' })).toMatchObject({ appliedVersion: 7, decidedBy: 'improvement-workflow' });
    const e = await expectCode(store.rejectProposal(p!.id, { decidedBy: 'cli:bob', reason: 'no' }), 'ProposalAlreadyDecided');
    expect(e.message).toMatch(/already applied \(by improvement-workflow/);
    await expectCode(store.getProposal('p-nope'), 'ProposalNotFound');
    await expectCode(store.rejectProposal('p-nope', { decidedBy: 'x', reason: 'y' }), 'ProposalNotFound');
  });

  it('reject: pending -> rejected with who and why', async () => {
    const report = reportFor('r-four', rows, window, previousWindow);
    await store.saveReport({ report, experimentUpdates: [] });
    const id = report.proposals[0]!.id;
    expect(await store.rejectProposal(id, { decidedBy: 'cli:carol', reason: 'google is fine, the outage is over' })).toMatchObject({ status: 'rejected', decidedBy: 'cli:carol', outcome: 'google is fine, the outage is over', appliedVersion: null });
    expect(await store.rejectProposal(id, { decidedBy: 'cli:carol', reason: 'again' })).toMatchObject({ status: 'rejected', outcome: 'google is fine, the outage is over' });
    // updateReport replaces the JSON.
    await store.updateReport({ ...report, notes: ['decided'] });
    expect((await store.getReport('r-four')).report.notes).toEqual(['decided']);
    await expectCode(store.updateReport({ ...report, id: 'r-missing' }), 'ReportNotFound');
    // updateReportProposals replaces the proposals only.
    await store.updateReportProposals('r-four', [{ ...report.proposals[0]!, status: 'rejected', outcome: 'by cli:carol' }]);
    const after = (await store.getReport('r-four')).report;
    expect(after.notes).toEqual(['decided']);
    expect(after.proposals).toEqual([{ ...report.proposals[0]!, status: 'rejected', outcome: 'by cli:carol' }]);
    await expectCode(store.updateReportProposals('r-missing', []), 'ReportNotFound');
  });
});

describe('routing policy', () => {
  it('reads the latest stored version as a policy', async () => {
    expect(await store.latestPolicy()).toBeNull();
    const seed = policyFromConfig(testConfig(), '2026-01-01T00:00:00.000Z');
    await scratch.db.routingPolicyVersion.create({ data: { version: 1, policy: policyBody(seed), configHash: 'k1', source: 'config.yaml', reason: 'seed' } });
    await scratch.db.routingPolicyVersion.create({ data: { version: 2, policy: { ...policyBody(seed), demoted: { openai: { at: 'x', source: 's', reason: 'r' } } }, configHash: 'k2', source: 'test', reason: 'demote' } });
    const latest = await store.latestPolicy();
    expect(latest?.version).toBe(2);
    expect(Object.keys(latest!.policy.demoted)).toEqual(['openai']);
  });
});

describe('experiments', () => {
  const input: ExperimentInput = {
    name: 'Concise QA prompt',
    kind: 'prompt_template',
    taskType: 'question_answering',
    variants: [
      { name: 'control', share: 0.5, config: { systemPrompt: null } },
      { name: 'concise', share: 0.5, config: { systemPrompt: 'Answer in one sentence.' } },
    ],
    trafficShare: 0.2,
    minSamples: 100,
    createdBy: 'cli:alice',
  };

  it('creates, shows and lists; an invalid definition is refused with every issue and writes nothing', async () => {
    const e = await store.createExperiment(input);
    expect(e).toMatchObject({ name: 'Concise QA prompt', status: 'running', result: null, stoppedAt: null, trafficShare: 0.2 });
    expect(e.id).toMatch(/^concise-qa-prompt-[0-9a-f]{8}$/);
    expect(await store.getExperiment(e.id)).toEqual(e);
    const bad = await expectCode(store.createExperiment({ ...input, trafficShare: 2, variants: [{ name: 'a', share: 1 }] }), 'InvalidExperiment');
    expect((bad.details['issues'] as { path: string }[]).map((i) => i.path).sort()).toEqual(['trafficShare', 'variants', 'variants.0.config.systemPrompt'].sort());
    expect(await store.listExperiments({ limit: 10 })).toEqual([e]);
    await expectCode(store.getExperiment('nope'), 'ExperimentNotFound');
  });

  it('an explicit id: repeating the same definition returns it; another definition under it is refused', async () => {
    const a = await store.createExperiment({ ...input, id: 'exp-fixed' });
    expect(await store.createExperiment({ ...input, id: 'exp-fixed' })).toEqual(a);
    await expectCode(store.createExperiment({ ...input, id: 'exp-fixed', name: 'something else' }), 'InvalidExperiment');
  });

  it('stop: running -> stopped with who and why; stopping again is refused', async () => {
    const stopped = await store.stopExperiment('exp-fixed', { by: 'cli:bob', reason: 'wrong task type' });
    expect(stopped).toMatchObject({ status: 'stopped', reason: 'stopped by cli:bob: wrong task type' });
    expect(stopped.stoppedAt).not.toBeNull();
    await expectCode(store.stopExperiment('exp-fixed', { by: 'cli:bob', reason: 'again' }), 'ExperimentNotRunning');
    expect((await store.listExperiments({ status: 'running', limit: 10 })).map((x) => x.id)).not.toContain('exp-fixed');
  });

  it('observations per variant: good = completed and not judged poor (feedback first, then consensus)', async () => {
    const e = await store.createExperiment({ ...input, id: 'exp-obs' });
    const base = synthetic({ seed: 'obs', requests: 4, start: '2026-03-01T00:00:00.000Z', providers: HEALTHY });
    await insertRows(scratch.db, [
      { ...base[0]!, id: 'o-1', experimentId: e.id, variant: 'control', status: 'completed', thresholdMet: true, feedback: [] },
      { ...base[1]!, id: 'o-2', experimentId: e.id, variant: 'control', status: 'completed', thresholdMet: false, feedback: [] },
      { ...base[2]!, id: 'o-3', experimentId: e.id, variant: 'concise', status: 'completed', thresholdMet: false, feedback: [0.9] },
      { ...base[3]!, id: 'o-4', experimentId: e.id, variant: 'concise', status: 'failed', thresholdMet: null, feedback: [] },
    ]);
    const obs = await store.experimentObservations(e.id, 100);
    const byId = (variant: string) => obs.filter((o) => o.variant === variant).map((o) => [o.completed, o.good]);
    expect(byId('control').sort()).toEqual([
      [true, false],
      [true, true],
    ]);
    expect(byId('concise').sort()).toEqual([
      [false, false],
      [true, true],
    ]);
  });

  it('saveReport records looks, concludes experiments, and never touches one that is no longer running', async () => {
    const e = await store.createExperiment({ ...input, id: 'exp-conclude' });
    const record = { looks: [{ at: '2026-03-02T00:00:00.000Z', fraction: 1, alpha: 0.05 }], analysis: { experimentId: e.id } } as never;
    const report = { ...reportFor('r-exp', { current: [], previous: [] }, { start: '2026-03-01T00:00:00.000Z', end: '2026-03-02T00:00:00.000Z' }, { start: '2026-02-28T00:00:00.000Z', end: '2026-03-01T00:00:00.000Z' }) };
    await store.saveReport({
      report,
      experimentUpdates: [
        { experimentId: e.id, action: 'conclude', record, reason: 'variant "concise" wins', at: '2026-03-02T00:00:00.000Z' },
        { experimentId: 'exp-fixed', action: 'conclude', record, reason: 'should not apply: stopped already', at: '2026-03-02T00:00:00.000Z' },
      ],
    });
    expect(await store.getExperiment(e.id)).toMatchObject({ status: 'concluded', reason: 'variant "concise" wins', stoppedAt: '2026-03-02T00:00:00.000Z', result: record });
    expect(await store.getExperiment('exp-fixed')).toMatchObject({ status: 'stopped', result: null });
  });
});

describe('meta-prompting samples', () => {
  it('low-agreement consensus interactions per task type, worst first, only where there are enough', async () => {
    const base = synthetic({ seed: 'low', requests: 12, start: '2026-04-01T00:00:00.000Z', providers: HEALTHY, taskTypes: ['summarize'] });
    const rows = base.map((r, i) => ({ ...r, id: `low-${i}`, status: 'completed' as const, consensusApplied: true, agreement: i < 6 ? 0.1 * i : 0.9, taskType: i % 4 === 3 ? 'translate' : 'summarize' }));
    await insertRows(scratch.db, rows, { systemPrompt: 'You summarise.' });
    const found = await store.lowAgreementSamples({ window: { start: '2026-04-01T00:00:00.000Z', end: '2026-04-02T00:00:00.000Z' }, agreementBelow: 0.5, minSamples: 3, maxSamples: 2 });
    // Agreement below 0.5: rows 0..4 (0, 0.1, 0.2, 0.3, 0.4); row 3 is a translation, so 4 summaries and 1 translation.
    expect([...found.keys()]).toEqual(['summarize']);
    expect(found.get('summarize')!.count).toBe(4);
    expect(found.get('summarize')!.samples.map((s) => s.agreement)).toEqual([0, 0.1]);
    expect(found.get('summarize')!.samples[0]).toMatchObject({ prompt: 'prompt of low-0', systemPrompt: 'You summarise.', response: 'answer of low-0' });
    expect(await store.currentSystemPrompt('summarize')).toBe('You summarise.');
    expect(await store.currentSystemPrompt('no-such-task')).toBeNull();
  });
});
