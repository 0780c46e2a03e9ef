import { describe, expect, it } from 'vitest';
import { analyseExperiment, decisionFloor, ExperimentInputSchema, nextLooks, previousFraction, variantRoutingUpdate, type ExperimentObservation, type ExperimentRecord } from '../../src/improvement/experiments';
import { decide, proposalFromExperiment, shrunkExperimentEstimate } from '../../src/improvement/proposals';
import { minSampleSizePerArm } from '../../src/improvement/statistics';
import { seededRandom } from '../../src/routing/bandit';

const experiment = {
  id: 'exp-route-qa',
  name: 'anthropic first for QA',
  kind: 'routing_policy' as const,
  taskType: 'question_answering',
  minSamples: 300,
  variants: [
    { name: 'control', share: 0.5, config: {} },
    { name: 'anthropic-first', share: 0.5, config: { update: { kind: 'set_rule', rule: { task_type: 'question_answering', complexity: 'any', providers: ['anthropic', 'openai'] } } } },
  ],
};

interface ArmProfile {
  good: number;
  fail?: number;
  latencyMs?: number;
  costUsd?: number;
}

function observations(seed: string, perArm: number, arms: Record<string, ArmProfile>): ExperimentObservation[] {
  const random = seededRandom(seed);
  const out: ExperimentObservation[] = [];
  for (const [variant, p] of Object.entries(arms)) {
    for (let i = 0; i < perArm; i++) {
      const completed = random() >= (p.fail ?? 0.02);
      out.push({ variant, completed, good: completed && random() < p.good / (1 - (p.fail ?? 0.02)), latencyMs: (p.latencyMs ?? 900) * (0.5 + random()), costUsd: (p.costUsd ?? 0.001) * (0.5 + random()) });
    }
  }
  return out;
}

const options = { alpha: 0.05, guardrailAlpha: 0.001, previousFraction: 0, at: '2026-11-25T00:00:00.000Z' };

describe('experiment definition', () => {
  it('accepts a valid experiment; the first variant is the control', () => {
    const parsed = ExperimentInputSchema.parse({ ...experiment, trafficShare: 0.2, createdBy: 'cli:alice' });
    expect(parsed.variants.map((v) => v.name)).toEqual(['control', 'anthropic-first']);
  });

  it('rejects shares that do not sum to 1, duplicate names, configs of the wrong kind, routing variants without an update', () => {
    const base = { name: 'x', kind: 'prompt_template', taskType: 'qa', trafficShare: 0.1, minSamples: 100, createdBy: 't' };
    const issues = (input: unknown) => {
      const r = ExperimentInputSchema.safeParse(input);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ ...base, variants: [{ name: 'a', share: 0.5, config: { systemPrompt: null } }, { name: 'b', share: 0.4, config: { systemPrompt: 'Be brief.' } }] })).toEqual([expect.stringMatching(/^variants: variant shares must sum to 1/)]);
    expect(issues({ ...base, variants: [{ name: 'a', share: 0.5, config: { systemPrompt: null } }, { name: 'a', share: 0.5, config: { systemPrompt: 'x' } }] })).toEqual(['variants.1.name: duplicate variant name "a"']);
    expect(issues({ ...base, variants: [{ name: 'a', share: 0.5, config: { strategy: 'lexical' } }, { name: 'b', share: 0.5, config: { systemPrompt: 'x' } }] })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^variants\.0\.config/)]),
    );
    expect(issues({ ...base, kind: 'routing_policy', variants: [{ name: 'a', share: 0.5, config: {} }, { name: 'b', share: 0.5, config: {} }] })).toEqual(['variants.1.config.update: a routing variant other than the control needs the routing update it stands for']);
    expect(issues({ ...base, kind: 'routing_policy', variants: [{ name: 'a', share: 0.5, config: {} }, { name: 'b', share: 0.5, config: { update: { kind: 'teleport' } } }] })[0]).toMatch(/^variants\.1\.config\.update/);
    expect(issues({ ...base, trafficShare: 0, variants: [{ name: 'a', share: 0.5 }, { name: 'b', share: 0.5 }] }).length).toBeGreaterThan(0);
  });

  it('a routing variant stands for its update, with source and reason filled in', () => {
    expect(variantRoutingUpdate(experiment, 'anthropic-first')).toMatchObject({ kind: 'set_rule', source: 'experiment:exp-route-qa', reason: expect.stringContaining('anthropic-first') as unknown });
    expect(variantRoutingUpdate(experiment, 'control')).toBeNull();
    expect(variantRoutingUpdate({ ...experiment, kind: 'prompt_template' }, 'anthropic-first')).toBeNull();
  });
});

describe('experiment analysis', () => {
  it('a clearly better variant concludes as the winner at the horizon and becomes a routing proposal', () => {
    const obs = observations('better', 300, { control: { good: 0.6 }, 'anthropic-first': { good: 0.8 } });
    const a = analyseExperiment(experiment, obs, options);
    expect(a).toMatchObject({ action: 'conclude', winner: 'anthropic-first', guardrail: null, look: { final: true, canDecide: true } });
    expect(a.comparisons[0]!.good!.pValue).toBeLessThan(a.alphaPerComparison);
    expect(a.comparisons[0]!.probabilityBetter).toBeGreaterThan(0.999);
    const p = proposalFromExperiment('r-1', experiment, a)!;
    expect(p).toMatchObject({ kind: 'rule', target: 'experiment:exp-route-qa', change: { type: 'routing_update', update: { kind: 'set_rule', id: p.id, source: 'experiment:exp-route-qa' } } });
    expect(p.dataPoints).toBe(600);
    expect(decide(p, { minDataPoints: 100, autoApplyThreshold: 0.9 })).toBe('apply');
  });

  it('equal variants: no winner before the horizon, and none at it', () => {
    const early = analyseExperiment(experiment, observations('equal-early', 150, { control: { good: 0.7 }, 'anthropic-first': { good: 0.7 } }), options);
    expect(early).toMatchObject({ action: 'continue', winner: null });
    const final = analyseExperiment(experiment, observations('equal-final', 320, { control: { good: 0.7 }, 'anthropic-first': { good: 0.7 } }), { ...options, previousFraction: 0.5 });
    expect(final).toMatchObject({ action: 'conclude', winner: null, look: { final: true } });
    expect(final.reason).toMatch(/no winner/);
    expect(proposalFromExperiment('r', experiment, final)).toBeNull();
  });

  it('equal variants never produce a winner over many experiments (false winners stay rare)', () => {
    let winners = 0;
    for (let k = 0; k < 40; k++) {
      let previous = 0;
      for (const n of [100, 200, 300]) {
        const a = analyseExperiment(experiment, observations(`null-${k}`, n, { control: { good: 0.7 }, 'anthropic-first': { good: 0.7 } }), { ...options, previousFraction: previous });
        if (a.winner !== null) winners++;
        if (a.action !== 'continue') break;
        previous = a.look.canDecide ? a.look.fraction : previous;
      }
    }
    // Alpha 0.05 two-sided over all looks: expect about 2 in 40 by chance; more than 6 is a broken guard.
    expect(winners).toBeLessThanOrEqual(6);
  });

  it('peeking: an early look needs overwhelming evidence; a moderate difference waits for more data', () => {
    // At a quarter of the horizon a 10-point difference is not enough ...
    const early = analyseExperiment(experiment, observations('peek', 75, { control: { good: 0.6 }, 'anthropic-first': { good: 0.7 } }), options);
    expect(early.look.fraction).toBe(0.25);
    expect(early.look.alpha).toBeLessThan(1e-4);
    expect(early.action).toBe('continue');
    // ... and below the floor nothing is decided at all.
    const tooEarly = analyseExperiment(experiment, observations('floor', decisionFloor(300) - 1, { control: { good: 0.1 }, 'anthropic-first': { good: 0.9 } }), options);
    expect(tooEarly).toMatchObject({ action: 'continue', look: { canDecide: false } });
  });

  it('guard rails stop a variant that fails or costs clearly more, before the horizon and whatever its quality', () => {
    const failing = analyseExperiment(experiment, observations('harm', 60, { control: { good: 0.6, fail: 0.02 }, 'anthropic-first': { good: 0.6, fail: 0.4 } }), options);
    expect(failing).toMatchObject({ action: 'stop', winner: null, guardrail: { variant: 'anthropic-first', metric: 'error_rate' } });
    const dear = analyseExperiment(experiment, observations('dear', 60, { control: { good: 0.6 }, 'anthropic-first': { good: 0.62, costUsd: 0.004 } }), options);
    expect(dear).toMatchObject({ action: 'stop', guardrail: { variant: 'anthropic-first', metric: 'cost' } });
    expect(dear.reason).toMatch(/costs/);
  });

  it('a control better than every variant concludes with the control; nothing to propose', () => {
    const a = analyseExperiment(experiment, observations('control-wins', 320, { control: { good: 0.85 }, 'anthropic-first': { good: 0.6 } }), options);
    expect(a).toMatchObject({ action: 'conclude', winner: 'control' });
    expect(proposalFromExperiment('r', experiment, a)).toBeNull();
  });

  it('a prompt-template winner becomes an adopt_variant proposal, never applied automatically', () => {
    const prompt = { ...experiment, id: 'exp-prompt', kind: 'prompt_template' as const, variants: [{ name: 'control', share: 0.5, config: { systemPrompt: null } }, { name: 'concise', share: 0.5, config: { systemPrompt: 'Answer concisely.' } }] };
    const a = analyseExperiment(prompt, observations('prompt', 300, { control: { good: 0.6 }, concise: { good: 0.8 } }), options);
    const p = proposalFromExperiment('r', prompt, a)!;
    expect(p).toMatchObject({ kind: 'adopt_variant', change: { type: 'adopt_variant', experimentId: 'exp-prompt', variant: 'concise', config: { systemPrompt: 'Answer concisely.' } } });
    expect(decide({ ...p, confidence: 1 }, { minDataPoints: 1, autoApplyThreshold: 0 })).toBe('pending');
  });

  it('looks are recorded only when they spend alpha', () => {
    const a = analyseExperiment(experiment, observations('looks', 150, { control: { good: 0.7 }, 'anthropic-first': { good: 0.7 } }), options);
    const record: ExperimentRecord = { looks: nextLooks([], a), analysis: a };
    expect(record.looks).toEqual([{ at: options.at, fraction: 0.5, alpha: a.look.alpha }]);
    expect(previousFraction(record)).toBe(0.5);
    expect(previousFraction(null)).toBe(0);
    const below = analyseExperiment(experiment, observations('looks-floor', 10, { control: { good: 0.7 }, 'anthropic-first': { good: 0.7 } }), options);
    expect(nextLooks(record.looks, below)).toEqual(record.looks);
  });
});

describe('the estimated effect of a winner (shrunk, not the rates seen at the stop)', () => {
  it('posterior means with a Beta prior on each arm centred on their pooled rate, worth a tenth of the planned samples per arm', () => {
    // 95 of 100 vs 80 of 100, planned 200 per arm: 20 pseudo-observations at the pooled 87.5%.
    const e = shrunkExperimentEstimate({ successes: 80, total: 100 }, { successes: 95, total: 100 }, 200);
    expect(e.priorStrength).toBe(20);
    expect(e.pooledRate).toBeCloseTo(0.875, 12);
    expect(e.variant).toBeCloseTo((95 + 20 * 0.875) / 120, 12);
    expect(e.control).toBeCloseTo((80 + 20 * 0.875) / 120, 12);
    expect(e.variantLow).toBeLessThan(e.variant);
    expect(e.variantHigh).toBeGreaterThan(e.variant);
    expect(e.variantHigh).toBeLessThan(1);
    expect(e.gainLow).toBeGreaterThan(0);
    expect(e.gainHigh).toBeGreaterThan(e.variant - e.control);
    // A small plan still gets a prior of 10 observations; a sample far beyond its plan is barely moved.
    expect(shrunkExperimentEstimate({ successes: 8, total: 10 }, { successes: 10, total: 10 }, 30).priorStrength).toBe(10);
    const big = shrunkExperimentEstimate({ successes: 80_000, total: 100_000 }, { successes: 90_000, total: 100_000 }, 1000);
    expect(big.variant).toBeGreaterThan(0.8995);
  });

  it('an early stop: the proposal reports the shrunk rates and an interval, and says why in its evidence', () => {
    const obs = observations('early-win', 100, { control: { good: 0.6 }, 'anthropic-first': { good: 0.85 } });
    const a = analyseExperiment(experiment, obs, options);
    expect(a).toMatchObject({ action: 'conclude', winner: 'anthropic-first', look: { final: false } });
    const p = proposalFromExperiment('r-early', experiment, a)!;
    const observedB = a.comparisons[0]!.good!.pB;
    const observedA = a.comparisons[0]!.good!.pA;
    expect(p.estimatedEffect.metric).toBe('good_outcome_rate');
    expect(p.estimatedEffect.expected!).toBeLessThan(observedB);
    expect(p.estimatedEffect.expected!).toBeGreaterThan(observedA);
    expect(p.estimatedEffect.current!).toBeGreaterThan(observedA);
    expect(p.estimatedEffect.description).toMatch(/shrunk from the \d+\.\d% vs \d+\.\d% observed when the experiment stopped/);
    expect(p.estimatedEffect.description).toMatch(/95% interval/);
    expect(p.evidence.figures).toMatchObject({ goodRate: expect.closeTo(observedB, 6) as unknown, controlGoodRate: expect.closeTo(observedA, 6) as unknown, estimatedGoodRate: p.estimatedEffect.expected, priorPseudoObservations: 30 });
    expect(p.evidence.figures['estimatedGoodRateLow95']).toBeLessThan(p.estimatedEffect.expected!);
    const posterior = p.evidence.tests.find((t) => t.name === 'Beta-Binomial posterior (shrunk estimate)');
    expect(posterior?.description).toMatch(/Beta prior on each arm centred on their pooled rate .* worth 30 observations \(a tenth of the planned 300 per arm, at least 10\)/);
    // The decision and its confidence are not changed by the estimate.
    expect(p.confidence).toBeCloseTo(a.comparisons[0]!.probabilityBetter!, 9);
    // Without minSamples, the planned size comes from the look's information fraction.
    const { minSamples: _minSamples, ...withoutPlan } = experiment;
    expect(proposalFromExperiment('r-early', withoutPlan, a)!.estimatedEffect).toEqual(p.estimatedEffect);
  });

  it("over many experiments like the bench's (80% vs 90%, a look every 50 per arm), the shrunk estimate is about right where the rates at the stop overshoot", () => {
    const minSamples = minSampleSizePerArm({ baseline: 0.8, minDetectableEffect: 0.1 });
    const exp = { ...experiment, minSamples };
    const estimates: { observed: number; expected: number; observedControl: number; current: number }[] = [];
    for (let k = 0; k < 150; k++) {
      let record = null as ExperimentRecord | null;
      for (let look = 1; look <= 8; look++) {
        const obs = observations(`bench-like-${k}`, 50 * look, { control: { good: 0.8 }, 'anthropic-first': { good: 0.9 } });
        const a = analyseExperiment(exp, obs, { ...options, previousFraction: previousFraction(record) });
        record = { looks: nextLooks(record?.looks ?? [], a), analysis: a };
        if (a.action === 'continue') continue;
        const p = proposalFromExperiment(`r-${k}`, exp, a);
        if (p) estimates.push({ observed: a.comparisons[0]!.good!.pB, expected: p.estimatedEffect.expected!, observedControl: a.comparisons[0]!.good!.pA, current: p.estimatedEffect.current! });
        break;
      }
    }
    const mean = (f: (x: (typeof estimates)[number]) => number) => estimates.reduce((s, x) => s + f(x), 0) / estimates.length;
    expect(estimates.length).toBeGreaterThan(80);
    // The rates at the stop: the winner high, the control low.
    expect(mean((x) => x.observed)).toBeGreaterThan(0.905);
    expect(mean((x) => x.observedControl)).toBeLessThan(0.795);
    // Shrunk: within a point of the truth on average, and closer than the raw rates.
    expect(Math.abs(mean((x) => x.expected) - 0.9)).toBeLessThan(0.01);
    expect(Math.abs(mean((x) => x.expected) - 0.9)).toBeLessThan(Math.abs(mean((x) => x.observed) - 0.9));
    expect(Math.abs(mean((x) => x.current) - 0.8)).toBeLessThan(Math.abs(mean((x) => x.observedControl) - 0.8));
  });
});
