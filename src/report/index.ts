/**
 * `npm run cli -- report [--hours 24] [--until <iso>] [--out report.html]`: the HTML report of a
 * time window, written from the database (DATABASE_URL) alone; no Temporal connection needed.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidRequest } from '../errors';
import { createPrismaClient } from '../memory/client';
import { redactDatabaseUrl } from '../memory/database-url';
import { renderReportHtml } from './html';
import { loadReportData, type ReportWindow } from './queries';

export { renderReportHtml, escapeHtml, NO_DATA } from './html';
export { loadReportData, type ReportData, type ReportWindow } from './queries';

export const DEFAULT_REPORT_HOURS = 24;
export const DEFAULT_REPORT_FILE = 'report.html';
/** At most a year: the page stays small (48 buckets) whatever the window. */
export const MAX_REPORT_HOURS = 24 * 366;

export interface WriteReportOptions {
  databaseUrl: string;
  hours?: number;
  /** End of the window (default now). */
  until?: Date;
  out?: string;
  now?: Date;
}

export interface WriteReportResult {
  path: string;
  bytes: number;
  window: { start: string; end: string };
  interactions: number;
  providerCalls: number;
  policyVersions: number;
  proposals: number;
  experiments: number;
}

export function reportWindow(hours: number, until: Date): ReportWindow {
  if (!Number.isFinite(hours) || hours <= 0 || hours > MAX_REPORT_HOURS) throw new InvalidRequest(`--hours must be a number in (0, ${MAX_REPORT_HOURS}] (got ${hours})`);
  if (Number.isNaN(until.getTime())) throw new InvalidRequest('--until must be an ISO-8601 time, e.g. 2026-12-01T12:00:00Z');
  return { start: new Date(until.getTime() - hours * 3_600_000), end: until };
}

export async function writeReport(options: WriteReportOptions): Promise<WriteReportResult> {
  const now = options.now ?? new Date();
  const window = reportWindow(options.hours ?? DEFAULT_REPORT_HOURS, options.until ?? now);
  const path = resolve(options.out ?? DEFAULT_REPORT_FILE);
  const db = createPrismaClient(options.databaseUrl);
  try {
    const data = await loadReportData(db, window);
    const html = renderReportHtml(data, { generatedAt: now, source: redactDatabaseUrl(options.databaseUrl) });
    writeFileSync(path, html);
    return {
      path,
      bytes: Buffer.byteLength(html),
      window: { start: window.start.toISOString(), end: window.end.toISOString() },
      interactions: data.interactions.length,
      providerCalls: data.calls.length,
      policyVersions: data.policyVersions.length,
      proposals: data.proposals.length,
      experiments: data.experiments.length,
    };
  } finally {
    await db.$disconnect();
  }
}
