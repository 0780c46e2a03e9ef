import { describe, expect, it } from 'vitest';
import { analyseWindow } from '../../src/improvement/analysis';
import { analyseExperiment } from '../../src/improvement/experiments';
import { buildProposals } from '../../src/improvement/proposals';
import { renderReportJson, renderReportMarkdown, reportChartsCommand, withDecisions, type ImprovementReport } from '../../src/improvement/report';
import { HEALTHY, synthetic, withProvider } from './synthetic';

const window = { start: '2026-11-24T12:00:00.000Z', end: '2026-11-25T00:00:00.000Z' };
const previousWindow = { start: '2026-11-24T00:00:00.000Z', end: '2026-11-24T12:00:00.000Z' };
const settings = { anomalyAlpha: 0.01, minErrorRateIncrease: 0.05, minLatencyRatio: 1.3, minCallsPerTest: 30 };

function report(): ImprovementReport {
  const analysis = analyseWindow({
    current: synthetic({ seed: 'cur', requests: 200, start: window.start, providers: withProvider(HEALTHY, 'anthropic', { errorRate: 0.35 }) }),
    previous: synthetic({ seed: 'prev', requests: 200, start: previousWindow.start, providers: HEALTHY }),
    window,
    previousWindow,
    settings,
  });
  const proposals = withDecisions(buildProposals({ reportId: 'r-test', analysis, policy: { demoted: [], weights: {}, version: 2 }, settings: { ...settings, timeouts: {}, defaultTimeoutSeconds: 30 } }), { minDataPoints: 100, autoApplyThreshold: 0.9 });
  const experiment = {
    id: 'exp-1',
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'b', share: 0.5, config: {} },
    ],
    minSamples: 100,
  };
  const obs = Array.from({ length: 80 }, (_, i) => ({ variant: i % 2 ? 'b' : 'control', completed: true, good: i % 3 !== 0, latencyMs: 100 + i, costUsd: 0.001 }));
  return {
    id: 'r-test',
    workflowId: 'improvement-manual-1',
    trigger: 'manual',
    requestedBy: 'cli:alice',
    generatedAt: window.end,
    settings: { minDataPoints: 100, autoApplyThreshold: 0.9, windowHours: 12, ...settings },
    policyVersion: 2,
    analysis,
    experiments: [{ experimentId: 'exp-1', name: 'B for QA', kind: 'prompt_template', taskType: 'question_answering', analysis: analyseExperiment(experiment, obs, { alpha: 0.05, guardrailAlpha: 0.001, previousFraction: 0, at: window.end }), proposalId: null }],
    proposals: proposals.map((p) => (p.decision === 'apply' ? { ...p, status: 'applied', appliedVersion: 3, outcome: 'accepted as routing policy v3' } : p)),
    notes: ['meta-prompting is off'],
  };
}

describe('report', () => {
  it('withDecisions records the decision and its reason on every proposal, all pending', () => {
    const r = report();
    expect(r.proposals).toHaveLength(1);
    expect(r.proposals[0]).toMatchObject({ kind: 'demote', decision: 'apply', decisionReason: expect.stringMatching(/confidence 1\.0000 >= 0\.9/) as unknown });
  });

  it('JSON export round-trips', () => {
    const r = report();
    expect(JSON.parse(renderReportJson(r))).toEqual(r);
  });

  it('Markdown shows the run, each proposal with its fate and evidence, anomalies, experiments and figures', () => {
    const r = report();
    const md = renderReportMarkdown(r);
    const p = r.proposals[0]!;
    expect(md).toContain('# Improvement report r-test');
    expect(md).toContain('improvement-manual-1 (manual by cli:alice)');
    expect(md).toContain(`### ${p.id}: demote anthropic:claude-haiku-4-5`);
    expect(md).toContain('status **applied** (routing policy v3)');
    expect(md).toContain('Outcome: 1 proposal(s), 1 applied, 0 pending');
    expect(md).toMatch(/\| anthropic:claude-haiku-4-5 \| error_rate \| trend \| worse \|/);
    expect(md).toContain('### exp-1: B for QA (prompt_template, question_answering)');
    expect(md).toMatch(/\| control \(control\) \| 40 \|/);
    expect(md).toMatch(/\| openai:gpt-4o-mini \| 200 \|/);
    expect(md).toContain('| question_answering | 100 |');
    expect(md).toContain('- meta-prompting is off');
  });

  it("Markdown names the `cli report` command that charts the run's window", () => {
    const r = report();
    const md = renderReportMarkdown(r);
    const command = `npm run cli -- report --hours ${r.settings.windowHours} --until ${window.end} --out improvement-r-test.html`;
    expect(reportChartsCommand(r)).toBe(command);
    expect(md).toContain(`- Charts: \`${command}\``);
  });

  it('an empty window renders without figures and says so', () => {
    const analysis = analyseWindow({ current: [], previous: [], window, previousWindow, settings });
    const md = renderReportMarkdown({ ...report(), analysis, proposals: [], experiments: [], notes: [] });
    expect(md).toContain('None: nothing in this window supports a change.');
    expect(md).toContain('None among 0 tests.');
    expect(md).toContain('No provider calls in this window.');
    expect(md).toContain('No running experiments.');
  });
});
