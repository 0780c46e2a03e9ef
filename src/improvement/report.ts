/**
 * The report of one improvement run: what it saw (the window analysis), the experiments it
 * looked at, what it proposed, what it decided and what became of each proposal. Stored as JSON
 * (ImprovementReport.report) and rendered as JSON or Markdown for people.
 *
 * Pure and deterministic.
 */
import type { GroupRow, WindowAnalysis } from './analysis';
import type { ExperimentAnalysis } from './experiments';
import { decisionReason, type Decision, type DecisionSettings } from './decision';
import type { Proposal, ProposalStatus } from './proposals';

export type ImprovementTrigger = 'schedule' | 'manual';

export interface ReportSettings {
  minDataPoints: number;
  autoApplyThreshold: number;
  windowHours: number;
  anomalyAlpha: number;
  minErrorRateIncrease: number;
  minLatencyRatio: number;
  minCallsPerTest: number;
}

export interface ReportProposal extends Proposal {
  decision: Decision;
  decisionReason: string;
  status: ProposalStatus;
  /** The routing policy version that carries it, once applied. */
  appliedVersion: number | null;
  /** What happened when it was applied (or why it was not). */
  outcome: string | null;
}

export interface ReportExperiment {
  experimentId: string;
  name: string;
  kind: string;
  taskType: string;
  analysis: ExperimentAnalysis;
  /** The proposal its winner became, if any. */
  proposalId: string | null;
}

export interface ImprovementReport {
  id: string;
  workflowId: string;
  trigger: ImprovementTrigger;
  requestedBy: string | null;
  /** ISO-8601 (the workflow's clock). */
  generatedAt: string;
  settings: ReportSettings;
  /** The routing policy version the run compared against (null when unknown). */
  policyVersion: number | null;
  analysis: WindowAnalysis;
  experiments: ReportExperiment[];
  proposals: ReportProposal[];
  notes: string[];
}

/** Proposals with the decision `decide` takes on each, all still pending (nothing applied yet). */
export function withDecisions(proposals: readonly Proposal[], settings: DecisionSettings): ReportProposal[] {
  return proposals.map((p) => {
    const { decision, reason } = decisionReason(p, settings);
    return { ...p, decision, decisionReason: reason, status: 'pending', appliedVersion: null, outcome: null };
  });
}

/** The report as pretty JSON (the export format; `JSON.parse` gives the report back). */
export function renderReportJson(report: ImprovementReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | null) => (x === null ? '-' : `${Math.round(x)}`);
const usd = (x: number | null) => (x === null ? '-' : `$${x.toFixed(6)}`);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function trendArrow(delta: number | null, invert = false): string {
  if (delta === null || Math.abs(delta) < 1e-9) return '';
  const up = delta > 0;
  return up !== invert ? ' ▲' : ' ▼';
}

function groupTable(rows: readonly GroupRow[]): string[] {
  const lines = ['| model | calls | success | Δ success | p50 ms | p95 ms | p50 ratio | cost/call | agreement | feedback |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const g of rows) {
    const c = g.current;
    const t = g.trend;
    lines.push(
      `| ${cell(`${g.key.provider}:${g.key.model ?? '*'}`)} | ${c.calls} | ${pct(c.successRate)} | ${t?.successRateDelta === null || t === null ? '-' : `${(t.successRateDelta * 100).toFixed(1)} pt${trendArrow(t.successRateDelta)}`} | ${ms(c.latencyP50Ms)} | ${ms(c.latencyP95Ms)} | ${t?.latencyP50Ratio === null || t === null ? '-' : `${t.latencyP50Ratio.toFixed(2)}x`} | ${usd(c.costPerCallUsd)} | ${pct(c.agreementRate ?? c.quality)} | ${c.feedback === null ? '-' : c.feedback.toFixed(2)} |`,
    );
  }
  return lines;
}

/**
 * The command that writes the HTML report with charts of this run's window (`cli report`, from the
 * database; the workflow itself writes no file): the window's length and end, a file named by the report id.
 */
export function reportChartsCommand(report: Pick<ImprovementReport, 'id' | 'settings' | 'analysis'>): string {
  return `npm run cli -- report --hours ${report.settings.windowHours} --until ${report.analysis.window.end} --out improvement-${report.id}.html`;
}

/** The report for people: summary, proposals and their fate, anomalies, experiments, the figures. */
export function renderReportMarkdown(report: ImprovementReport): string {
  const a = report.analysis;
  const out: string[] = [];
  const applied = report.proposals.filter((p) => p.status === 'applied');
  const pending = report.proposals.filter((p) => p.status === 'pending');
  out.push(`# Improvement report ${report.id}`);
  out.push('');
  out.push(`- Run: ${report.workflowId} (${report.trigger}${report.requestedBy ? ` by ${report.requestedBy}` : ''}) at ${report.generatedAt}`);
  out.push(`- Window: ${a.window.start} to ${a.window.end} (${report.settings.windowHours} h), compared with ${a.previousWindow.start} to ${a.previousWindow.end}`);
  out.push(
    `- Traffic: ${a.totals.current.interactions} requests (${a.totals.current.failedInteractions} failed), ${a.totals.current.providerCalls} provider calls, ${usd(a.totals.current.costUsd)}; previous window ${a.totals.previous.interactions} requests, ${usd(a.totals.previous.costUsd)}`,
  );
  out.push(`- Routing policy: ${report.policyVersion === null ? 'unknown' : `v${report.policyVersion}`}`);
  out.push(
    `- Auto-apply: routing changes with at least ${report.settings.minDataPoints} data points and confidence >= ${report.settings.autoApplyThreshold}; anomaly tests at family-wise alpha ${report.settings.anomalyAlpha} over ${a.testsRun} tests`,
  );
  out.push(`- Outcome: ${report.proposals.length} proposal(s), ${applied.length} applied, ${pending.length} pending`);
  out.push(`- Charts: \`${reportChartsCommand(report)}\` writes this window's HTML report (latency, success rate, cost, agreement, policy versions, proposals, experiments)`);
  out.push('');

  out.push('## Proposals');
  out.push('');
  if (report.proposals.length === 0) out.push('None: nothing in this window supports a change.');
  for (const p of report.proposals) {
    out.push(`### ${p.id}: ${p.summary}`);
    out.push('');
    out.push(`- Kind: ${p.kind}; status **${p.status}**${p.appliedVersion !== null ? ` (routing policy v${p.appliedVersion})` : ''}; decision ${p.decision}: ${p.decisionReason}`);
    out.push(`- Confidence ${p.confidence.toFixed(4)} on ${p.dataPoints} data points`);
    out.push(`- Estimated effect: ${p.estimatedEffect.description}`);
    out.push(`- Evidence: ${p.evidence.summary}`);
    for (const t of p.evidence.tests) {
      const stats = [t.statistic !== null ? `statistic ${t.statistic}` : null, t.pValue !== null ? `p ${t.pValue.toExponential(2)}` : null, t.adjustedPValue !== null ? `adjusted ${t.adjustedPValue.toExponential(2)}` : null].filter(Boolean).join(', ');
      out.push(`  - ${t.name}: ${t.description}${stats ? ` (${stats})` : ''}`);
    }
    if (p.change.type === 'config') out.push(`- Change (config.yaml, by hand): \`${p.change.path}: ${String(p.change.value)}\``);
    if (p.change.type === 'routing_update') out.push(`- Change: routing update \`${p.change.update.kind}\``);
    if (p.outcome) out.push(`- Outcome: ${p.outcome}`);
    out.push('');
  }

  out.push('## Anomalies');
  out.push('');
  if (a.anomalies.length === 0) out.push(`None among ${a.testsRun} tests.`);
  else {
    out.push('| model | metric | basis | direction | now | reference | p | adjusted p |');
    out.push('|---|---|---|---|---:|---:|---:|---:|');
    for (const x of a.anomalies) {
      const fmt = (v: number) => (x.metric === 'error_rate' ? pct(v) : `${Math.round(v)} ms`);
      out.push(`| ${cell(x.selector)} | ${x.metric} | ${x.basis} | ${x.direction} | ${fmt(x.current)} | ${fmt(x.reference)} | ${x.pValue.toExponential(2)} | ${x.adjustedPValue.toExponential(2)} |`);
    }
  }
  out.push('');

  out.push('## Experiments');
  out.push('');
  if (report.experiments.length === 0) out.push('No running experiments.');
  for (const e of report.experiments) {
    out.push(`### ${e.experimentId}: ${e.name} (${e.kind}, ${e.taskType})`);
    out.push('');
    out.push(`- Action: **${e.analysis.action}**${e.analysis.winner ? `, winner "${e.analysis.winner}"` : ''}: ${e.analysis.reason}`);
    if (e.proposalId) out.push(`- Proposal: ${e.proposalId}`);
    out.push('');
    out.push('| variant | samples | success | good | p50 ms | p95 ms | cost | P(better) | p |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const v of e.analysis.variants) {
      const c = e.analysis.comparisons.find((x) => x.variant === v.name);
      out.push(
        `| ${cell(v.name)}${v.name === e.analysis.control ? ' (control)' : ''} | ${v.samples} | ${pct(v.successRate)} | ${pct(v.goodRate)} | ${ms(v.latencyP50Ms)} | ${ms(v.latencyP95Ms)} | ${usd(v.meanCostUsd)} | ${c?.probabilityBetter == null ? '-' : c.probabilityBetter.toFixed(4)} | ${c?.good ? c.good.pValue.toExponential(2) : '-'} |`,
      );
    }
    out.push('');
  }

  out.push('## Models');
  out.push('');
  const models = a.groups.filter((g) => g.key.level === 'model');
  if (models.length === 0) out.push('No provider calls in this window.');
  else out.push(...groupTable(models));
  out.push('');

  out.push('## Task types');
  out.push('');
  if (a.taskTypes.length === 0) out.push('No requests in this window.');
  else {
    out.push('| task type | requests | success | cost/request | agreement | consensus met | p50 ms | p95 ms |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const t of a.taskTypes) {
      const c = t.current;
      out.push(`| ${cell(t.taskType)} | ${c.interactions} | ${pct(c.successRate)} | ${usd(c.costPerRequestUsd)} | ${pct(c.agreement)} | ${pct(c.thresholdMetRate)} | ${ms(c.processingP50Ms)} | ${ms(c.processingP95Ms)} |`);
    }
  }
  if (a.groupsOmitted > 0) out.push(`\n(${a.groupsOmitted} finer groups omitted; the JSON export has the ${a.groups.length} kept.)`);
  if (report.notes.length > 0) {
    out.push('');
    out.push('## Notes');
    out.push('');
    for (const n of report.notes) out.push(`- ${n}`);
  }
  out.push('');
  return out.join('\n');
}
