/**
 * Statistics for the improvement loop: the tests that decide whether a provider degraded and
 * whether an experiment's variant is better, and the guards that keep those decisions honest.
 *
 * - normalCdf / normalQuantile: Φ and Φ⁻¹ to double precision (regularised incomplete gamma for
 *   erfc; Acklam's rational approximation refined by one Halley step for the quantile).
 * - twoProportionZTest: pooled two-proportion z-test (success rates, error rates).
 * - mannWhitneyU: rank test with the normal approximation, tie correction and continuity
 *   correction (latency, cost), matching scipy.stats.mannwhitneyu(method='asymptotic').
 * - probabilityBBeatsA: Bayesian Beta-Binomial P(p_B > p_A), closed form when a shape is an
 *   integer, deterministic Simpson integration otherwise; probabilityNotWorse: P(p_B > p_A - δ).
 * - minSampleSizePerArm: per-arm sample size for a two-proportion comparison.
 * - Peeking guard: Lan-DeMets O'Brien-Fleming-type alpha spending over the looks actually taken,
 *   plus a floor below which no decision is made at all.
 *
 * Pure and deterministic: no clock, no randomness, no I/O. Safe in workflow code.
 */

export type Alternative = 'two-sided' | 'greater' | 'less';

function assertFinite(name: string, x: number): void {
  if (!Number.isFinite(x)) throw new RangeError(`${name} must be a finite number (got ${x})`);
}

function assertProbability(name: string, p: number, open = true): void {
  assertFinite(name, p);
  if (open ? p <= 0 || p >= 1 : p < 0 || p > 1) throw new RangeError(`${name} must be in ${open ? '(0, 1)' : '[0, 1]'} (got ${p})`);
}

// ---------------------------------------------------------------------------------------------
// Special functions

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];
const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  assertFinite('x', x);
  if (x <= 0) throw new RangeError(`logGamma needs x > 0 (got ${x})`);
  if (x < 0.5) {
    // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  return LN_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln B(a, b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;

/** Regularised lower incomplete gamma P(a, x) and upper Q(a, x) (series / Lentz continued fraction). */
function incompleteGamma(a: number, x: number): { p: number; q: number } {
  if (x <= 0) return { p: 0, q: 1 };
  const lnPrefix = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < MAX_ITERATIONS; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    const p = sum * Math.exp(lnPrefix);
    return { p, q: 1 - p };
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  const q = Math.exp(lnPrefix) * h;
  return { p: 1 - q, q };
}

/** erfc(x), accurate in the far tails (no cancellation). */
export function erfc(x: number): number {
  assertFinite('x', x);
  if (x >= 0) return incompleteGamma(0.5, x * x).q;
  return 1 + incompleteGamma(0.5, x * x).p;
}

/** Φ(z): the standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** 1 - Φ(z), without cancellation for large z. */
export function normalSurvival(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

const ACKLAM_A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const ACKLAM_B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const ACKLAM_C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

function poly(coefficients: readonly number[], x: number): number {
  let r = 0;
  for (const c of coefficients) r = r * x + c;
  return r;
}

/** Φ⁻¹(p) for p in (0, 1). */
export function normalQuantile(p: number): number {
  assertProbability('p', p);
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = poly(ACKLAM_C, q) / (poly(ACKLAM_D, q) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = (poly(ACKLAM_A, r) * q) / (poly(ACKLAM_B, r) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -poly(ACKLAM_C, q) / (poly(ACKLAM_D, q) * q + 1);
  }
  // One Halley step on Φ(x) - p brings Acklam's 1e-9 to full precision.
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** Regularised incomplete beta I_x(a, b) (Lentz continued fraction, with the symmetry for convergence). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  assertFinite('x', x);
  if (!(a > 0) || !(b > 0)) throw new RangeError(`incomplete beta needs a, b > 0 (got ${a}, ${b})`);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = a * Math.log(x) + b * Math.log(1 - x) - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Two-proportion z-test

export interface ProportionSample {
  successes: number;
  total: number;
}

export interface TwoProportionResult {
  pA: number;
  pB: number;
  /** pB - pA. */
  difference: number;
  /** Pooled standard error of the difference (0 when both samples are all successes or all failures). */
  standardError: number;
  /** (pB - pA) / standardError; 0 when the standard error is 0. */
  z: number;
  pValue: number;
  alternative: Alternative;
}

function checkSample(name: string, s: ProportionSample): void {
  if (!Number.isInteger(s.total) || s.total < 1) throw new RangeError(`${name}.total must be a positive integer (got ${s.total})`);
  if (!Number.isInteger(s.successes) || s.successes < 0 || s.successes > s.total) {
    throw new RangeError(`${name}.successes must be an integer in [0, ${s.total}] (got ${s.successes})`);
  }
}

function pFromZ(z: number, alternative: Alternative): number {
  switch (alternative) {
    case 'two-sided':
      return Math.min(1, 2 * normalSurvival(Math.abs(z)));
    case 'greater':
      return normalSurvival(z);
    case 'less':
      return normalCdf(z);
  }
}

/**
 * Pooled two-proportion z-test of H0: p_A = p_B. `alternative: 'greater'` tests p_B > p_A.
 * Same statistic as statsmodels' proportions_ztest (with the samples in the order B, A).
 */
export function twoProportionZTest(a: ProportionSample, b: ProportionSample, alternative: Alternative = 'two-sided'): TwoProportionResult {
  checkSample('a', a);
  checkSample('b', b);
  const pA = a.successes / a.total;
  const pB = b.successes / b.total;
  const pooled = (a.successes + b.successes) / (a.total + b.total);
  const standardError = Math.sqrt(pooled * (1 - pooled) * (1 / a.total + 1 / b.total));
  const difference = pB - pA;
  if (standardError === 0) return { pA, pB, difference, standardError, z: 0, pValue: 1, alternative };
  const z = difference / standardError;
  return { pA, pB, difference, standardError, z, pValue: pFromZ(z, alternative), alternative };
}

// ---------------------------------------------------------------------------------------------
// Mann-Whitney U

export interface MannWhitneyResult {
  /** U of sample A: the number of (a, b) pairs with a > b, ties counting one half. */
  uA: number;
  uB: number;
  /** Standardised statistic (with continuity correction), sign as scipy's for the chosen alternative. */
  z: number;
  pValue: number;
  /** uA / (nA nB): probability that a random A exceeds a random B (ties one half). */
  probabilityAGreater: number;
  alternative: Alternative;
  nA: number;
  nB: number;
}

/** Average ranks (1-based) of `values`, and the tie correction term Σ(t³ - t). */
function ranksWithTies(values: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = values.map((v, i) => ({ v, i })).sort((x, y) => x.v - y.v || x.i - y.i);
  const ranks = new Array<number>(values.length);
  let tieTerm = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.v === order[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]!.i] = rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { ranks, tieTerm };
}

/**
 * Mann-Whitney U test with the normal approximation, tie correction and continuity correction.
 * `alternative: 'greater'` tests that A is stochastically greater than B (e.g. slower, dearer).
 * Same as scipy.stats.mannwhitneyu(a, b, alternative, method='asymptotic', use_continuity=True).
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[], alternative: Alternative = 'two-sided', continuity = true): MannWhitneyResult {
  const nA = a.length;
  const nB = b.length;
  if (nA < 1 || nB < 1) throw new RangeError(`mannWhitneyU needs two non-empty samples (got ${nA} and ${nB})`);
  for (const v of a) assertFinite('a[i]', v);
  for (const v of b) assertFinite('b[i]', v);
  const { ranks, tieTerm } = ranksWithTies([...a, ...b]);
  let rankSumA = 0;
  for (let i = 0; i < nA; i++) rankSumA += ranks[i]!;
  const uA = rankSumA - (nA * (nA + 1)) / 2;
  const uB = nA * nB - uA;
  const n = nA + nB;
  const mean = (nA * nB) / 2;
  const variance = ((nA * nB) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const probabilityAGreater = uA / (nA * nB);
  if (!(variance > 0)) return { uA, uB, z: 0, pValue: 1, probabilityAGreater, alternative, nA, nB };
  const sd = Math.sqrt(variance);
  const cc = continuity ? 0.5 : 0;
  let z: number;
  let pValue: number;
  switch (alternative) {
    case 'two-sided':
      z = (Math.max(uA, uB) - mean - cc) / sd;
      pValue = Math.min(1, 2 * normalSurvival(z));
      break;
    case 'greater':
      z = (uA - mean - cc) / sd;
      pValue = normalSurvival(z);
      break;
    case 'less':
      z = (uB - mean - cc) / sd;
      pValue = normalSurvival(z);
      break;
  }
  return { uA, uB, z, pValue: Math.max(0, Math.min(1, pValue)), probabilityAGreater, alternative, nA, nB };
}

// ---------------------------------------------------------------------------------------------
// Bayesian Beta-Binomial comparison

export interface BetaShape {
  alpha: number;
  beta: number;
}

/** The Beta posterior of a success rate after `successes` in `total`, from a Beta(prior) prior (uniform by default). */
export function betaPosterior(s: ProportionSample, prior: BetaShape = { alpha: 1, beta: 1 }): BetaShape {
  checkSample('sample', s);
  return { alpha: prior.alpha + s.successes, beta: prior.beta + s.total - s.successes };
}

/** Above this many terms the closed form gives way to numeric integration (cost, not accuracy). */
const CLOSED_FORM_MAX_TERMS = 20_000;
const SIMPSON_INTERVALS = 4096;

/**
 * Σ_{i=0}^{αB-1} B(αA+i, βA+βB) / ((βB+i) B(1+i, βB) B(αA, βA)) = P(p_B > p_A) for integer αB
 * (Evan Miller, "Formulas for Bayesian A/B Testing", 2015; Cook 2005).
 */
function closedForm(a: BetaShape, b: BetaShape): number {
  const lnBA = logBeta(a.alpha, a.beta);
  let total = 0;
  for (let i = 0; i < b.alpha; i++) {
    total += Math.exp(logBeta(a.alpha + i, a.beta + b.beta) - Math.log(b.beta + i) - logBeta(1 + i, b.beta) - lnBA);
  }
  return total;
}

function logBetaDensity(x: number, s: BetaShape, lnB: number): number {
  return (s.alpha - 1) * Math.log(x) + (s.beta - 1) * Math.log(1 - x) - lnB;
}

/** ∫ f_B(x) I_{x+shift}(αA, βA) dx by composite Simpson over where B's density lives. */
function integrated(a: BetaShape, b: BetaShape, shift = 0): number {
  const mean = b.alpha / (b.alpha + b.beta);
  const sd = Math.sqrt((b.alpha * b.beta) / ((b.alpha + b.beta) ** 2 * (b.alpha + b.beta + 1)));
  const lo = Math.max(0, mean - 14 * sd);
  const hi = Math.min(1, mean + 14 * sd);
  const lnB = logBeta(b.alpha, b.beta);
  const h = (hi - lo) / SIMPSON_INTERVALS;
  const f = (x: number) => {
    if (x <= 0 || x >= 1) return 0;
    return Math.exp(logBetaDensity(x, b, lnB)) * regularizedIncompleteBeta(Math.min(1, x + shift), a.alpha, a.beta);
  };
  let sum = f(lo) + f(hi);
  for (let i = 1; i < SIMPSON_INTERVALS; i++) sum += (i % 2 === 1 ? 4 : 2) * f(lo + i * h);
  return (sum * h) / 3;
}

/**
 * P(p_B > p_A) for independent p_A ~ Beta(a), p_B ~ Beta(b). Closed form when αB (or αA, by
 * symmetry) is a whole number of manageable size, else deterministic numeric integration (shapes
 * below 1 are not supported by the integration; the posteriors used here always have shapes >= 1).
 */
export function probabilityBBeatsA(a: BetaShape, b: BetaShape): number {
  for (const [name, s] of [['a', a], ['b', b]] as const) {
    if (!(s.alpha > 0 && s.beta > 0) || !Number.isFinite(s.alpha) || !Number.isFinite(s.beta)) {
      throw new RangeError(`${name} must have finite positive shapes (got ${s.alpha}, ${s.beta})`);
    }
  }
  const clamp = (p: number) => Math.min(1, Math.max(0, p));
  if (Number.isInteger(b.alpha) && b.alpha <= CLOSED_FORM_MAX_TERMS) return clamp(closedForm(a, b));
  if (Number.isInteger(a.alpha) && a.alpha <= CLOSED_FORM_MAX_TERMS) return clamp(1 - closedForm(b, a));
  if (a.alpha < 1 || a.beta < 1 || b.alpha < 1 || b.beta < 1) throw new RangeError('numeric integration needs Beta shapes >= 1');
  return clamp(integrated(a, b));
}

/**
 * P(p_B > p_A - margin): the posterior probability that B is not worse than A by more than
 * `margin` (a non-inferiority statement; margin 0 is probabilityBBeatsA). Deterministic Simpson
 * integration of f_B(x) I_{x+margin}(αA, βA) over where B's density lives.
 */
export function probabilityNotWorse(a: BetaShape, b: BetaShape, margin: number): number {
  assertFinite('margin', margin);
  if (margin < 0 || margin >= 1) throw new RangeError(`margin must be in [0, 1) (got ${margin})`);
  if (margin === 0) return probabilityBBeatsA(a, b);
  if (a.alpha < 1 || a.beta < 1 || b.alpha < 1 || b.beta < 1) throw new RangeError('numeric integration needs Beta shapes >= 1');
  return Math.min(1, Math.max(0, integrated(a, b, margin)));
}

/** P(p_B > p_A) from two samples with uniform priors. */
export function bayesianProbabilityBBetter(a: ProportionSample, b: ProportionSample): number {
  return probabilityBBeatsA(betaPosterior(a), betaPosterior(b));
}

// ---------------------------------------------------------------------------------------------
// Sample size

export interface SampleSizeOptions {
  /** The control's rate, in (0, 1). */
  baseline: number;
  /** The smallest absolute difference worth detecting (p2 = baseline ± effect must stay in (0, 1)). */
  minDetectableEffect: number;
  /** Significance level (two-sided). Default 0.05. */
  alpha?: number;
  /** 1 - β. Default 0.8. */
  power?: number;
}

/**
 * Per-arm sample size to detect `baseline` vs `baseline + minDetectableEffect` with a two-sided
 * two-proportion z-test (Fleiss, Levin & Paik 2003, eq. 4.14, without continuity correction):
 *   n = (z_{1-α/2} √(2 p̄ q̄) + z_{1-β} √(p1 q1 + p2 q2))² / (p2 - p1)²
 */
export function minSampleSizePerArm(options: SampleSizeOptions): number {
  const { baseline, minDetectableEffect } = options;
  const alpha = options.alpha ?? 0.05;
  const power = options.power ?? 0.8;
  assertProbability('baseline', baseline);
  assertProbability('alpha', alpha);
  assertProbability('power', power);
  assertFinite('minDetectableEffect', minDetectableEffect);
  if (minDetectableEffect === 0) throw new RangeError('minDetectableEffect must not be 0');
  const p1 = baseline;
  const p2 = baseline + minDetectableEffect;
  assertProbability('baseline + minDetectableEffect', p2);
  const pBar = (p1 + p2) / 2;
  const zAlpha = normalQuantile(1 - alpha / 2);
  const zBeta = normalQuantile(power);
  const n = (zAlpha * Math.sqrt(2 * pBar * (1 - pBar)) + zBeta * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p2 - p1) ** 2;
  return Math.ceil(n - 1e-9);
}

// ---------------------------------------------------------------------------------------------
// Peeking guard

/**
 * Lan-DeMets O'Brien-Fleming-type spending function (two-sided): the share of α that may be spent
 * by information fraction t: α(t) = 2 - 2Φ(z_{1-α/2} / √t), α(0) = 0, α(1) = α.
 */
export function obrienFlemingSpending(t: number, alpha: number): number {
  assertFinite('t', t);
  assertProbability('alpha', alpha);
  if (t <= 0) return 0;
  if (t >= 1) return alpha;
  return 2 * normalSurvival(normalQuantile(1 - alpha / 2) / Math.sqrt(t));
}

export interface LookInput {
  /** Samples in the smallest arm now. */
  samplesPerArm: number;
  /** Planned samples per arm (the horizon; information fraction = samplesPerArm / planned). */
  plannedSamplesPerArm: number;
  /** Information fraction of the latest earlier look that spent alpha (0 when none). */
  previousFraction: number;
  /** Overall two-sided significance level. */
  alpha: number;
  /** No decision (and no alpha spent) below this many samples per arm. */
  floorSamplesPerArm: number;
}

export interface LookDecision {
  /** False below the floor: report, but decide nothing. */
  canDecide: boolean;
  /** Information fraction of this look, capped at 1. */
  fraction: number;
  /** Significance level this look may use: α(t) - α(t_prev), never negative. */
  alpha: number;
  /** True at or past the horizon: the last look; no winner now means no winner. */
  final: boolean;
  reason: string;
}

/**
 * The peeking guard. Each look may only use the alpha spent since the previous look
 * (α(t_k) - α(t_{k-1}) with the O'Brien-Fleming-type function); by Bonferroni over the looks the
 * chance of a false winner over the whole experiment stays at most α, however often the scheduler
 * looks. Early looks get a tiny alpha (at t = 0.25, 0.00009 of 0.05), so only overwhelming
 * differences end an experiment early. Conservative compared with exact group-sequential bounds,
 * but it needs no record beyond the previous fraction.
 */
export function lookDecision(input: LookInput): LookDecision {
  const { samplesPerArm, plannedSamplesPerArm, previousFraction, alpha, floorSamplesPerArm } = input;
  if (!(plannedSamplesPerArm > 0)) throw new RangeError(`plannedSamplesPerArm must be positive (got ${plannedSamplesPerArm})`);
  const fraction = Math.min(1, Math.max(0, samplesPerArm / plannedSamplesPerArm));
  if (samplesPerArm < floorSamplesPerArm) {
    return { canDecide: false, fraction, alpha: 0, final: false, reason: `${samplesPerArm} samples per arm, below the floor of ${floorSamplesPerArm}` };
  }
  const previous = Math.min(1, Math.max(0, previousFraction));
  const spend = Math.max(0, obrienFlemingSpending(fraction, alpha) - obrienFlemingSpending(previous, alpha));
  const final = fraction >= 1;
  if (previous >= 1) return { canDecide: false, fraction, alpha: 0, final: true, reason: 'the final look was already taken' };
  return {
    canDecide: spend > 0,
    fraction,
    alpha: spend,
    final,
    reason: final ? `final look at ${samplesPerArm} samples per arm (alpha ${spend.toPrecision(3)})` : `interim look at information fraction ${fraction.toFixed(3)} (alpha ${spend.toPrecision(3)})`,
  };
}

// ---------------------------------------------------------------------------------------------
// Descriptive helpers

/** Linear-interpolation percentile (numpy's default) of unsorted values; null when empty. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`q must be in [0, 1] (got ${q})`);
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Bonferroni adjustment for `tests` simultaneous tests: p × m, capped at 1. */
export function bonferroni(pValue: number, tests: number): number {
  return Math.min(1, pValue * Math.max(1, tests));
}
