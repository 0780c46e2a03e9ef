/**
 * The report's charts, rendered server-side to SVG strings by Apache ECharts (SSR mode: no DOM,
 * no browser). A chart without data is not drawn: the caller shows "no data in this window".
 */
import * as echarts from 'echarts';
import type { PolicyVersionRow, ProposalRow } from './queries';
import type { ReportSeries, VariantInterval } from './series';

export const CHART_WIDTH = 960;
export const CHART_HEIGHT = 360;

/** Render one ECharts option to an SVG string. */
export function renderSvg(option: echarts.EChartsCoreOption, size: { width?: number; height?: number } = {}): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width ?? CHART_WIDTH, height: size.height ?? CHART_HEIGHT });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: 'system-ui, sans-serif' }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export interface TimelineMarks {
  policyVersions: readonly PolicyVersionRow[];
  proposals: readonly ProposalRow[];
}

/** Vertical lines on a time axis: routing policy versions (solid) and improvement proposals (dashed). */
function markLines(marks: TimelineMarks) {
  return {
    symbol: 'none',
    silent: true,
    data: [
      ...marks.policyVersions.map((v) => ({ xAxis: v.at.getTime(), name: `v${v.version}`, lineStyle: { color: '#6a3d9a', type: 'solid', width: 1.5 }, label: { formatter: `policy v${v.version}`, color: '#6a3d9a' } })),
      ...marks.proposals.map((p) => ({ xAxis: p.at.getTime(), name: p.id, lineStyle: { color: '#e6550d', type: 'dashed', width: 1 }, label: { formatter: `proposal ${p.kind}`, color: '#e6550d', position: 'insideEndTop' } })),
    ],
  };
}

function timeAxis(series: ReportSeries) {
  const b = series.buckets;
  return { type: 'time', min: b.starts[0], max: b.starts[b.starts.length - 1]! + b.sizeMs };
}

/** Points at the middle of each bucket; null leaves a gap. */
function points(series: ReportSeries, values: readonly (number | null)[], scale = 1): [number, number | null][] {
  const half = series.buckets.sizeMs / 2;
  return values.map((v, i) => [series.buckets.starts[i]! + half, v === null ? null : Math.round(v * scale * 100) / 100]);
}

/** The marks carried by an invisible series, so they show even when no other line spans them. */
function marksSeries(marks: TimelineMarks) {
  return { name: 'markers', type: 'line', data: [], markLine: markLines(marks) };
}

export function latencyChart(series: ReportSeries, marks: TimelineMarks): string | null {
  if (series.latency.length === 0) return null;
  const lines = series.latency.flatMap((l) => [
    { name: `${l.provider} p50`, type: 'line', showSymbol: true, symbolSize: 4, data: points(series, l.p50) },
    { name: `${l.provider} p95`, type: 'line', showSymbol: true, symbolSize: 4, lineStyle: { type: 'dashed' }, data: points(series, l.p95) },
  ]);
  return renderSvg({
    legend: { top: 0, type: 'plain', data: lines.map((l) => l.name) },
    grid: { top: 60, left: 70, right: 30, bottom: 40 },
    xAxis: timeAxis(series),
    yAxis: { type: 'value', name: 'latency (ms)' },
    series: [...lines, marksSeries(marks)],
  });
}

export function successChart(series: ReportSeries, marks: TimelineMarks): string | null {
  if (series.success.length === 0) return null;
  const lines = series.success.map((s) => ({
    name: s.name === 'requests' ? 'requests' : `${s.name} calls`,
    type: 'line',
    showSymbol: true,
    symbolSize: 4,
    ...(s.name === 'requests' && { lineStyle: { width: 3 } }),
    data: points(series, s.rate, 100),
  }));
  return renderSvg({
    legend: { top: 0, data: lines.map((l) => l.name) },
    grid: { top: 60, left: 70, right: 30, bottom: 40 },
    xAxis: timeAxis(series),
    yAxis: { type: 'value', name: 'success (%)', min: 0, max: 100 },
    series: [...lines, marksSeries(marks)],
  });
}

export function costChart(series: ReportSeries): string | null {
  if (series.cost.length === 0) return null;
  return renderSvg(
    {
      legend: { top: 0, data: ['cost (USD)'] },
      grid: { top: 40, left: 90, right: 30, bottom: 40 },
      xAxis: { type: 'category', data: series.cost.map((c) => c.provider), axisLabel: { interval: 0, width: Math.max(60, Math.floor(760 / series.cost.length)), overflow: 'break' } },
      yAxis: { type: 'value', name: 'USD' },
      series: [{ name: 'cost (USD)', type: 'bar', data: series.cost.map((c) => Number(c.costUsd.toFixed(6))), label: { show: true, position: 'top', formatter: (p: { value: number }) => `$${p.value.toFixed(4)}` } }],
    },
    { height: 300 },
  );
}

export function agreementChart(series: ReportSeries): string | null {
  if (series.agreementSamples === 0) return null;
  return renderSvg(
    {
      legend: { top: 0, data: ['requests'] },
      grid: { top: 40, left: 70, right: 30, bottom: 50 },
      xAxis: { type: 'category', name: 'agreement', nameLocation: 'middle', nameGap: 30, data: series.agreement.map((b) => `${b.from.toFixed(1)}–${b.to.toFixed(1)}`) },
      yAxis: { type: 'value', name: 'requests', minInterval: 1 },
      series: [{ name: 'requests', type: 'bar', data: series.agreement.map((b) => b.count), label: { show: true, position: 'top', formatter: (p: { value: number }) => (p.value > 0 ? String(p.value) : '') } }],
    },
    { height: 300 },
  );
}

/** Good-outcome rate per variant with its 95% interval (a whisker from low to high). */
export function experimentChart(variants: readonly VariantInterval[]): string | null {
  const shown = variants.filter((v) => v.goodRate !== null && v.low !== null && v.high !== null);
  if (shown.length === 0) return null;
  const names = shown.map((v) => (v.control ? `${v.name} (control)` : v.name));
  return renderSvg(
    {
      legend: { top: 0, data: ['good rate', '95% interval'] },
      grid: { top: 40, left: 140, right: 40, bottom: 40 },
      xAxis: { type: 'value', name: 'good outcomes (%)', nameLocation: 'middle', nameGap: 28, min: 0, max: 100 },
      yAxis: { type: 'category', data: names },
      series: [
        {
          name: '95% interval',
          type: 'custom',
          itemStyle: { color: '#555' },
          renderItem: (_params: unknown, api: { value(i: number): number; coord(p: [number, number]): [number, number]; size(p: [number, number]): [number, number] }) => {
            const lo = api.coord([api.value(1), api.value(0)]);
            const hi = api.coord([api.value(2), api.value(0)]);
            const cap = 6;
            const style = { stroke: '#555', lineWidth: 2 };
            return {
              type: 'group',
              children: [
                { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style },
                { type: 'line', shape: { x1: lo[0], y1: lo[1] - cap, x2: lo[0], y2: lo[1] + cap }, style },
                { type: 'line', shape: { x1: hi[0], y1: hi[1] - cap, x2: hi[0], y2: hi[1] + cap }, style },
              ],
            };
          },
          encode: { x: [1, 2], y: 0 },
          data: shown.map((v, i) => [i, v.low! * 100, v.high! * 100]),
          z: 1,
        },
        { name: 'good rate', type: 'scatter', symbolSize: 10, z: 2, data: shown.map((v, i) => [v.goodRate! * 100, i]) },
      ],
    },
    { height: Math.max(160, 70 + shown.length * 50) },
  );
}
