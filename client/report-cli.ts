/**
 * `report` and `doctor` commands for the orchestrator CLI (client/cli.ts calls
 * addReportCommands(program)):
 *   report [--hours 24] [--until <iso>] [--out report.html] [--json]   self-contained HTML report with charts
 *   doctor [--json] [--timeout-ms 5000]                                 connection tests: PASS / FAIL / SKIP
 * `report` reads the database only (DATABASE_URL); `doctor` exits 1 when any check FAILs.
 */
import type { Command } from 'commander';
import type { DoctorReport } from '../src/doctor';
import type { WriteReportResult } from '../src/report';
import { UsageError, intArg, numberArg } from './cli-args';

export interface ReportCliOptions {
  /** Default: writeReport on DATABASE_URL. */
  writeReport?: (o: { hours: number; until?: Date; out: string }) => Promise<WriteReportResult>;
  /** Default: runDoctor with the environment and config.yaml. */
  diagnose?: (o: { timeoutMs?: number }) => Promise<DoctorReport>;
  out?: (line: string) => void;
}

/** Some doctor checks failed (the report, on stdout, says which and what to do): exit code 1. */
export class DoctorFailed extends Error {
  override readonly name = 'DoctorFailed';
  constructor(failed: number, total: number) {
    super(`doctor: ${failed} of ${total} checks failed`);
  }
}

async function envAndConfig() {
  const [{ loadEnv }, { loadConfig }] = await Promise.all([import('../src/config/env'), import('../src/config/load')]);
  const env = loadEnv();
  return { env, config: loadConfig(env.CONFIG_PATH) };
}

export function addReportCommands(program: Command, cli: ReportCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const writeReport =
    cli.writeReport ??
    (async (o) => {
      const [{ loadEnv }, report] = await Promise.all([import('../src/config/env'), import('../src/report')]);
      return report.writeReport({ databaseUrl: loadEnv().DATABASE_URL, hours: o.hours, out: o.out, ...(o.until && { until: o.until }) });
    });
  const diagnose =
    cli.diagnose ??
    (async (o) => {
      const [{ env, config }, { runDoctor }] = await Promise.all([envAndConfig(), import('../src/doctor')]);
      return runDoctor({ env, config, ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }) });
    });

  program
    .command('report')
    .description('write a self-contained HTML report with charts (latency, success, cost, agreement, policy versions, proposals, experiments)')
    .option('--hours <h>', 'hours of history, ending at --until', numberArg('--hours'), 24)
    .option('--until <iso>', 'end of the window (default now), e.g. an improvement report\u2019s window end')
    .option('-o, --out <file>', 'where to write the HTML', 'report.html')
    .option('--json', 'print what was written as JSON')
    .action(async (o: { hours: number; until?: string; out: string; json?: boolean }) => {
      if (!(o.hours > 0)) throw new UsageError(`--hours must be positive, got ${o.hours}`);
      let until: Date | undefined;
      if (o.until !== undefined) {
        until = new Date(o.until);
        if (Number.isNaN(until.getTime())) throw new UsageError(`--until must be an ISO-8601 time, got "${o.until}"`);
      }
      const result = await writeReport({ hours: o.hours, out: o.out, ...(until && { until }) });
      if (o.json) {
        out(JSON.stringify(result, null, 2));
        return;
      }
      out(`wrote ${result.path} (${Math.round(result.bytes / 1024)} KiB): ${result.window.start} to ${result.window.end}`);
      out(`  ${result.interactions} requests, ${result.providerCalls} provider calls, ${result.policyVersions} policy version(s), ${result.proposals} proposal(s), ${result.experiments} experiment(s)`);
    });

  program
    .command('doctor')
    .description('check Temporal, the namespace and search attributes, a polling worker, the database and migrations, providers, the embedding model, Redis, the schedules and payload keys')
    .option('--json', 'print the checks as JSON')
    .option('--timeout-ms <ms>', 'timeout of each check', intArg('--timeout-ms'))
    .action(async (o: { json?: boolean; timeoutMs?: number }) => {
      if (o.timeoutMs !== undefined && o.timeoutMs < 1) throw new UsageError('--timeout-ms must be at least 1');
      const report = await diagnose({ ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }) });
      if (o.json) out(JSON.stringify(report, null, 2));
      else (await import('../src/doctor')).formatDoctorReport(report, out);
      if (!report.ok) throw new DoctorFailed(report.checks.filter((c) => c.status === 'FAIL').length, report.checks.length);
    });
  return program;
}
