import { describe, expect, it } from 'vitest';
import { analyseWindow, modelGroup, type AnalysisSettings, type InteractionRow } from '../../src/improvement/analysis';
import { buildProposals, decide, decisionReason, type PolicyView, type ProposalSettings } from '../../src/improvement/proposals';
import { HEALTHY, synthetic, withProvider, type ProviderProfile } from './synthetic';

const settings: AnalysisSettings = { anomalyAlpha: 0.01, minErrorRateIncrease: 0.05, minLatencyRatio: 1.3, minCallsPerTest: 30 };
const proposalSettings: ProposalSettings = { anomalyAlpha: 0.01, minErrorRateIncrease: 0.05, minCallsPerTest: 30, timeouts: { openai: 30 }, defaultTimeoutSeconds: 30 };
const window = { start: '2026-11-24T12:00:00.000Z', end: '2026-11-25T00:00:00.000Z' };
const previousWindow = { start: '2026-11-24T00:00:00.000Z', end: '2026-11-24T12:00:00.000Z' };
const policy: PolicyView = { demoted: [], weights: {}, version: 3 };

function run(previous: ProviderProfile[], current: ProviderProfile[], seed: number | string, requests = 200) {
  const prevRows = synthetic({ seed: `${seed}-prev`, requests, start: previousWindow.start, providers: previous });
  const curRows = synthetic({ seed: `${seed}-cur`, requests, start: window.start, providers: current });
  return analyseWindow({ current: curRows, previous: prevRows, window, previousWindow, settings });
}

describe('window analysis: figures', () => {
  const rows: InteractionRow[] = [
    {
      id: 'a',
      taskType: 'qa',
      complexity: 'simple',
      status: 'completed',
      completedAt: window.start,
      consensusApplied: true,
      agreement: 0.5,
      confidence: 0.5,
      thresholdMet: false,
      dissenting: ['anthropic'],
      costUsd: 0.003,
      processingTimeMs: 300,
      feedback: [0.8],
      experimentId: null,
      variant: null,
      systemPrompt: null,
      calls: [
        { provider: 'openai', model: 'gpt-4o-mini', status: 'succeeded', errorType: null, latencyMs: 100, costUsd: 0.001, hedged: false },
        { provider: 'anthropic', model: 'claude-haiku-4-5', status: 'succeeded', errorType: null, latencyMs: 300, costUsd: 0.002, hedged: false },
      ],
    },
    {
      id: 'b',
      taskType: 'qa',
      complexity: 'complex',
      status: 'completed',
      completedAt: window.start,
      consensusApplied: false,
      agreement: null,
      confidence: null,
      thresholdMet: null,
      dissenting: null,
      costUsd: 0.001,
      processingTimeMs: 200,
      feedback: [],
      experimentId: null,
      variant: null,
      systemPrompt: null,
      calls: [
        { provider: 'openai', model: 'gpt-4o-mini', status: 'succeeded', errorType: null, latencyMs: 200, costUsd: 0.001, hedged: false },
        { provider: 'anthropic', model: 'claude-haiku-4-5', status: 'failed', errorType: 'ProviderTimeout', latencyMs: null, costUsd: 0, hedged: false },
        { provider: 'anthropic', model: 'claude-haiku-4-5', status: 'cancelled', errorType: null, latencyMs: null, costUsd: 0, hedged: true },
      ],
    },
  ];

  it('per model: success rate (cancelled calls count for neither side), latency percentiles, cost, agreement, feedback', () => {
    const a = analyseWindow({ current: rows, previous: rows.slice(0, 1), window, previousWindow, settings });
    const openai = modelGroup(a, 'openai', 'gpt-4o-mini')!;
    expect(openai.current).toMatchObject({ calls: 2, succeeded: 2, failed: 0, successRate: 1, latencyP50Ms: 150, costUsd: 0.002, costPerCallUsd: 0.001, agreementRate: 1, agreementObservations: 1, feedback: 0.8 });
    // Quality: feedback where given (0.8), else agreement: one call with feedback, one without consensus (no quality).
    expect(openai.current.quality).toBe(0.8);
    const anthropic = modelGroup(a, 'anthropic', 'claude-haiku-4-5')!;
    expect(anthropic.current).toMatchObject({ calls: 3, succeeded: 1, failed: 1, cancelled: 1, successRate: 0.5, errorRate: 0.5, timeouts: 1, errorTypes: { ProviderTimeout: 1 }, agreementRate: 0, agreements: 0, agreementObservations: 1 });
    // Feedback rates the chosen answer: not anthropic's, which dissented.
    expect(anthropic.current).toMatchObject({ feedback: null, feedbackObservations: 0, quality: 0 });
    // Trend against the previous window (only request a).
    expect(anthropic.previous).toMatchObject({ successRate: 1 });
    expect(anthropic.trend).toMatchObject({ successRateDelta: -0.5 });
    expect(openai.trend?.latencyP50Ratio).toBe(1.5);
    // Levels: provider, model, task type, cell.
    expect(a.groups.filter((g) => g.key.provider === 'openai').map((g) => g.key.level)).toEqual(['provider', 'model', 'task', 'cell', 'cell']);
    expect(a.taskTypes).toEqual([
      expect.objectContaining({ taskType: 'qa', current: expect.objectContaining({ interactions: 2, completed: 2, successRate: 1, agreement: 0.5, thresholdMetRate: 0, feedback: 0.8, processingP50Ms: 250 }) as unknown }),
    ]);
    expect(a.totals.current).toEqual({ interactions: 2, failedInteractions: 0, providerCalls: 5, costUsd: 0.004 });
  });

  it('caps the fine groups and says how many it left out', () => {
    const many = synthetic({ seed: 1, requests: 300, start: window.start, providers: HEALTHY, taskTypes: Array.from({ length: 30 }, (_, i) => `t${i}`) });
    const a = analyseWindow({ current: many, previous: [], window, previousWindow, settings: { ...settings, maxGroups: 50 } });
    expect(a.groups).toHaveLength(50);
    expect(a.groups.filter((g) => g.key.level === 'model')).toHaveLength(3);
    expect(a.groupsOmitted).toBeGreaterThan(0);
  });
});

describe('anomalies and proposals', () => {
  it('identical providers: no anomaly and no routing proposal in 20 independent runs (false alarms)', () => {
    for (let seed = 0; seed < 20; seed++) {
      const a = run(HEALTHY, HEALTHY, seed);
      // Per model: error rate and latency against the previous window and the last-healthy baseline, error rate against the peers.
      expect(a.testsRun).toBe(15);
      expect(a.anomalies).toEqual([]);
      const proposals = buildProposals({ reportId: `r-${seed}`, analysis: a, policy, settings: proposalSettings });
      expect(proposals.filter((p) => p.change.type === 'routing_update')).toEqual([]);
    }
  });

  it('a provider whose error rate jumps is demoted automatically: significant, large, enough data', () => {
    const a = run(HEALTHY, withProvider(HEALTHY, 'anthropic', { errorRate: 0.35 }), 'errors');
    expect(a.anomalies.map((x) => `${x.selector} ${x.metric} ${x.basis} ${x.direction}`).sort()).toEqual([
      'anthropic:claude-haiku-4-5 error_rate peers worse',
      'anthropic:claude-haiku-4-5 error_rate trend worse',
    ]);
    const proposals = buildProposals({ reportId: 'r-1', analysis: a, policy, settings: proposalSettings });
    expect(proposals).toHaveLength(1);
    const [demote] = proposals;
    expect(demote).toMatchObject({ kind: 'demote', target: 'anthropic:claude-haiku-4-5', change: { type: 'routing_update', update: { kind: 'demote', target: 'anthropic:claude-haiku-4-5', id: demote!.id, source: 'improvement:r-1' } } });
    expect(demote!.confidence).toBeGreaterThan(0.999);
    expect(demote!.dataPoints).toBeGreaterThanOrEqual(200);
    expect(demote!.estimatedEffect.metric).toBe('error_rate');
    expect(demote!.estimatedEffect.current).toBeGreaterThan(0.25);
    expect(demote!.evidence.tests.length).toBe(2);
    expect(decide(demote!, { minDataPoints: 100, autoApplyThreshold: 0.9 })).toBe('apply');
    // Thresholds not met: the same proposal waits for a person.
    expect(decide(demote!, { minDataPoints: 10_000, autoApplyThreshold: 0.9 })).toBe('pending');
    expect(decisionReason(demote!, { minDataPoints: 10_000, autoApplyThreshold: 0.9 }).reason).toMatch(/fewer than min_data_points 10000/);
    // Already demoted: nothing to propose.
    expect(buildProposals({ reportId: 'r-1', analysis: a, policy: { ...policy, demoted: ['anthropic'] }, settings: proposalSettings })).toEqual([]);
    // Proposal ids are stable for a report and differ between reports.
    expect(buildProposals({ reportId: 'r-1', analysis: a, policy, settings: proposalSettings })[0]!.id).toBe(demote!.id);
    expect(buildProposals({ reportId: 'r-2', analysis: a, policy, settings: proposalSettings })[0]!.id).not.toBe(demote!.id);
  });

  it('a provider bad in both windows (no trend) is still caught against each of the others', () => {
    const bad = withProvider(HEALTHY, 'openai', { errorRate: 0.3 });
    const a = run(bad, bad, 'persistent');
    expect(a.anomalies).toEqual([expect.objectContaining({ selector: 'openai:gpt-4o-mini', metric: 'error_rate', basis: 'peers', direction: 'worse' })]);
    expect(a.anomalies[0]!.adjustedPValue).toBeLessThan(1e-6);
  });

  it('a small rise in errors, even if it were significant, is below the effect worth acting on', () => {
    const a = run(HEALTHY, withProvider(HEALTHY, 'google', { errorRate: 0.05 }), 'small', 2000);
    expect(a.anomalies.filter((x) => x.direction === 'worse')).toEqual([]);
  });

  it('a provider that became slower is demoted on latency (rank test against the previous window)', () => {
    const a = run(HEALTHY, withProvider(HEALTHY, 'google', { latencyMs: 2000 }), 'latency');
    expect(a.anomalies).toEqual([expect.objectContaining({ selector: 'google:gemini-2.0-flash', metric: 'latency', basis: 'trend', direction: 'worse', test: 'Mann-Whitney U' })]);
    expect(a.anomalies[0]!.current / a.anomalies[0]!.reference).toBeGreaterThan(2);
    const [p] = buildProposals({ reportId: 'r', analysis: a, policy, settings: proposalSettings });
    expect(p).toMatchObject({ kind: 'demote', target: 'google:gemini-2.0-flash', estimatedEffect: { metric: 'latency_p50_ms' } });
  });

  it('a demoted provider that recovered is promoted; one still failing is not', () => {
    const demoted: PolicyView = { demoted: ['anthropic:claude-haiku-4-5'], weights: {}, version: 4 };
    const recovered = run(withProvider(HEALTHY, 'anthropic', { errorRate: 0.4 }), HEALTHY, 'recovered', 400);
    const proposals = buildProposals({ reportId: 'r', analysis: recovered, policy: demoted, settings: proposalSettings });
    const promote = proposals.find((p) => p.kind === 'promote');
    expect(promote).toMatchObject({ target: 'anthropic:claude-haiku-4-5', change: { type: 'routing_update', update: { kind: 'promote', target: 'anthropic:claude-haiku-4-5' } } });
    expect(promote!.confidence).toBeGreaterThan(0.9);
    expect(decide(promote!, { minDataPoints: 100, autoApplyThreshold: 0.9 })).toBe('apply');

    const stillBad = run(withProvider(HEALTHY, 'anthropic', { errorRate: 0.4 }), withProvider(HEALTHY, 'anthropic', { errorRate: 0.4 }), 'still-bad', 400);
    expect(buildProposals({ reportId: 'r', analysis: stillBad, policy: demoted, settings: proposalSettings }).filter((p) => p.kind === 'promote')).toEqual([]);
  });

  it('a model that agrees with the chosen answer much less often gets a lower weight', () => {
    const a = run(HEALTHY, withProvider(HEALTHY, 'openai', { agreeRate: 0.6 }), 'agreement', 400);
    const weights = buildProposals({ reportId: 'r', analysis: a, policy, settings: proposalSettings }).filter((p) => p.kind === 'weights');
    expect(weights).toHaveLength(1);
    const update = weights[0]!.change.type === 'routing_update' ? weights[0]!.change.update : null;
    expect(update).toMatchObject({ kind: 'set_weights' });
    const w = (update as { weights: Record<string, number> }).weights['openai:gpt-4o-mini']!;
    expect(w).toBeGreaterThanOrEqual(0.5);
    expect(w).toBeLessThan(0.75);
  });

  it('frequent timeouts on fast calls propose a shorter timeout; a heavy tail proposes hedging; neither is ever auto-applied', () => {
    const profiles = withProvider(HEALTHY, 'openai', { errorRate: 0.1, errorType: 'ProviderTimeout', slowShare: 0.15 });
    const a = run(profiles, profiles, 'timeouts', 400);
    const proposals = buildProposals({ reportId: 'r', analysis: a, policy, settings: proposalSettings });
    const timeout = proposals.find((p) => p.kind === 'timeout');
    expect(timeout).toMatchObject({ target: 'openai', change: { type: 'config', path: 'performance.models.openai.timeout' } });
    expect(timeout!.change.type === 'config' && timeout!.change.value).toBeLessThan(30);
    expect(timeout!.confidence).toBeGreaterThan(0.99);
    const hedging = proposals.find((p) => p.kind === 'hedging');
    expect(hedging).toMatchObject({ target: 'openai:gpt-4o-mini', change: { type: 'config', path: 'resilience.hedging.delay_ms' } });
    for (const p of [timeout!, hedging!]) {
      expect(decide({ ...p, confidence: 1, dataPoints: 1e9 }, { minDataPoints: 1, autoApplyThreshold: 0 })).toBe('pending');
    }
  });
});

describe('decide', () => {
  const routing = { change: { type: 'routing_update' as const, update: { kind: 'demote' as const, target: 'openai', source: 's', reason: 'r' } } };
  it.each([
    [0.95, 150, 'apply'],
    [0.9, 100, 'apply'],
    [0.8999, 1000, 'pending'],
    [0.99, 99, 'pending'],
  ] as const)('confidence %d on %i data points -> %s (threshold 0.9, min 100)', (confidence, dataPoints, expected) => {
    expect(decide({ ...routing, confidence, dataPoints }, { minDataPoints: 100, autoApplyThreshold: 0.9 })).toBe(expected);
  });
});
