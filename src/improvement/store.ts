/**
 * The improvement loop's memory, over the same Prisma client as the rest (SQLite or PostgreSQL):
 * the history windows it analyses, the routing policy it compares against, and what it keeps of
 * its own: reports, proposals (pending / applied / accepted / rejected / superseded, with who
 * decided), and experiments (create / list / show / stop / conclude, with their looks).
 *
 * Inputs are validated with zod; failures are ImprovementError (typed codes). Every write that
 * belongs together is one transaction (a report with its proposals, superseded proposals and
 * experiment updates), and every write is safe to repeat: activities are retried.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Prisma } from '../generated/prisma-sqlite/client';
import { createPrismaClient, type CreatePrismaClientOptions, type DatabaseClient } from '../memory/client';
import { databaseConnectionError, isConnectionError, parseDatabaseUrl } from '../memory/database-url';
import { policyFromStored, type RoutingPolicy } from '../routing/policy';
import type { CallRow, InteractionRow, TimeWindow } from './analysis';
import { ImprovementError } from './errors';
import {
  ExperimentInputSchema,
  ExperimentKindSchema,
  ExperimentStatusSchema,
  VariantSchema,
  type Experiment,
  type ExperimentInput,
  type ExperimentObservation,
  type ExperimentRecord,
} from './experiments';
import { EstimatedEffectSchema, EvidenceSchema, ProposalChangeSchema, ProposalKindSchema, ProposalStatusSchema, type Proposal, type ProposalChange, type ProposalStatus } from './proposals';
import type { ImprovementReport, ReportProposal } from './report';

// ---------------------------------------------------------------------------------------------
// Types

/** A proposal as stored: the proposal itself, its report, and what became of it. */
export interface StoredProposal extends Proposal {
  reportId: string;
  status: ProposalStatus;
  decisionReason: string | null;
  /** What happened when it was decided (routing outcome, rejection reason, ...). */
  outcome: string | null;
  appliedVersion: number | null;
  decidedBy: string | null;
  decidedAt: string | null;
  createdAt: string;
}

export interface StoredReport {
  id: string;
  workflowId: string;
  windowStart: string;
  windowEnd: string;
  report: ImprovementReport;
  createdAt: string;
}

export interface ExperimentUpdate {
  experimentId: string;
  action: 'continue' | 'conclude' | 'stop';
  record: ExperimentRecord;
  reason: string;
  /** ISO-8601. */
  at: string;
}

export interface SaveReportInput {
  report: ImprovementReport;
  experimentUpdates: ExperimentUpdate[];
}

export interface LowAgreementSample {
  taskType: string;
  prompt: string;
  systemPrompt: string | null;
  response: string | null;
  agreement: number | null;
}

export interface ImprovementStore {
  /** Interactions (with calls and feedback) completed in the window, newest `maxRows` at most, oldest first. */
  loadInteractions(window: TimeWindow, maxRows: number): Promise<{ rows: InteractionRow[]; truncated: boolean }>;
  /** The latest recorded routing policy version, or null. */
  latestPolicy(): Promise<{ version: number; policy: RoutingPolicy } | null>;

  /** The report, its proposals (pending), superseding older pending proposals of the same kind and target, and experiment updates: one transaction. Idempotent by report id. */
  saveReport(input: SaveReportInput): Promise<{ created: boolean }>;
  /** Replace the stored report JSON. */
  updateReport(report: ImprovementReport): Promise<void>;
  /** Replace the proposals in the stored report JSON (what became of them), leaving the rest. */
  updateReportProposals(reportId: string, proposals: ReportProposal[]): Promise<void>;
  getReport(id: string): Promise<StoredReport>;
  latestReport(): Promise<StoredReport | null>;
  listReports(limit: number): Promise<Omit<StoredReport, 'report'>[]>;

  getProposal(id: string): Promise<StoredProposal>;
  listProposals(options: { status?: ProposalStatus; limit: number }): Promise<StoredProposal[]>;
  /** pending -> applied (a routing version, or an experiment created) or accepted (a configuration change approved). Repeating the same decision is a no-op. */
  markProposal(id: string, decision: { status: 'applied' | 'accepted'; decidedBy: string; appliedVersion: number | null; outcome: string }): Promise<StoredProposal>;
  /** pending -> rejected. Repeating it is a no-op. */
  rejectProposal(id: string, decision: { decidedBy: string; reason: string }): Promise<StoredProposal>;

  /** Validate and create; an existing id with the same definition returns it (safe to repeat). */
  createExperiment(input: ExperimentInput): Promise<Experiment>;
  getExperiment(id: string): Promise<Experiment>;
  listExperiments(options: { status?: Experiment['status']; taskType?: string; limit: number }): Promise<Experiment[]>;
  /** running -> stopped by a person. */
  stopExperiment(id: string, options: { by: string; reason: string }): Promise<Experiment>;
  /** The interactions recorded under the experiment, as the analysis sees them. */
  experimentObservations(id: string, maxRows: number): Promise<ExperimentObservation[]>;

  /** Task types with at least `minSamples` completed consensus interactions below `agreementBelow` in the window, with up to `maxSamples` of them each. */
  lowAgreementSamples(options: { window: TimeWindow; agreementBelow: number; minSamples: number; maxSamples: number }): Promise<Map<string, { count: number; samples: LowAgreementSample[] }>>;
  /** The system prompt most used by the task type's recent requests (null: none). */
  currentSystemPrompt(taskType: string): Promise<string | null>;
}

export interface ImprovementStoreHandle extends ImprovementStore {
  /** Closes the client only when this module created it. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

const StoredEvidenceSchema = z.object({
  summary: z.string(),
  target: z.string(),
  evidence: EvidenceSchema,
  estimatedEffect: EstimatedEffectSchema,
  decisionReason: z.string().nullable().default(null),
  outcome: z.string().nullable().default(null),
});

const StoredExperimentResultSchema = z.object({ looks: z.array(z.object({ at: z.string(), fraction: z.number(), alpha: z.number() })), analysis: z.record(z.string(), z.unknown()) });

function json(value: unknown, what: string): Prisma.InputJsonValue {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not JSON-serialisable`);
  return JSON.parse(text) as Prisma.InputJsonValue;
}

function invalidStored(what: string, id: string, error: z.ZodError): ImprovementError {
  return new ImprovementError('StoredDataInvalid', `stored ${what} ${id} does not have the expected shape: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { id });
}

function asStringArray(value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'experiment'
  );
}

type ProposalRow = NonNullable<Awaited<ReturnType<DatabaseClient['proposal']['findUnique']>>>;
type ExperimentRow = NonNullable<Awaited<ReturnType<DatabaseClient['experiment']['findUnique']>>>;

function proposalFromRow(row: ProposalRow): StoredProposal {
  const wrapper = StoredEvidenceSchema.safeParse(row.evidence);
  if (!wrapper.success) throw invalidStored('proposal evidence of', row.id, wrapper.error);
  const change = ProposalChangeSchema.safeParse(row.change);
  if (!change.success) throw invalidStored('proposal change of', row.id, change.error);
  const kind = ProposalKindSchema.safeParse(row.kind);
  if (!kind.success) throw invalidStored('proposal kind of', row.id, kind.error);
  const status = ProposalStatusSchema.safeParse(row.status);
  if (!status.success) throw invalidStored('proposal status of', row.id, status.error);
  return {
    id: row.id,
    reportId: row.reportId,
    kind: kind.data,
    target: wrapper.data.target,
    summary: wrapper.data.summary,
    // As stored (the input shape, defaults not filled in): what is sent is what was proposed.
    change: row.change as ProposalChange,
    evidence: wrapper.data.evidence,
    estimatedEffect: wrapper.data.estimatedEffect,
    confidence: row.confidence,
    dataPoints: row.dataPoints,
    status: status.data,
    decisionReason: wrapper.data.decisionReason,
    outcome: wrapper.data.outcome,
    appliedVersion: row.appliedVersion,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

function experimentFromRow(row: ExperimentRow): Experiment {
  const kind = ExperimentKindSchema.safeParse(row.kind);
  if (!kind.success) throw invalidStored('experiment kind of', row.id, kind.error);
  const status = ExperimentStatusSchema.safeParse(row.status);
  if (!status.success) throw invalidStored('experiment status of', row.id, status.error);
  const variants = z.array(VariantSchema).safeParse(row.variants);
  if (!variants.success) throw invalidStored('experiment variants of', row.id, variants.error);
  let result: ExperimentRecord | null = null;
  if (row.result !== null) {
    const parsed = StoredExperimentResultSchema.safeParse(row.result);
    if (!parsed.success) throw invalidStored('experiment result of', row.id, parsed.error);
    result = row.result as unknown as ExperimentRecord;
  }
  return {
    id: row.id,
    name: row.name,
    kind: kind.data,
    taskType: row.taskType,
    variants: variants.data,
    trafficShare: row.trafficShare,
    minSamples: row.minSamples,
    status: status.data,
    result,
    reason: row.reason,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    stoppedAt: row.stoppedAt?.toISOString() ?? null,
  };
}

function good(row: { status: string; thresholdMet: boolean | null; feedback: { score: number }[] }): boolean {
  if (row.status !== 'completed') return false;
  if (row.feedback.length > 0) return row.feedback.reduce((s, f) => s + f.score, 0) / row.feedback.length >= 0.5;
  return row.thresholdMet !== false;
}

export function createImprovementStore(db: DatabaseClient, databaseUrl?: string): ImprovementStore {
  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (databaseUrl !== undefined && isConnectionError(error)) throw databaseConnectionError(parseDatabaseUrl(databaseUrl).url, error, action);
      throw error;
    }
  }

  async function proposalRow(id: string): Promise<ProposalRow> {
    const row = await db.proposal.findUnique({ where: { id } });
    if (!row) throw new ImprovementError('ProposalNotFound', `no proposal "${id}"`, { id });
    return row;
  }

  async function experimentRow(id: string): Promise<ExperimentRow> {
    const row = await db.experiment.findUnique({ where: { id } });
    if (!row) throw new ImprovementError('ExperimentNotFound', `no experiment "${id}"`, { id });
    return row;
  }

  /** Move a pending proposal to its decided state; the same decision again returns it unchanged. */
  async function decideProposal(id: string, status: 'applied' | 'accepted' | 'rejected', decidedBy: string, appliedVersion: number | null, outcome: string): Promise<StoredProposal> {
    const row = await proposalRow(id);
    const current = proposalFromRow(row);
    if (current.status !== 'pending') {
      if (current.status === status) return current;
      throw new ImprovementError('ProposalAlreadyDecided', `proposal ${id} is already ${current.status}${current.decidedBy ? ` (by ${current.decidedBy}${current.decidedAt ? ` at ${current.decidedAt}` : ''})` : ''}`, {
        id,
        status: current.status,
        decidedBy: current.decidedBy,
      });
    }
    const wrapper = StoredEvidenceSchema.parse(row.evidence);
    const updated = await db.proposal.updateMany({
      where: { id, status: 'pending' },
      data: { status, decidedBy, decidedAt: new Date(), appliedVersion, evidence: json({ ...wrapper, outcome }, 'evidence') },
    });
    if (updated.count === 0) return decideProposal(id, status, decidedBy, appliedVersion, outcome);
    return proposalFromRow(await proposalRow(id));
  }

  return {
    loadInteractions: (window, maxRows) =>
      guard('read interactions for improvement analysis', async () => {
        if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError('maxRows must be a positive integer');
        const rows = await db.interaction.findMany({
          where: { completedAt: { gte: new Date(window.start), lt: new Date(window.end) } },
          orderBy: [{ completedAt: 'desc' }, { id: 'asc' }],
          take: maxRows + 1,
          select: {
            id: true,
            taskType: true,
            complexity: true,
            status: true,
            completedAt: true,
            consensusApplied: true,
            agreement: true,
            confidence: true,
            thresholdMet: true,
            dissenting: true,
            costUsd: true,
            processingTimeMs: true,
            experimentId: true,
            variant: true,
            systemPrompt: true,
            feedback: { select: { score: true } },
            providerCalls: { orderBy: { callIndex: 'asc' }, select: { provider: true, model: true, status: true, errorType: true, latencyMs: true, costUsd: true, hedged: true } },
          },
        });
        const truncated = rows.length > maxRows;
        const kept = rows.slice(0, maxRows).reverse();
        return {
          truncated,
          rows: kept.map(
            (r): InteractionRow => ({
              id: r.id,
              taskType: r.taskType,
              complexity: r.complexity,
              status: r.status === 'completed' ? 'completed' : 'failed',
              completedAt: r.completedAt.toISOString(),
              consensusApplied: r.consensusApplied,
              agreement: r.agreement,
              confidence: r.confidence,
              thresholdMet: r.thresholdMet,
              dissenting: asStringArray(r.dissenting),
              costUsd: r.costUsd,
              processingTimeMs: r.processingTimeMs,
              feedback: r.feedback.map((f) => f.score),
              experimentId: r.experimentId,
              variant: r.variant,
              systemPrompt: r.systemPrompt,
              calls: r.providerCalls.map(
                (c): CallRow => ({
                  provider: c.provider,
                  model: c.model,
                  status: c.status === 'succeeded' ? 'succeeded' : c.status === 'cancelled' ? 'cancelled' : 'failed',
                  errorType: c.errorType,
                  latencyMs: c.latencyMs,
                  costUsd: c.costUsd,
                  hedged: c.hedged,
                }),
              ),
            }),
          ),
        };
      }),

    latestPolicy: () =>
      guard('read the routing policy', async () => {
        const row = await db.routingPolicyVersion.findFirst({ orderBy: { version: 'desc' } });
        if (!row) return null;
        const policy = policyFromStored(row.version, row.policy, { source: row.source, reason: row.reason, createdAt: row.createdAt.toISOString() });
        return policy ? { version: row.version, policy } : null;
      }),

    saveReport: ({ report, experimentUpdates }) =>
      guard('save an improvement report', async () => {
        return db.$transaction(async (tx) => {
          const existing = await tx.improvementReport.findUnique({ where: { id: report.id }, select: { id: true } });
          if (existing) return { created: false };
          await tx.improvementReport.create({
            data: { id: report.id, workflowId: report.workflowId, windowStart: new Date(report.analysis.window.start), windowEnd: new Date(report.analysis.window.end), report: json(report, 'report') },
          });
          if (report.proposals.length > 0) {
            const pending = await tx.proposal.findMany({ where: { status: 'pending' }, select: { id: true, kind: true, evidence: true } });
            const fresh = new Set(report.proposals.map((p) => `${p.kind}\u0000${p.target}`));
            const superseded = pending.filter((p) => {
              const w = StoredEvidenceSchema.safeParse(p.evidence);
              return w.success && fresh.has(`${p.kind}\u0000${w.data.target}`);
            });
            if (superseded.length > 0) {
              await tx.proposal.updateMany({ where: { id: { in: superseded.map((p) => p.id) }, status: 'pending' }, data: { status: 'superseded', decidedBy: `report:${report.id}`, decidedAt: new Date(report.generatedAt) } });
            }
            for (const p of report.proposals) {
              await tx.proposal.create({
                data: {
                  id: p.id,
                  reportId: report.id,
                  kind: p.kind,
                  change: json(p.change, 'change'),
                  evidence: json({ summary: p.summary, target: p.target, evidence: p.evidence, estimatedEffect: p.estimatedEffect, decisionReason: p.decisionReason, outcome: null }, 'evidence'),
                  confidence: p.confidence,
                  dataPoints: p.dataPoints,
                  status: 'pending',
                },
              });
            }
          }
          for (const u of experimentUpdates) {
            const ended = u.action !== 'continue';
            await tx.experiment.updateMany({
              where: { id: u.experimentId, status: 'running' },
              data: {
                result: json(u.record, 'experiment result'),
                ...(ended && { status: u.action === 'conclude' ? 'concluded' : 'stopped', reason: u.reason.slice(0, 2000), stoppedAt: new Date(u.at) }),
              },
            });
          }
          return { created: true };
        });
      }),

    updateReport: (report) =>
      guard('update an improvement report', async () => {
        const updated = await db.improvementReport.updateMany({ where: { id: report.id }, data: { report: json(report, 'report') } });
        if (updated.count === 0) throw new ImprovementError('ReportNotFound', `no improvement report "${report.id}"`, { id: report.id });
      }),

    updateReportProposals: (reportId, proposals) =>
      guard('update an improvement report', async () => {
        await db.$transaction(async (tx) => {
          const row = await tx.improvementReport.findUnique({ where: { id: reportId }, select: { report: true } });
          if (!row) throw new ImprovementError('ReportNotFound', `no improvement report "${reportId}"`, { id: reportId });
          const report = row.report as unknown as ImprovementReport;
          await tx.improvementReport.update({ where: { id: reportId }, data: { report: json({ ...report, proposals }, 'report') } });
        });
      }),

    getReport: (id) =>
      guard('read an improvement report', async () => {
        const row = await db.improvementReport.findUnique({ where: { id } });
        if (!row) throw new ImprovementError('ReportNotFound', `no improvement report "${id}"`, { id });
        return { id: row.id, workflowId: row.workflowId, windowStart: row.windowStart.toISOString(), windowEnd: row.windowEnd.toISOString(), report: row.report as unknown as ImprovementReport, createdAt: row.createdAt.toISOString() };
      }),

    latestReport: () =>
      guard('read the latest improvement report', async () => {
        const row = await db.improvementReport.findFirst({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
        if (!row) return null;
        return { id: row.id, workflowId: row.workflowId, windowStart: row.windowStart.toISOString(), windowEnd: row.windowEnd.toISOString(), report: row.report as unknown as ImprovementReport, createdAt: row.createdAt.toISOString() };
      }),

    listReports: (limit) =>
      guard('list improvement reports', async () => {
        const rows = await db.improvementReport.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: Math.min(Math.max(1, limit), 500), select: { id: true, workflowId: true, windowStart: true, windowEnd: true, createdAt: true } });
        return rows.map((r) => ({ id: r.id, workflowId: r.workflowId, windowStart: r.windowStart.toISOString(), windowEnd: r.windowEnd.toISOString(), createdAt: r.createdAt.toISOString() }));
      }),

    getProposal: (id) => guard('read a proposal', async () => proposalFromRow(await proposalRow(id))),

    listProposals: ({ status, limit }) =>
      guard('list proposals', async () => {
        const rows = await db.proposal.findMany({ where: status ? { status } : {}, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: Math.min(Math.max(1, limit), 500) });
        return rows.map(proposalFromRow);
      }),

    markProposal: (id, d) => guard('decide a proposal', () => decideProposal(id, d.status, d.decidedBy, d.appliedVersion, d.outcome)),

    rejectProposal: (id, d) => guard('reject a proposal', () => decideProposal(id, 'rejected', d.decidedBy, null, d.reason)),

    createExperiment: (input) =>
      guard('create an experiment', async () => {
        const parsed = ExperimentInputSchema.safeParse(input);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
          throw new ImprovementError('InvalidExperiment', `invalid experiment: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
        }
        const e = parsed.data;
        const id = e.id ?? `${slug(e.name)}-${randomUUID().slice(0, 8)}`;
        const existing = await db.experiment.findUnique({ where: { id } });
        if (existing) {
          const same = existing.name === e.name && existing.kind === e.kind && existing.taskType === e.taskType && JSON.stringify(existing.variants) === JSON.stringify(json(e.variants, 'variants'));
          if (same) return experimentFromRow(existing);
          throw new ImprovementError('InvalidExperiment', `experiment id "${id}" is already used by another experiment`, { issues: [{ path: 'id', message: 'already used' }] });
        }
        const row = await db.experiment.create({
          data: {
            id,
            name: e.name,
            kind: e.kind,
            taskType: e.taskType,
            variants: json(e.variants, 'variants'),
            trafficShare: e.trafficShare,
            minSamples: e.minSamples,
            status: 'running',
            reason: e.reason ?? null,
            createdBy: e.createdBy,
          },
        });
        return experimentFromRow(row);
      }),

    getExperiment: (id) => guard('read an experiment', async () => experimentFromRow(await experimentRow(id))),

    listExperiments: ({ status, taskType, limit }) =>
      guard('list experiments', async () => {
        const rows = await db.experiment.findMany({
          where: { ...(status && { status }), ...(taskType && { taskType }) },
          orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
          take: Math.min(Math.max(1, limit), 500),
        });
        return rows.map(experimentFromRow);
      }),

    stopExperiment: (id, { by, reason }) =>
      guard('stop an experiment', async () => {
        const row = await experimentRow(id);
        if (row.status !== 'running') throw new ImprovementError('ExperimentNotRunning', `experiment ${id} is already ${row.status}`, { id, status: row.status });
        const updated = await db.experiment.updateMany({ where: { id, status: 'running' }, data: { status: 'stopped', reason: `stopped by ${by}: ${reason}`.slice(0, 2000), stoppedAt: new Date() } });
        if (updated.count === 0) throw new ImprovementError('ExperimentNotRunning', `experiment ${id} ended while it was being stopped`, { id });
        return experimentFromRow(await experimentRow(id));
      }),

    experimentObservations: (id, maxRows) =>
      guard('read experiment observations', async () => {
        const rows = await db.interaction.findMany({
          where: { experimentId: id, variant: { not: null } },
          orderBy: [{ completedAt: 'desc' }, { id: 'asc' }],
          take: maxRows,
          select: { variant: true, status: true, thresholdMet: true, processingTimeMs: true, costUsd: true, feedback: { select: { score: true } } },
        });
        return rows.map((r) => ({ variant: r.variant ?? '', completed: r.status === 'completed', good: good(r), latencyMs: r.processingTimeMs, costUsd: r.costUsd }));
      }),

    lowAgreementSamples: ({ window, agreementBelow, minSamples, maxSamples }) =>
      guard('read low-agreement samples', async () => {
        const where = { completedAt: { gte: new Date(window.start), lt: new Date(window.end) }, status: 'completed', consensusApplied: true, agreement: { lt: agreementBelow } };
        const counts = await db.interaction.groupBy({ by: ['taskType'], where, _count: { _all: true } });
        const out = new Map<string, { count: number; samples: LowAgreementSample[] }>();
        for (const c of counts.sort((a, b) => (a.taskType < b.taskType ? -1 : 1))) {
          if (c._count._all < minSamples) continue;
          const rows = await db.interaction.findMany({
            where: { ...where, taskType: c.taskType },
            orderBy: [{ agreement: 'asc' }, { completedAt: 'desc' }],
            take: maxSamples,
            select: { taskType: true, prompt: true, systemPrompt: true, response: true, agreement: true },
          });
          out.set(c.taskType, { count: c._count._all, samples: rows });
        }
        return out;
      }),

    currentSystemPrompt: (taskType) =>
      guard('read the current system prompt', async () => {
        const rows = await db.interaction.findMany({ where: { taskType }, orderBy: { completedAt: 'desc' }, take: 200, select: { systemPrompt: true } });
        const counts = new Map<string | null, number>();
        for (const r of rows) counts.set(r.systemPrompt, (counts.get(r.systemPrompt) ?? 0) + 1);
        let best: string | null = null;
        let most = 0;
        for (const [prompt, n] of counts) {
          if (n > most) {
            best = prompt;
            most = n;
          }
        }
        return best;
      }),
  };
}

/** Open a client of its own (closed by `close()`). */
export function openImprovementStore(databaseUrl: string, options: CreatePrismaClientOptions = {}): ImprovementStoreHandle {
  const db = createPrismaClient(databaseUrl, options);
  return { ...createImprovementStore(db, databaseUrl), close: () => db.$disconnect() };
}
