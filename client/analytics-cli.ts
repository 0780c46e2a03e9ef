/**
 * `metrics` and `export` commands for the orchestrator CLI (client/cli.ts calls addAnalyticsCommands(program)):
 *   metrics [--hours 24] [--task-type t] [--json]                       overview and provider comparison, as tables
 *   export --days 7 --format csv --out file [--task-type t] [--include-text] [--json]
 * Both read the database named by DATABASE_URL (no Temporal needed). Bad values (negative hours, an
 * unwritable path) are InvalidRequest naming the option: exit code 1, and no file is left.
 */
import { Option, type Command } from 'commander';
import type { Analytics, PerformanceMetrics, ProviderComparison } from '../src/analytics';
import { floatArg } from './cli-args';

export interface AnalyticsCliOptions {
  /** The analytics handle (default: openAnalytics over DATABASE_URL from the environment). */
  open?: () => Promise<Analytics>;
  out?: (line: string) => void;
}

async function openFromEnv(): Promise<Analytics> {
  // Loaded on use: `--help` needs neither the config schema nor Prisma.
  const [{ loadEnv }, { openAnalytics }] = await Promise.all([import('../src/config/env'), import('../src/analytics')]);
  return openAnalytics(loadEnv().DATABASE_URL);
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)}%`);
const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${Math.round(v)} ms`);
const usd = (v: number | null) => (v === null ? '-' : `$${v.toFixed(6)}`);
const num = (v: number | null, digits = 3) => (v === null ? '-' : v.toFixed(digits));

/** Rows as aligned columns (first column left, the rest right-aligned). */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function formatMetrics(metrics: PerformanceMetrics, comparison: ProviderComparison, out: (line: string) => void): void {
  const w = metrics.window;
  out(`Performance, last ${w.hours} h (${w.since} .. ${w.until})${w.taskType ? `, task type ${w.taskType}` : ''}`);
  out(`  requests           ${metrics.totalRequests} (${metrics.completed} completed, ${metrics.failed} failed, ${metrics.cacheHits} cache hits)`);
  out(`  success rate       ${pct(metrics.successRate)}`);
  const l = metrics.latencyMs;
  out(`  latency            ${l ? `mean ${ms(l.mean)}, p50 ${ms(l.p50)}, p95 ${ms(l.p95)} (${l.count} completed)` : '-'}`);
  out(`  tokens             ${metrics.tokens.in} in / ${metrics.tokens.out} out`);
  out(`  cost               ${usd(metrics.costUsd.total)} total, ${usd(metrics.costUsd.perRequest)} per request`);
  const c = metrics.consensus;
  out(`  consensus          ${c.requests} request(s); agreement ${num(c.meanAgreement)}, confidence ${num(c.meanConfidence)}, threshold met ${pct(c.thresholdMetRate)}, low confidence ${c.lowConfidence}`);
  out(`  feedback           ${metrics.feedback.count} rating(s), mean ${num(metrics.feedback.meanScore)}`);
  const b = metrics.bestProvider;
  out(`  best provider      ${b ? `${b.selector} (success ${pct(b.successRate)}, quality ${num(b.quality)}, ${usd(b.costPerRequestUsd)}/request, ${b.decidedCalls} calls)` : 'none with enough calls'}`);
  out(`                     criterion: ${metrics.bestProviderCriterion}`);
  out('');
  out(`Providers (${comparison.totalCalls} calls in ${comparison.requests} requests)`);
  if (comparison.providers.length === 0) {
    out('  no provider calls in the window');
    return;
  }
  const rows = comparison.providers.map((p) => [
    p.selector,
    String(p.calls),
    pct(p.trafficShare),
    pct(p.successRate),
    String(p.failed),
    String(p.cancelled),
    ms(p.latencyMs?.p50),
    ms(p.latencyMs?.p95),
    ms(p.latencyMs?.p99),
    usd(p.costPerRequestUsd),
    pct(p.quality.agreementRate),
    num(p.quality.feedbackMean),
  ]);
  for (const line of table(['provider:model', 'calls', 'share', 'success', 'failed', 'cancelled', 'p50', 'p95', 'p99', 'cost/req', 'agreement', 'feedback'], rows)) out(`  ${line}`);
}

export function addAnalyticsCommands(program: Command, cli: AnalyticsCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const open = cli.open ?? openFromEnv;
  async function withAnalytics<T>(fn: (a: Analytics) => Promise<T>): Promise<T> {
    const analytics = await open();
    try {
      return await fn(analytics);
    } finally {
      await analytics.close();
    }
  }

  program
    .command('metrics')
    .description('performance overview and provider comparison of the last hours, from the database')
    .option('--hours <h>', 'time window in hours', floatArg('--hours'), 24)
    .option('-t, --task-type <type>', 'only requests of this task type')
    .option('--json', 'print { metrics, providers } as JSON')
    .action(async (o: { hours: number; taskType?: string; json?: boolean }) => {
      await withAnalytics(async (a) => {
        const now = new Date();
        const window = { timeWindowHours: o.hours, now, ...(o.taskType !== undefined && { taskType: o.taskType }) };
        const metrics = await a.getPerformanceMetrics(window);
        const providers = await a.getProviderComparison(window);
        if (o.json) out(JSON.stringify({ metrics, providers }, null, 2));
        else formatMetrics(metrics, providers, out);
      });
    });

  program
    .command('export')
    .description('export the interactions and provider calls of the last days to a file (streamed; prompts and answers only with --include-text)')
    .requiredOption('--days <d>', 'how many days back', floatArg('--days'))
    .addOption(new Option('--format <format>', 'csv: one row per provider call; json: JSON Lines, one interaction per line').choices(['csv', 'json']).default('csv'))
    .requiredOption('-o, --out <file>', 'the file to write (replaced when it exists)')
    .option('-t, --task-type <type>', 'only requests of this task type')
    .option('--include-text', 'include prompts, system prompts, answers and error messages (user data)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { days: number; format: 'csv' | 'json'; out: string; taskType?: string; includeText?: boolean; json?: boolean }) => {
      await withAnalytics(async (a) => {
        const result = await a.exportMetrics(o.out, {
          days: o.days,
          format: o.format,
          includeText: o.includeText === true,
          ...(o.taskType !== undefined && { taskType: o.taskType }),
        });
        if (o.json) out(JSON.stringify(result, null, 2));
        else out(`exported ${result.interactions} interactions and ${result.providerCalls} provider calls (${result.rows} ${result.format === 'csv' ? 'CSV rows' : 'JSON lines'}${result.includeText ? ', with text' : ', without prompt/answer text'}) to ${result.path}`);
      });
    });
  return program;
}
