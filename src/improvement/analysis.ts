/**
 * What the improvement workflow sees in a window of history: per provider, model, task type and
 * complexity, the success rate, latency percentiles, cost and quality (agreement with the chosen
 * answer, user feedback), the trend against the window before, and the anomalies: a model whose
 * error rate or latency changed significantly.
 *
 * Anomaly tests run per model (`provider:model`), over all its task types:
 * - error rate against the previous window (two-proportion z-test, two-sided),
 * - error rate against each other model in the same window (one-sided z-tests combined as an
 *   intersection-union test: worse than every other model; a larger effect is required, since
 *   models differ a little by nature),
 * - latency of successful calls against the previous window (Mann-Whitney U, two-sided),
 * - error rate and latency against the model's "last healthy" baseline (one-sided: worse only):
 *   its longer history before the previous window when the caller loads it (`baseline`), else the
 *   older half of the previous window (its requests before the median completion time). The
 *   previous window alone misses two things: a rise that starts mid-interval is split across two
 *   windows (each run sees half of it, and the next run's reference has already moved), and a
 *   rise missed by its first run is never caught later (the reference is already degraded).
 * Latency is never compared across models: a bigger model is slower by design, not degraded.
 * Every test of a run counts in one Bonferroni correction, and an anomaly also needs an effect
 * worth acting on (`minErrorRateIncrease`, `minLatencyRatio`): with identical providers a run
 * makes fifteen tests (three models) and finds nothing, run after run. Each anomaly names its
 * reference (basis and window), its test and sidedness, and its raw and adjusted p-values.
 *
 * Pure and deterministic: rows in, JSON out.
 */
import { bonferroni, mannWhitneyU, mean, percentile, twoProportionZTest } from './statistics';

// ---------------------------------------------------------------------------------------------
// Input rows (loaded by store.ts)

export interface CallRow {
  provider: string;
  model: string;
  /** 'cancelled': stopped early by the workflow (early stop, hedging); neither success nor failure. */
  status: 'succeeded' | 'failed' | 'cancelled';
  errorType: string | null;
  latencyMs: number | null;
  costUsd: number;
  hedged: boolean;
}

export interface InteractionRow {
  id: string;
  taskType: string;
  complexity: string;
  status: 'completed' | 'failed';
  /** ISO-8601. */
  completedAt: string;
  consensusApplied: boolean;
  agreement: number | null;
  confidence: number | null;
  thresholdMet: boolean | null;
  /** Providers (or provider:model) whose answers disagreed with the chosen one; null when not recorded. */
  dissenting: string[] | null;
  costUsd: number;
  processingTimeMs: number;
  /** Explicit feedback scores in [0, 1]. */
  feedback: number[];
  experimentId: string | null;
  variant: string | null;
  systemPrompt: string | null;
  calls: CallRow[];
}

export interface AnalysisSettings {
  /** Family-wise significance level over all anomaly tests of the run. */
  anomalyAlpha: number;
  minErrorRateIncrease: number;
  minLatencyRatio: number;
  minCallsPerTest: number;
  /** Most group rows kept in the report (provider and model levels are always kept). Default 400. */
  maxGroups?: number;
}

export interface TimeWindow {
  /** ISO-8601, inclusive. */
  start: string;
  /** ISO-8601, exclusive. */
  end: string;
}

// ---------------------------------------------------------------------------------------------
// Output

export type GroupLevel = 'provider' | 'model' | 'task' | 'cell';

export interface GroupKey {
  level: GroupLevel;
  provider: string;
  /** Null at the provider level. */
  model: string | null;
  /** Null at the provider and model levels. */
  taskType: string | null;
  /** Null except at the cell level. */
  complexity: string | null;
}

export interface GroupMetrics {
  calls: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** succeeded / (succeeded + failed); null with neither. */
  successRate: number | null;
  errorRate: number | null;
  errorTypes: Record<string, number>;
  timeouts: number;
  latencyP50Ms: number | null;
  latencyP90Ms: number | null;
  latencyP95Ms: number | null;
  /** Successful calls slower than three times the median. */
  slowTail: number;
  latencyObservations: number;
  costUsd: number;
  costPerCallUsd: number | null;
  /** Share of successful consensus calls that sided with the chosen answer (where dissent was recorded). */
  agreementRate: number | null;
  agreements: number;
  agreementObservations: number;
  /** Mean quality per successful call: feedback on the chosen answer where given (not for dissenters), else agreement (binary, or the interaction's agreement score). */
  quality: number | null;
  qualityObservations: number;
  feedback: number | null;
  feedbackObservations: number;
}

export interface GroupTrend {
  successRateDelta: number | null;
  latencyP50Ratio: number | null;
  latencyP95Ratio: number | null;
  costPerCallDelta: number | null;
  qualityDelta: number | null;
}

export interface GroupRow {
  key: GroupKey;
  current: GroupMetrics;
  previous: GroupMetrics | null;
  trend: GroupTrend | null;
}

export interface TaskTypeMetrics {
  interactions: number;
  completed: number;
  successRate: number | null;
  costPerRequestUsd: number | null;
  agreement: number | null;
  thresholdMetRate: number | null;
  feedback: number | null;
  processingP50Ms: number | null;
  processingP95Ms: number | null;
}

export interface TaskTypeRow {
  taskType: string;
  current: TaskTypeMetrics;
  previous: TaskTypeMetrics | null;
}

export type AnomalyMetric = 'error_rate' | 'latency';
/** trend: the previous window; peers: the other models now; baseline: the model's last-healthy baseline (see WindowAnalysis.baseline). */
export type AnomalyBasis = 'trend' | 'peers' | 'baseline';

export interface Anomaly {
  selector: string;
  provider: string;
  model: string;
  metric: AnomalyMetric;
  basis: AnomalyBasis;
  direction: 'worse' | 'better';
  /** Error rate, or median latency (ms), now. */
  current: number;
  /** The same figure for the reference (previous window, the other models, or the baseline). */
  reference: number;
  /** When the reference was observed (the current window for peers). */
  referenceWindow: TimeWindow;
  test: 'two-proportion z' | 'Mann-Whitney U';
  /** 'greater': one-sided, the model worse than the reference (baseline and peer tests). */
  alternative: 'two-sided' | 'greater';
  statistic: number;
  pValue: number;
  /** Bonferroni-adjusted over `tests`. */
  adjustedPValue: number;
  tests: number;
  currentObservations: number;
  referenceObservations: number;
  description: string;
}

export interface WindowTotals {
  interactions: number;
  failedInteractions: number;
  providerCalls: number;
  costUsd: number;
}

/**
 * The reference of the "last healthy" tests. history: the interactions the caller loaded from
 * before the previous window; previous_older_half: the previous window's requests completed before
 * its median completion time (what a run has when nothing older is loaded).
 */
export interface BaselineInfo {
  source: 'history' | 'previous_older_half';
  window: TimeWindow;
  interactions: number;
}

export interface WindowAnalysis {
  window: TimeWindow;
  previousWindow: TimeWindow;
  /** Null when there is nothing to compare with (no earlier rows). */
  baseline: BaselineInfo | null;
  totals: { current: WindowTotals; previous: WindowTotals };
  groups: GroupRow[];
  /** Groups left out of `groups` by the cap. */
  groupsOmitted: number;
  taskTypes: TaskTypeRow[];
  anomalies: Anomaly[];
  /** Anomaly tests made (the Bonferroni denominator). */
  testsRun: number;
  settings: AnalysisSettings;
}

// ---------------------------------------------------------------------------------------------

interface Acc {
  key: GroupKey;
  calls: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  errorTypes: Record<string, number>;
  latencies: number[];
  cost: number;
  agreements: number;
  agreementObservations: number;
  quality: number[];
  feedback: number[];
}

function newAcc(key: GroupKey): Acc {
  return { key, calls: 0, succeeded: 0, failed: 0, cancelled: 0, errorTypes: {}, latencies: [], cost: 0, agreements: 0, agreementObservations: 0, quality: [], feedback: [] };
}

function keyId(k: GroupKey): string {
  return [k.level, k.provider, k.model ?? '', k.taskType ?? '', k.complexity ?? ''].join('\u0000');
}

function keysOf(i: InteractionRow, c: CallRow): GroupKey[] {
  return [
    { level: 'provider', provider: c.provider, model: null, taskType: null, complexity: null },
    { level: 'model', provider: c.provider, model: c.model, taskType: null, complexity: null },
    { level: 'task', provider: c.provider, model: c.model, taskType: i.taskType, complexity: null },
    { level: 'cell', provider: c.provider, model: c.model, taskType: i.taskType, complexity: i.complexity },
  ];
}

/** Did this successful call side with the chosen answer? null when unknown. */
function agreed(i: InteractionRow, c: CallRow): boolean | null {
  if (!i.consensusApplied || c.status !== 'succeeded' || i.dissenting === null) return null;
  return !(i.dissenting.includes(c.provider) || i.dissenting.includes(`${c.provider}:${c.model}`));
}

function accumulate(rows: readonly InteractionRow[]): Map<string, Acc> {
  const accs = new Map<string, Acc>();
  for (const i of rows) {
    const rating = mean(i.feedback);
    for (const c of i.calls) {
      const agreement = agreed(i, c);
      // Feedback rates the chosen answer: it says nothing about a call that dissented from it.
      const feedback = agreement === false ? null : rating;
      const proxy = c.status === 'succeeded' && i.consensusApplied ? (i.agreement ?? i.confidence) : null;
      for (const key of keysOf(i, c)) {
        const id = keyId(key);
        let a = accs.get(id);
        if (!a) accs.set(id, (a = newAcc(key)));
        a.calls++;
        a.cost += c.costUsd;
        if (c.status === 'succeeded') {
          a.succeeded++;
          if (c.latencyMs !== null) a.latencies.push(c.latencyMs);
          if (agreement !== null) {
            a.agreementObservations++;
            if (agreement) a.agreements++;
          }
          const q = feedback ?? (agreement !== null ? (agreement ? 1 : 0) : proxy);
          if (q !== null) a.quality.push(q);
          if (feedback !== null) a.feedback.push(feedback);
        } else if (c.status === 'failed') {
          a.failed++;
          const t = c.errorType ?? 'unknown';
          a.errorTypes[t] = (a.errorTypes[t] ?? 0) + 1;
        } else {
          a.cancelled++;
        }
      }
    }
  }
  return accs;
}

const round = (x: number | null, digits = 6): number | null => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);

function metricsOf(a: Acc): GroupMetrics {
  const decided = a.succeeded + a.failed;
  const p50 = percentile(a.latencies, 0.5);
  return {
    calls: a.calls,
    succeeded: a.succeeded,
    failed: a.failed,
    cancelled: a.cancelled,
    successRate: decided > 0 ? round(a.succeeded / decided) : null,
    errorRate: decided > 0 ? round(a.failed / decided) : null,
    errorTypes: a.errorTypes,
    timeouts: a.errorTypes['ProviderTimeout'] ?? 0,
    latencyP50Ms: round(p50, 2),
    latencyP90Ms: round(percentile(a.latencies, 0.9), 2),
    latencyP95Ms: round(percentile(a.latencies, 0.95), 2),
    slowTail: p50 === null ? 0 : a.latencies.filter((l) => l > 3 * p50).length,
    latencyObservations: a.latencies.length,
    costUsd: round(a.cost, 8) ?? 0,
    costPerCallUsd: a.calls > 0 ? round(a.cost / a.calls, 8) : null,
    agreementRate: a.agreementObservations > 0 ? round(a.agreements / a.agreementObservations) : null,
    agreements: a.agreements,
    agreementObservations: a.agreementObservations,
    quality: round(mean(a.quality)),
    qualityObservations: a.quality.length,
    feedback: round(mean(a.feedback)),
    feedbackObservations: a.feedback.length,
  };
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round(a / b, 4);
}

function delta(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : round(a - b);
}

function trendOf(cur: GroupMetrics, prev: GroupMetrics): GroupTrend {
  return {
    successRateDelta: delta(cur.successRate, prev.successRate),
    latencyP50Ratio: ratio(cur.latencyP50Ms, prev.latencyP50Ms),
    latencyP95Ratio: ratio(cur.latencyP95Ms, prev.latencyP95Ms),
    costPerCallDelta: delta(cur.costPerCallUsd, prev.costPerCallUsd),
    qualityDelta: delta(cur.quality, prev.quality),
  };
}

function taskTypeMetrics(rows: readonly InteractionRow[]): TaskTypeMetrics {
  const n = rows.length;
  const completed = rows.filter((r) => r.status === 'completed');
  const agreements = rows.map((r) => r.agreement).filter((x): x is number => x !== null);
  const met = rows.map((r) => r.thresholdMet).filter((x): x is boolean => x !== null);
  const feedback = rows.flatMap((r) => r.feedback);
  const times = completed.map((r) => r.processingTimeMs);
  return {
    interactions: n,
    completed: completed.length,
    successRate: n > 0 ? round(completed.length / n) : null,
    costPerRequestUsd: round(mean(rows.map((r) => r.costUsd)), 8),
    agreement: round(mean(agreements)),
    thresholdMetRate: met.length > 0 ? round(met.filter(Boolean).length / met.length) : null,
    feedback: round(mean(feedback)),
    processingP50Ms: round(percentile(times, 0.5), 2),
    processingP95Ms: round(percentile(times, 0.95), 2),
  };
}

function totalsOf(rows: readonly InteractionRow[]): WindowTotals {
  return {
    interactions: rows.length,
    failedInteractions: rows.filter((r) => r.status === 'failed').length,
    providerCalls: rows.reduce((s, r) => s + r.calls.length, 0),
    costUsd: round(
      rows.reduce((s, r) => s + r.costUsd, 0),
      8,
    )!,
  };
}

interface PendingTest {
  make: (adjusted: number, tests: number) => Anomaly | null;
  pValue: number;
}

interface Reference {
  accs: Map<string, Acc>;
  window: TimeWindow;
}

interface Baseline extends Reference {
  info: BaselineInfo;
}

function baselineLabel(b: BaselineInfo): string {
  const span = `${b.window.start} to ${b.window.end}`;
  return b.source === 'history' ? `last-healthy baseline, its history before the previous window, ${span}` : `last-healthy baseline, the older half of the previous window, ${span}`;
}

/** The anomaly tests of one run, Bonferroni-corrected together. */
function detectAnomalies(current: Reference, previous: Reference, baseline: Baseline | null, settings: AnalysisSettings): { anomalies: Anomaly[]; tests: number } {
  const models = [...current.accs.values()].filter((a) => a.key.level === 'model').sort((x, y) => (keyId(x.key) < keyId(y.key) ? -1 : 1));
  const pending: PendingTest[] = [];
  const min = settings.minCallsPerTest;

  for (const a of models) {
    const selector = `${a.key.provider}:${a.key.model}`;
    const base = { selector, provider: a.key.provider, model: a.key.model! };
    const decided = a.succeeded + a.failed;
    const prev = previous.accs.get(keyId(a.key));
    const healthy = baseline?.accs.get(keyId(a.key));

    // Error rate against the previous window.
    if (prev && decided >= min && prev.succeeded + prev.failed >= min) {
      const prevDecided = prev.succeeded + prev.failed;
      const r = twoProportionZTest({ successes: prev.failed, total: prevDecided }, { successes: a.failed, total: decided });
      pending.push({
        pValue: r.pValue,
        make: (adjusted, tests) => {
          const worse = r.difference >= settings.minErrorRateIncrease;
          const better = -r.difference >= settings.minErrorRateIncrease;
          if (!(worse || better) || adjusted >= settings.anomalyAlpha) return null;
          return {
            ...base,
            metric: 'error_rate',
            basis: 'trend',
            direction: worse ? 'worse' : 'better',
            current: r.pB,
            reference: r.pA,
            referenceWindow: previous.window,
            test: 'two-proportion z',
            alternative: 'two-sided',
            statistic: r.z,
            pValue: r.pValue,
            adjustedPValue: adjusted,
            tests,
            currentObservations: decided,
            referenceObservations: prevDecided,
            description: `${selector} error rate ${pct(r.pB)} vs ${pct(r.pA)} in the previous window (${decided} and ${prevDecided} calls; two-sided two-proportion z-test)`,
          };
        },
      });
    }

    // Error rate against each other model now: an intersection-union test (worse than every
    // other model, each one-sided at the same level, p = the largest), so one bad model does not
    // make the healthy ones look better or worse than a pooled reference that contains it.
    const others = models.filter((o) => o !== a && o.succeeded + o.failed >= min);
    if (decided >= min && others.length > 0) {
      const gap = 2 * settings.minErrorRateIncrease;
      const pairs = others.map((o) => ({ o, r: twoProportionZTest({ successes: o.failed, total: o.succeeded + o.failed }, { successes: a.failed, total: decided }, 'greater') }));
      const weakest = pairs.reduce((x, y) => (y.r.pValue > x.r.pValue ? y : x));
      const peerFailed = others.reduce((s, o) => s + o.failed, 0);
      const peers = others.reduce((s, o) => s + o.succeeded + o.failed, 0);
      pending.push({
        pValue: weakest.r.pValue,
        make: (adjusted, tests) => {
          if (!pairs.every((x) => x.r.difference >= gap) || adjusted >= settings.anomalyAlpha) return null;
          return {
            ...base,
            metric: 'error_rate',
            basis: 'peers',
            direction: 'worse',
            current: weakest.r.pB,
            reference: peerFailed / peers,
            referenceWindow: current.window,
            test: 'two-proportion z',
            alternative: 'greater',
            statistic: weakest.r.z,
            pValue: weakest.r.pValue,
            adjustedPValue: adjusted,
            tests,
            currentObservations: decided,
            referenceObservations: peers,
            description: `${selector} error rate ${pct(weakest.r.pB)} vs ${pct(peerFailed / peers)} for the other models, higher than each of them (${decided} and ${peers} calls; one-sided two-proportion z-tests, intersection-union)`,
          };
        },
      });
    }

    // Latency of successful calls against the previous window.
    if (prev && a.latencies.length >= min && prev.latencies.length >= min) {
      const r = mannWhitneyU(a.latencies, prev.latencies);
      const now = percentile(a.latencies, 0.5)!;
      const before = percentile(prev.latencies, 0.5)!;
      pending.push({
        pValue: r.pValue,
        make: (adjusted, tests) => {
          const rise = before > 0 ? now / before : now > 0 ? Infinity : 1;
          const worse = r.probabilityAGreater > 0.5 && rise >= settings.minLatencyRatio;
          const better = r.probabilityAGreater < 0.5 && rise <= 1 / settings.minLatencyRatio;
          if (!(worse || better) || adjusted >= settings.anomalyAlpha) return null;
          return {
            ...base,
            metric: 'latency',
            basis: 'trend',
            direction: worse ? 'worse' : 'better',
            current: now,
            reference: before,
            referenceWindow: previous.window,
            test: 'Mann-Whitney U',
            alternative: 'two-sided',
            statistic: r.z,
            pValue: r.pValue,
            adjustedPValue: adjusted,
            tests,
            currentObservations: a.latencies.length,
            referenceObservations: prev.latencies.length,
            description: `${selector} median latency ${Math.round(now)} ms vs ${Math.round(before)} ms in the previous window (${a.latencies.length} and ${prev.latencies.length} successful calls; two-sided Mann-Whitney U)`,
          };
        },
      });
    }

    // Against the last-healthy baseline, worse only (one-sided): the rise the previous window no
    // longer shows, because it started within it or was missed by the run that first saw it.
    if (baseline && healthy) {
      const label = baselineLabel(baseline.info);
      const healthyDecided = healthy.succeeded + healthy.failed;
      if (decided >= min && healthyDecided >= min) {
        const r = twoProportionZTest({ successes: healthy.failed, total: healthyDecided }, { successes: a.failed, total: decided }, 'greater');
        pending.push({
          pValue: r.pValue,
          make: (adjusted, tests) => {
            if (r.difference < settings.minErrorRateIncrease || adjusted >= settings.anomalyAlpha) return null;
            return {
              ...base,
              metric: 'error_rate',
              basis: 'baseline',
              direction: 'worse',
              current: r.pB,
              reference: r.pA,
              referenceWindow: baseline.window,
              test: 'two-proportion z',
              alternative: 'greater',
              statistic: r.z,
              pValue: r.pValue,
              adjustedPValue: adjusted,
              tests,
              currentObservations: decided,
              referenceObservations: healthyDecided,
              description: `${selector} error rate ${pct(r.pB)} vs ${pct(r.pA)} in its ${label} (${decided} and ${healthyDecided} calls; one-sided two-proportion z-test)`,
            };
          },
        });
      }
      if (a.latencies.length >= min && healthy.latencies.length >= min) {
        const r = mannWhitneyU(a.latencies, healthy.latencies, 'greater');
        const now = percentile(a.latencies, 0.5)!;
        const before = percentile(healthy.latencies, 0.5)!;
        pending.push({
          pValue: r.pValue,
          make: (adjusted, tests) => {
            const rise = before > 0 ? now / before : now > 0 ? Infinity : 1;
            if (rise < settings.minLatencyRatio || adjusted >= settings.anomalyAlpha) return null;
            return {
              ...base,
              metric: 'latency',
              basis: 'baseline',
              direction: 'worse',
              current: now,
              reference: before,
              referenceWindow: baseline.window,
              test: 'Mann-Whitney U',
              alternative: 'greater',
              statistic: r.z,
              pValue: r.pValue,
              adjustedPValue: adjusted,
              tests,
              currentObservations: a.latencies.length,
              referenceObservations: healthy.latencies.length,
              description: `${selector} median latency ${Math.round(now)} ms vs ${Math.round(before)} ms in its ${label} (${a.latencies.length} and ${healthy.latencies.length} successful calls; one-sided Mann-Whitney U)`,
            };
          },
        });
      }
    }
  }

  const tests = pending.length;
  const found = pending.map((t) => t.make(bonferroni(t.pValue, tests), tests)).filter((x): x is Anomaly => x !== null);
  // A baseline anomaly is reported only when the previous window did not already show the same
  // degradation (it would say the same thing twice); its test counts in the correction either way.
  const anomalies = found.filter((x) => x.basis !== 'baseline' || !found.some((y) => y.basis === 'trend' && y.direction === 'worse' && y.selector === x.selector && y.metric === x.metric));
  return { anomalies, tests };
}

/**
 * The last-healthy baseline: the loaded history before the previous window when there is any,
 * else the previous window's requests completed before its median completion time.
 */
function baselineOf(previous: readonly InteractionRow[], previousWindow: TimeWindow, history: { rows: readonly InteractionRow[]; window: TimeWindow } | undefined): Baseline | null {
  if (history && history.rows.length > 0) {
    return { accs: accumulate(history.rows), window: history.window, info: { source: 'history', window: history.window, interactions: history.rows.length } };
  }
  if (previous.length === 0) return null;
  const times = previous.map((r) => Date.parse(r.completedAt)).sort((x, y) => x - y);
  const split = times[Math.floor(times.length / 2)]!;
  const older = previous.filter((r) => Date.parse(r.completedAt) < split);
  if (older.length === 0) return null;
  const window = { start: previousWindow.start, end: new Date(split).toISOString() };
  return { accs: accumulate(older), window, info: { source: 'previous_older_half', window, interactions: older.length } };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

const LEVEL_ORDER: Record<GroupLevel, number> = { provider: 0, model: 1, task: 2, cell: 3 };

export interface AnalyseWindowInput {
  current: readonly InteractionRow[];
  previous: readonly InteractionRow[];
  window: TimeWindow;
  previousWindow: TimeWindow;
  /**
   * Longer history before the previous window (ending where it starts), for the last-healthy
   * tests; without it (or empty), the older half of the previous window is the baseline.
   */
  baseline?: { rows: readonly InteractionRow[]; window: TimeWindow };
  settings: AnalysisSettings;
}

/** Analyse the current window against the previous one and the last-healthy baseline. */
export function analyseWindow(input: AnalyseWindowInput): WindowAnalysis {
  const { settings } = input;
  const cur = accumulate(input.current);
  const prev = accumulate(input.previous);

  const all: GroupRow[] = [...cur.values()].map((a) => {
    const p = prev.get(keyId(a.key));
    const current = metricsOf(a);
    const previous = p ? metricsOf(p) : null;
    return { key: a.key, current, previous, trend: previous ? trendOf(current, previous) : null };
  });
  all.sort((x, y) => LEVEL_ORDER[x.key.level] - LEVEL_ORDER[y.key.level] || y.current.calls - x.current.calls || (keyId(x.key) < keyId(y.key) ? -1 : 1));
  const maxGroups = settings.maxGroups ?? 400;
  const coarse = all.filter((g) => g.key.level === 'provider' || g.key.level === 'model');
  const fine = all.filter((g) => g.key.level === 'task' || g.key.level === 'cell');
  const keptFine = fine.slice(0, Math.max(0, maxGroups - coarse.length));
  const groups = [...coarse, ...keptFine];

  const taskTypes = [...new Set(input.current.map((r) => r.taskType))].sort().map((taskType) => {
    const prevRows = input.previous.filter((r) => r.taskType === taskType);
    return { taskType, current: taskTypeMetrics(input.current.filter((r) => r.taskType === taskType)), previous: prevRows.length > 0 ? taskTypeMetrics(prevRows) : null };
  });

  const baseline = baselineOf(input.previous, input.previousWindow, input.baseline);
  const { anomalies, tests } = detectAnomalies({ accs: cur, window: input.window }, { accs: prev, window: input.previousWindow }, baseline, settings);
  return {
    window: input.window,
    previousWindow: input.previousWindow,
    baseline: baseline?.info ?? null,
    totals: { current: totalsOf(input.current), previous: totalsOf(input.previous) },
    groups,
    groupsOmitted: all.length - groups.length,
    taskTypes,
    anomalies,
    testsRun: tests,
    settings,
  };
}

/** The model-level group of a selector, if the window has one. */
export function modelGroup(analysis: Pick<WindowAnalysis, 'groups'>, provider: string, model: string): GroupRow | null {
  return analysis.groups.find((g) => g.key.level === 'model' && g.key.provider === provider && g.key.model === model) ?? null;
}
