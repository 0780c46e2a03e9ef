/**
 * The report as one self-contained HTML page: inline CSS and inline SVG charts, no scripts, no
 * network access needed to view it. Every value from the database is HTML-escaped; the page holds
 * figures only (no prompt, no answer, no user id).
 */
import { agreementChart, costChart, experimentChart, latencyChart, successChart, type TimelineMarks } from './charts';
import type { ReportData } from './queries';
import { reportSeries, type ExperimentView } from './series';

export const NO_DATA = 'no data in this window';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

function figure(id: string, title: string, svg: string | null, caption: string): string {
  const body = svg ?? `<p class="no-data">${NO_DATA}</p>`;
  return `<section class="chart" id="${id}" data-has-data="${svg !== null}">\n<h2>${escapeHtml(title)}</h2>\n<div class="svg">${body}</div>\n<p class="caption">${escapeHtml(caption)}</p>\n</section>`;
}

function table(headers: string[], rows: string[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function experimentSection(e: ExperimentView): string {
  const svg = experimentChart(e.variants);
  const summary = e.action === null ? 'not analysed yet' : `${e.action}${e.winner ? `, winner "${e.winner}"` : ''}${e.analysedAt ? ` (analysed ${e.analysedAt})` : ''}: ${e.reason ?? ''}`;
  const rows = e.variants.map((v) => [
    v.control ? `${v.name} (control)` : v.name,
    String(v.samples),
    pct(v.goodRate),
    v.low === null || v.high === null ? '-' : `${pct(v.low)} – ${pct(v.high)}`,
    v.probabilityBetter === null ? '-' : v.probabilityBetter.toFixed(4),
  ]);
  return [
    `<article class="experiment" data-experiment="${escapeHtml(e.id)}">`,
    `<h3>${escapeHtml(e.id)}: ${escapeHtml(e.name)} <span class="muted">(${escapeHtml(e.kind)}, ${escapeHtml(e.taskType)}, ${escapeHtml(e.status)})</span></h3>`,
    `<p>${escapeHtml(summary)}</p>`,
    svg === null ? `<p class="no-data">${NO_DATA}</p>` : `<div class="svg">${svg}</div>`,
    rows.length > 0 ? table(['variant', 'samples', 'good rate', '95% interval (Wilson)', 'P(better than control)'], rows) : '',
    '</article>',
  ].join('\n');
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 4px; } h2 { font-size: 1.2em; margin: 28px 0 8px; } h3 { font-size: 1em; }
.muted, .caption { color: #666; font-size: 0.9em; }
.summary { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; padding: 0; list-style: none; }
.summary li { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; } .summary b { display: block; font-size: 1.3em; }
.no-data { border: 1px dashed #bbb; color: #777; padding: 32px; text-align: center; border-radius: 6px; }
table { border-collapse: collapse; font-size: 0.9em; margin: 8px 0; } th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: left; }
.svg svg { max-width: 100%; height: auto; }
`;

export interface RenderReportOptions {
  /** When the report was written (shown in the header). */
  generatedAt: Date;
  /** Where the figures come from, already redacted (no password). */
  source: string;
}

export function renderReportHtml(data: ReportData, options: RenderReportOptions): string {
  const series = reportSeries(data);
  const marks: TimelineMarks = { policyVersions: data.policyVersions, proposals: data.proposals };
  const hours = (data.window.end.getTime() - data.window.start.getTime()) / 3_600_000;
  const completed = data.interactions.filter((i) => i.status === 'completed').length;
  const cost = data.interactions.reduce((s, i) => s + i.costUsd, 0);
  const bucketMinutes = series.buckets.sizeMs / 60_000;
  const bucket = bucketMinutes >= 60 ? `${bucketMinutes / 60} h` : `${bucketMinutes} min`;

  const timeline = [
    ...data.policyVersions.map((v) => [iso(v.at), `routing policy v${v.version}`, v.source, v.reason]),
    ...data.proposals.map((p) => [iso(p.at), `proposal ${p.id}`, `${p.kind}, ${p.status}${p.appliedVersion !== null ? ` (v${p.appliedVersion})` : ''}`, `confidence ${p.confidence.toFixed(3)}`]),
  ].sort((a, b) => a[0]!.localeCompare(b[0]!));

  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Orchestrator report: ${escapeHtml(iso(data.window.start))} to ${escapeHtml(iso(data.window.end))}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>Orchestrator report</h1>`,
    `<p class="muted">Window ${escapeHtml(iso(data.window.start))} to ${escapeHtml(iso(data.window.end))} (${escapeHtml(Number(hours.toFixed(2)))} h, buckets of ${escapeHtml(bucket)}); written ${escapeHtml(iso(options.generatedAt))} from ${escapeHtml(options.source)}.</p>`,
    '<ul class="summary">',
    `<li><b>${data.interactions.length}</b>requests</li>`,
    `<li><b>${escapeHtml(pct(data.interactions.length === 0 ? null : completed / data.interactions.length))}</b>completed</li>`,
    `<li><b>${data.calls.length}</b>provider calls</li>`,
    `<li><b>$${escapeHtml(cost.toFixed(4))}</b>cost</li>`,
    `<li><b>${data.policyVersions.length}</b>policy versions</li>`,
    `<li><b>${data.proposals.length}</b>proposals</li>`,
    '</ul>',
    data.truncated.length > 0 ? `<p class="muted">Only the newest rows were read for: ${escapeHtml(data.truncated.join(', '))}.</p>` : '',
    figure('latency', 'Latency percentiles per provider', latencyChart(series, marks), 'p50 (solid) and p95 (dashed) of succeeded provider calls per bucket; vertical lines: routing policy versions (purple) and improvement proposals (orange, dashed).'),
    figure('success', 'Success rate over time', successChart(series, marks), 'Requests completed, and provider calls succeeded (cancelled calls left out), per bucket; the same markers.'),
    figure('cost', 'Cost per provider', costChart(series), 'Sum of the provider calls\u2019 cost in the window (USD).'),
    figure('agreement', 'Consensus agreement distribution', agreementChart(series), `Requests where consensus ran, by agreement (${series.agreementSamples} request(s)).`),
    '<section id="timeline"><h2>Routing policy versions and proposals</h2>',
    timeline.length === 0 ? `<p class="no-data">${NO_DATA}</p>` : table(['time', 'what', 'by / kind', 'reason'], timeline),
    '</section>',
    '<section id="experiments"><h2>Experiments</h2>',
    series.experiments.length === 0 ? `<p class="no-data">${NO_DATA}</p>` : series.experiments.map(experimentSection).join('\n'),
    '<p class="caption">Good outcome: the request completed and its answer was not judged poor. Intervals: 95% Wilson score intervals on each variant\u2019s good-outcome rate.</p>',
    '</section>',
    '</body></html>',
    '',
  ];
  return parts.filter((p) => p !== '').join('\n');
}
