/**
 * Known inputs, known outputs. Every expected number below was computed with SciPy 1.17.1 /
 * NumPy 2.4.6 (the script is in the comment of each block), so a change in our numerics that
 * moves a p-value shows here.
 */
import { describe, expect, it } from 'vitest';
import {
  bayesianProbabilityBBetter,
  betaPosterior,
  bonferroni,
  logGamma,
  lookDecision,
  mannWhitneyU,
  minSampleSizePerArm,
  normalCdf,
  normalQuantile,
  normalSurvival,
  obrienFlemingSpending,
  percentile,
  probabilityBBeatsA,
  probabilityNotWorse,
  regularizedIncompleteBeta,
  twoProportionZTest,
} from '../../src/improvement/statistics';

/** Relative closeness for values spanning many orders of magnitude. */
function expectRelClose(actual: number, expected: number, rel = 1e-9): void {
  if (expected === 0) expect(Math.abs(actual)).toBeLessThan(1e-300);
  else expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(rel);
}

describe('special functions', () => {
  it('normal CDF and survival match scipy.stats.norm, also far in the tails', () => {
    // scipy.stats.norm.cdf([-3, -1.96, 0, 0.5, 1.2345, 5, -8.5])
    const cases: [number, number][] = [
      [-3, 0.0013498980316300933],
      [-1.96, 0.024997895148220435],
      [0, 0.5],
      [0.5, 0.6914624612740131],
      [1.2345, 0.8914916766373298],
      [5, 0.9999997133484281],
      [-8.5, 9.47953482220325e-18],
    ];
    for (const [z, p] of cases) expectRelClose(normalCdf(z), p, 1e-12);
    // scipy.stats.norm.sf([6, 10, 20])
    expectRelClose(normalSurvival(6), 9.865876450376946e-10, 1e-10);
    expectRelClose(normalSurvival(10), 7.61985302416047e-24, 1e-10);
    expectRelClose(normalSurvival(20), 2.7536241186061556e-89, 1e-10);
  });

  it('normal quantile matches scipy.stats.norm.ppf and inverts the CDF', () => {
    const cases: [number, number][] = [
      [0.975, 1.959963984540054],
      [0.8, 0.8416212335729143],
      [0.001, -3.090232306167813],
      [1e-10, -6.361340902404056],
      [0.999999, 4.753424308817087],
    ];
    // Upper tail: p near 1 carries only ~1e-16 absolute precision, hence 1e-11 relative.
    for (const [p, z] of cases) expectRelClose(normalQuantile(p), z, 1e-11);
    expect(Math.abs(normalQuantile(0.5))).toBeLessThan(1e-15);
    expect(() => normalQuantile(1)).toThrow(RangeError);
    expect(() => normalQuantile(0)).toThrow(RangeError);
  });

  it('log-gamma and the regularised incomplete beta match scipy.special', () => {
    // scipy.special.gammaln([0.1, 0.5, 1, 3.7, 100.5, 12345.6])
    expectRelClose(logGamma(0.1), 2.252712651734206, 1e-13);
    expectRelClose(logGamma(0.5), 0.5723649429247, 1e-13);
    expect(Math.abs(logGamma(1))).toBeLessThan(1e-14);
    expectRelClose(logGamma(3.7), 1.428072326665388, 1e-13);
    expectRelClose(logGamma(100.5), 361.43554046777757, 1e-13);
    expectRelClose(logGamma(12345.6), 103959.18506616844, 1e-13);
    // scipy.special.betainc(a, b, x)
    expectRelClose(regularizedIncompleteBeta(0.4, 2, 3), 0.5248, 1e-12);
    expectRelClose(regularizedIncompleteBeta(0.7, 50.5, 20.25), 0.38564925527244154, 1e-10);
    expectRelClose(regularizedIncompleteBeta(0.1, 0.5, 0.5), 0.20483276469913345, 1e-10);
    expectRelClose(regularizedIncompleteBeta(0.51, 1000, 1000), 0.8144473405684881, 1e-9);
  });
});

describe('two-proportion z-test', () => {
  // Pooled: z = (pB - pA) / sqrt(p(1-p)(1/nA + 1/nB)); p two-sided = 2 sf(|z|), greater = sf(z) (scipy.stats.norm).
  it.each([
    [{ successes: 120, total: 1000 }, { successes: 150, total: 1000 }, 1.963049807622355, 0.04964038686536878, 0.02482019343268439],
    [{ successes: 45, total: 100 }, { successes: 56, total: 110 }, 0.8559585326522696, 0.39202071675236283, 0.19601035837618141],
    [{ successes: 10, total: 200 }, { successes: 30, total: 200 }, 3.3333333333333326, 0.0008581206663936765, 0.00042906033319683827],
    [{ successes: 480, total: 500 }, { successes: 440, total: 500 }, -4.662524041201567, 3.12354584004177e-6, 0.99999843822708],
  ])('%o vs %o', (a, b, z, twoSided, greater) => {
    const r = twoProportionZTest(a, b);
    expectRelClose(r.z, z, 1e-12);
    expectRelClose(r.pValue, twoSided, 1e-9);
    expectRelClose(twoProportionZTest(a, b, 'greater').pValue, greater, 1e-9);
    expectRelClose(twoProportionZTest(a, b, 'less').pValue, 1 - greater, 1e-9);
    expect(r.difference).toBeCloseTo(b.successes / b.total - a.successes / a.total, 15);
  });

  it('identical all-success samples give no evidence rather than NaN', () => {
    expect(twoProportionZTest({ successes: 50, total: 50 }, { successes: 80, total: 80 })).toMatchObject({ z: 0, pValue: 1, standardError: 0 });
  });

  it('rejects impossible counts', () => {
    expect(() => twoProportionZTest({ successes: 11, total: 10 }, { successes: 1, total: 10 })).toThrow(/a.successes/);
    expect(() => twoProportionZTest({ successes: 1, total: 10 }, { successes: 0, total: 0 })).toThrow(/b.total/);
    expect(() => twoProportionZTest({ successes: 1.5, total: 10 }, { successes: 0, total: 3 })).toThrow(RangeError);
  });
});

describe('Mann-Whitney U', () => {
  it('matches scipy.stats.mannwhitneyu(method="asymptotic") on a sample without ties', () => {
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const two = mannWhitneyU(x, y);
    expect(two.uA).toBe(58);
    expect(two.uB).toBe(81 - 58);
    expectRelClose(two.pValue, 0.13291945818531892, 1e-10);
    expectRelClose(mannWhitneyU(x, y, 'greater').pValue, 0.06645972909265946, 1e-10);
    expectRelClose(mannWhitneyU(x, y, 'less').pValue, 0.9442044002897128, 1e-10);
    expect(two.probabilityAGreater).toBeCloseTo(58 / 81, 15);
  });

  it('applies the tie correction (and the continuity correction) as scipy does', () => {
    const a = [1, 2, 2, 3, 3, 3, 4, 5, 5, 9, 10, 10];
    const b = [2, 3, 3, 4, 6, 7, 7, 8, 9, 11, 11, 12, 13, 13];
    expect(mannWhitneyU(a, b).uA).toBe(45);
    expectRelClose(mannWhitneyU(a, b).pValue, 0.04650244109575481, 1e-10);
    expectRelClose(mannWhitneyU(a, b, 'greater').pValue, 0.979449673275292, 1e-10);
    expectRelClose(mannWhitneyU(a, b, 'less').pValue, 0.023251220547877406, 1e-10);
    expectRelClose(mannWhitneyU(a, b, 'two-sided', false).pValue, 0.04373115497867679, 1e-10);
  });

  it('all values equal: no evidence; empty samples are refused', () => {
    expect(mannWhitneyU([5, 5, 5], [5, 5])).toMatchObject({ pValue: 1, z: 0 });
    expect(() => mannWhitneyU([], [1])).toThrow(RangeError);
    expect(() => mannWhitneyU([Number.NaN], [1])).toThrow(RangeError);
  });
});

describe('Bayesian P(B > A)', () => {
  // Reference: scipy.integrate.quad(lambda x: beta.pdf(x, aB, bB) * beta.cdf(x, aA, bA), 0, 1)
  it.each([
    [{ alpha: 121, beta: 881 }, { alpha: 151, beta: 851 }, 0.9750678368121439],
    [{ alpha: 46, beta: 56 }, { alpha: 57, beta: 55 }, 0.8027558535214617],
    [{ alpha: 11, beta: 191 }, { alpha: 31, beta: 171 }, 0.9996025806644052],
    [{ alpha: 1, beta: 1 }, { alpha: 1, beta: 1 }, 0.5],
  ])('closed form, integer shapes: A %o, B %o', (a, b, expected) => {
    expectRelClose(probabilityBBeatsA(a, b), expected, 1e-9);
    // Continuous posteriors: P(A > B) = 1 - P(B > A).
    expectRelClose(probabilityBBeatsA(b, a), 1 - expected, 1e-8);
  });

  it.each([
    [{ alpha: 2.5, beta: 3.5 }, { alpha: 4.25, beta: 2.75 }, 0.7697526736588213],
    [{ alpha: 50.5, beta: 60.5 }, { alpha: 70.25, beta: 40.75 }, 0.9963198338853241],
  ])('numeric integration, fractional shapes: A %o, B %o', (a, b, expected) => {
    expectRelClose(probabilityBBeatsA(a, b), expected, 1e-8);
  });

  it('closed form and integration agree, and the result is deterministic', () => {
    // Nudging a shape off the integers switches to the integration path.
    const closed = probabilityBBeatsA({ alpha: 46, beta: 56 }, { alpha: 57, beta: 55 });
    const integrated = probabilityBBeatsA({ alpha: 46.0000001, beta: 56 }, { alpha: 57.0000001, beta: 55 });
    expect(Math.abs(closed - integrated)).toBeLessThan(1e-6);
    expect(probabilityBBeatsA({ alpha: 46, beta: 56 }, { alpha: 57, beta: 55 })).toBe(closed);
  });

  // Reference: quad(lambda x: beta.pdf(x, aB, bB) * beta.cdf(min(1, x + margin), aA, bA), 0, 1)
  it.each([
    [{ alpha: 3, beta: 99 }, { alpha: 2, beta: 50 }, 0.05, 0.9819976959932495],
    [{ alpha: 101, beta: 901 }, { alpha: 91, beta: 911 }, 0.02, 0.777649893070576],
    [{ alpha: 98, beta: 4 }, { alpha: 36, beta: 16 }, 0.05, 0.00010512451912634433],
    [{ alpha: 98, beta: 4 }, { alpha: 50, beta: 2 }, 0.05, 0.9326126551127399],
  ])('not worse by more than a margin: A %o, B %o, margin %d', (a, b, margin, expected) => {
    expect(Math.abs(probabilityNotWorse(a, b, margin) - expected)).toBeLessThan(1e-7);
  });

  it('a margin of 0 is P(B > A); a margin makes the statement easier to believe', () => {
    const a = { alpha: 98, beta: 4 };
    const b = { alpha: 50, beta: 2 };
    expect(probabilityNotWorse(a, b, 0)).toBe(probabilityBBeatsA(a, b));
    expect(probabilityNotWorse(a, b, 0.05)).toBeGreaterThan(probabilityBBeatsA(a, b));
    expect(() => probabilityNotWorse(a, b, -0.1)).toThrow(RangeError);
  });

  it('from samples with a uniform prior', () => {
    expect(betaPosterior({ successes: 120, total: 1000 })).toEqual({ alpha: 121, beta: 881 });
    expectRelClose(bayesianProbabilityBBetter({ successes: 120, total: 1000 }, { successes: 150, total: 1000 }), 0.9750678368121439, 1e-9);
  });
});

describe('sample size', () => {
  // n = (z_{1-α/2} √(2p̄q̄) + z_{1-β} √(p1q1 + p2q2))² / δ², z from scipy.stats.norm.ppf, rounded up.
  it.each([
    [{ baseline: 0.1, minDetectableEffect: 0.05 }, 686], // 685.5968583253604
    [{ baseline: 0.5, minDetectableEffect: 0.1 }, 388], // 387.33851669903584
    [{ baseline: 0.9, minDetectableEffect: -0.05, alpha: 0.01, power: 0.9 }, 1300], // 1299.4722964037637
    [{ baseline: 0.2, minDetectableEffect: 0.02 }, 6510], // 6509.466678513718
  ])('%o -> %i per arm', (options, n) => {
    expect(minSampleSizePerArm(options)).toBe(n);
  });

  it('a smaller effect needs more samples; impossible settings are refused', () => {
    expect(minSampleSizePerArm({ baseline: 0.5, minDetectableEffect: 0.05 })).toBeGreaterThan(minSampleSizePerArm({ baseline: 0.5, minDetectableEffect: 0.1 }));
    expect(() => minSampleSizePerArm({ baseline: 0.95, minDetectableEffect: 0.1 })).toThrow(/baseline \+ minDetectableEffect/);
    expect(() => minSampleSizePerArm({ baseline: 0.5, minDetectableEffect: 0 })).toThrow(RangeError);
  });
});

describe('peeking guard', () => {
  it('O\'Brien-Fleming-type spending: 2 - 2Φ(z_{α/2}/√t) (values from scipy.stats.norm)', () => {
    expectRelClose(obrienFlemingSpending(0.25, 0.05), 8.85754383214038e-5, 1e-9);
    expectRelClose(obrienFlemingSpending(0.5, 0.05), 0.005574596680784415, 1e-9);
    expectRelClose(obrienFlemingSpending(0.75, 0.05), 0.023625121317601198, 1e-9);
    expect(obrienFlemingSpending(1, 0.05)).toBe(0.05);
    expect(obrienFlemingSpending(0, 0.05)).toBe(0);
  });

  it('each look spends only the increment, so looking often never exceeds alpha in total', () => {
    let previous = 0;
    let spent = 0;
    for (const n of [50, 100, 150, 200, 250, 300, 350, 400]) {
      const look = lookDecision({ samplesPerArm: n, plannedSamplesPerArm: 400, previousFraction: previous, alpha: 0.05, floorSamplesPerArm: 30 });
      expect(look.canDecide).toBe(true);
      spent += look.alpha;
      previous = look.fraction;
    }
    expect(spent).toBeCloseTo(0.05, 12);
    // The first look at an eighth of the horizon may only use a sliver of alpha.
    expect(lookDecision({ samplesPerArm: 50, plannedSamplesPerArm: 400, previousFraction: 0, alpha: 0.05, floorSamplesPerArm: 30 }).alpha).toBeLessThan(1e-6);
  });

  it('no decision below the floor, a final look at the horizon, nothing after it', () => {
    expect(lookDecision({ samplesPerArm: 10, plannedSamplesPerArm: 400, previousFraction: 0, alpha: 0.05, floorSamplesPerArm: 30 })).toMatchObject({ canDecide: false, alpha: 0 });
    const final = lookDecision({ samplesPerArm: 420, plannedSamplesPerArm: 400, previousFraction: 0.5, alpha: 0.05, floorSamplesPerArm: 30 });
    expect(final).toMatchObject({ canDecide: true, final: true, fraction: 1 });
    expectRelClose(final.alpha, 0.05 - 0.005574596680784415, 1e-9);
    expect(lookDecision({ samplesPerArm: 500, plannedSamplesPerArm: 400, previousFraction: 1, alpha: 0.05, floorSamplesPerArm: 30 })).toMatchObject({ canDecide: false, final: true });
  });
});

describe('descriptive helpers', () => {
  it('percentile interpolates as numpy.percentile does; Bonferroni caps at 1', () => {
    expect(percentile([5, 1, 9, 3, 7, 2], 0.5)).toBe(4);
    expect(percentile([5, 1, 9, 3, 7, 2], 0.95)).toBeCloseTo(8.5, 12);
    expect(percentile([], 0.5)).toBeNull();
    expect(bonferroni(0.02, 3)).toBeCloseTo(0.06, 15);
    expect(bonferroni(0.5, 3)).toBe(1);
  });
});
