/**
 * What the HTML report reads from the database for one time window: provider calls and
 * interactions (figures only: no prompt, no answer, no user id), routing policy versions,
 * improvement proposals and experiments with their stored analysis. Rows come back oldest first,
 * at most `maxRows` of each kind (the newest are kept; `truncated` says so).
 */
import type { DatabaseClient } from '../memory/client';
import type { ExperimentRecord } from '../improvement/experiments';

export interface ReportWindow {
  start: Date;
  end: Date;
}

export interface CallRow {
  provider: string;
  model: string;
  status: string;
  latencyMs: number | null;
  costUsd: number;
  at: Date;
}

export interface InteractionRow {
  status: string;
  consensusApplied: boolean;
  agreement: number | null;
  costUsd: number;
  processingTimeMs: number;
  at: Date;
}

export interface PolicyVersionRow {
  version: number;
  source: string;
  reason: string;
  at: Date;
}

export interface ProposalRow {
  id: string;
  kind: string;
  status: string;
  confidence: number;
  appliedVersion: number | null;
  at: Date;
}

export interface ExperimentRow {
  id: string;
  name: string;
  kind: string;
  taskType: string;
  status: string;
  createdAt: Date;
  stoppedAt: Date | null;
  /** The stored analysis (null: not analysed yet). */
  result: ExperimentRecord | null;
}

export interface ReportData {
  window: ReportWindow;
  calls: CallRow[];
  interactions: InteractionRow[];
  policyVersions: PolicyVersionRow[];
  proposals: ProposalRow[];
  experiments: ExperimentRow[];
  /** Kinds of rows cut at maxRows (the oldest left out). */
  truncated: string[];
}

export const DEFAULT_MAX_ROWS = 200_000;

function keepNewest<T>(rows: T[], max: number, kind: string, truncated: string[]): T[] {
  if (rows.length <= max) return rows.reverse();
  truncated.push(kind);
  return rows.slice(0, max).reverse();
}

function asRecord(value: unknown): ExperimentRecord | null {
  if (value === null || typeof value !== 'object') return null;
  const analysis = (value as { analysis?: unknown }).analysis;
  if (analysis === null || typeof analysis !== 'object' || !Array.isArray((analysis as { variants?: unknown }).variants)) return null;
  return value as ExperimentRecord;
}

export async function loadReportData(db: DatabaseClient, window: ReportWindow, options: { maxRows?: number } = {}): Promise<ReportData> {
  const max = options.maxRows ?? DEFAULT_MAX_ROWS;
  const range = { gte: window.start, lt: window.end };
  const truncated: string[] = [];
  const [calls, interactions, versions, proposals, experiments] = await Promise.all([
    db.providerCall.findMany({
      where: { createdAt: range },
      select: { provider: true, model: true, status: true, latencyMs: true, costUsd: true, createdAt: true },
      orderBy: { createdAt: 'desc' },
      take: max + 1,
    }),
    db.interaction.findMany({
      where: { completedAt: range },
      select: { status: true, consensusApplied: true, agreement: true, costUsd: true, processingTimeMs: true, completedAt: true },
      orderBy: { completedAt: 'desc' },
      take: max + 1,
    }),
    db.routingPolicyVersion.findMany({ where: { createdAt: range }, select: { version: true, source: true, reason: true, createdAt: true }, orderBy: { createdAt: 'desc' }, take: max + 1 }),
    db.proposal.findMany({ where: { createdAt: range }, select: { id: true, kind: true, status: true, confidence: true, appliedVersion: true, createdAt: true }, orderBy: { createdAt: 'desc' }, take: max + 1 }),
    // Experiments that ran during the window: created before its end, not stopped before its start.
    db.experiment.findMany({
      where: { createdAt: { lt: window.end }, OR: [{ stoppedAt: null }, { stoppedAt: { gte: window.start } }] },
      select: { id: true, name: true, kind: true, taskType: true, status: true, createdAt: true, stoppedAt: true, result: true },
      orderBy: { createdAt: 'desc' },
      take: 50,
    }),
  ]);
  return {
    window,
    calls: keepNewest(calls, max, 'provider calls', truncated).map((c) => ({ provider: c.provider, model: c.model, status: c.status, latencyMs: c.latencyMs, costUsd: c.costUsd, at: c.createdAt })),
    interactions: keepNewest(interactions, max, 'interactions', truncated).map((i) => ({
      status: i.status,
      consensusApplied: i.consensusApplied,
      agreement: i.agreement,
      costUsd: i.costUsd,
      processingTimeMs: i.processingTimeMs,
      at: i.completedAt,
    })),
    policyVersions: keepNewest(versions, max, 'routing policy versions', truncated).map((v) => ({ version: v.version, source: v.source, reason: v.reason, at: v.createdAt })),
    proposals: keepNewest(proposals, max, 'proposals', truncated).map((p) => ({ id: p.id, kind: p.kind, status: p.status, confidence: p.confidence, appliedVersion: p.appliedVersion, at: p.createdAt })),
    experiments: experiments.reverse().map((e) => ({ ...e, result: asRecord(e.result) })),
    truncated,
  };
}
