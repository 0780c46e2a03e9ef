/**
 * The improvement loop through the client SDK.
 *
 * - Runs and decisions go through Temporal: `runImprovement` starts the improvement workflow;
 *   `approveProposal` / `rejectProposal` start the proposal-decision workflow with the business id
 *   `improvement-decision-<proposal id>`, so a proposal is decided once and asking again returns
 *   the first decision. Approving a routing change is an `applyRoutingUpdate` signal to the
 *   routing-policy workflow, sent by that workflow, with the outcome recorded on the proposal.
 * - Reading reports and proposals, and managing experiments, use the database directly (an
 *   ImprovementStore, e.g. openImprovementStore(DATABASE_URL)).
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { TASK_QUEUE } from '../src/constants';
import { InvalidRequest, zodIssues } from '../src/errors';
import { IMPROVEMENT_WORKFLOW_TYPE, manualImprovementWorkflowId, PROPOSAL_DECISION_WORKFLOW_TYPE, proposalDecisionWorkflowId } from '../src/improvement/constants';
import { ImprovementError, isImprovementErrorCode } from '../src/improvement/errors';
import { analyseExperiment, previousFraction, type Experiment, type ExperimentAnalysis, type ExperimentInput } from '../src/improvement/experiments';
import type { ProposalStatus } from '../src/improvement/proposals';
import type { ImprovementReport } from '../src/improvement/report';
import type { ImprovementStore, StoredProposal, StoredReport } from '../src/improvement/store';
import type {
  ImprovementWorkflowInput,
  ImprovementWorkflowResult,
  improvementWorkflow,
  ProposalDecisionInput,
  ProposalDecisionResult,
  proposalDecisionWorkflow,
} from '../workflows/improvement';

export interface ImprovementClientOptions {
  client: Client;
  /** Default TASK_QUEUE (the worker's). */
  taskQueue?: string;
  /** Default ROUTING_POLICY_WORKFLOW_ID (tests use their own). */
  routingPolicyWorkflowId?: string;
}

/** Failures of the improvement workflows come back as the typed error they started as. */
function unwrap(err: unknown): unknown {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    while (cause instanceof Error) {
      const type = (cause as { type?: unknown }).type;
      if (isImprovementErrorCode(type)) {
        const details = (cause as { details?: unknown[] }).details?.[0];
        return new ImprovementError(type, cause.message, typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {});
      }
      if (type === 'RoutingChangeNotApplied') return new ImprovementError('InvalidDecision', cause.message);
      cause = (cause as { cause?: unknown }).cause;
    }
  }
  return err;
}

// ---------------------------------------------------------------------------------------------
// Runs

const RunOptionsSchema = z
  .object({
    requestedBy: z.string().min(1).max(200),
    windowHours: z.number().positive().max(24 * 366).optional(),
    minDataPoints: z.number().int().positive().optional(),
    autoApplyThreshold: z.number().min(0).max(1).optional(),
    windowEnd: z.iso.datetime().optional(),
    routingOutcomeTimeoutMs: z.number().int().positive().optional(),
  })
  .strict();
export type RunImprovementOptions = z.input<typeof RunOptionsSchema>;

/** Start a manual run (`improvement-manual-<time>`); returns its workflow id and, unless `wait: false`, its result. */
export async function runImprovement(o: ImprovementClientOptions, options: RunImprovementOptions, wait = true): Promise<{ workflowId: string; result: ImprovementWorkflowResult | null }> {
  const parsed = RunOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new InvalidRequest(`invalid improvement run: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  const { requestedBy, routingOutcomeTimeoutMs, ...rest } = parsed.data;
  const overrides = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as NonNullable<ImprovementWorkflowInput['overrides']>;
  const input: ImprovementWorkflowInput = {
    trigger: 'manual',
    requestedBy,
    ...(Object.keys(overrides).length > 0 && { overrides }),
    ...(o.routingPolicyWorkflowId !== undefined && { routingPolicyWorkflowId: o.routingPolicyWorkflowId }),
    ...(routingOutcomeTimeoutMs !== undefined && { routingOutcomeTimeoutMs }),
  };
  const workflowId = manualImprovementWorkflowId(new Date());
  const handle = await o.client.workflow.start<typeof improvementWorkflow>(IMPROVEMENT_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    args: [input],
    staticSummary: `improvement run requested by ${requestedBy}`,
  });
  if (!wait) return { workflowId, result: null };
  try {
    return { workflowId, result: await handle.result() };
  } catch (err) {
    throw unwrap(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Decisions

const DecisionSchema = z
  .object({
    proposalId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'proposal ids are 1-128 chars of [A-Za-z0-9_.:-]'),
    decidedBy: z.string().min(1).max(200),
    reason: z.string().max(2000).optional(),
  })
  .strict();
export type DecisionOptions = z.input<typeof DecisionSchema>;

async function decide(o: ImprovementClientOptions, decision: 'approve' | 'reject', options: DecisionOptions): Promise<ProposalDecisionResult> {
  const parsed = DecisionSchema.safeParse(options);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new InvalidRequest(`invalid decision: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  const input: ProposalDecisionInput = {
    proposalId: parsed.data.proposalId,
    decision,
    decidedBy: parsed.data.decidedBy,
    ...(parsed.data.reason !== undefined && { reason: parsed.data.reason }),
    ...(o.routingPolicyWorkflowId !== undefined && { routingPolicyWorkflowId: o.routingPolicyWorkflowId }),
  };
  const workflowId = proposalDecisionWorkflowId(parsed.data.proposalId);
  try {
    let handle;
    try {
      handle = await o.client.workflow.start<typeof proposalDecisionWorkflow>(PROPOSAL_DECISION_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: o.taskQueue ?? TASK_QUEUE,
        args: [input],
        // One decision per proposal: a second ask attaches to (or reads) the first.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'USE_EXISTING',
        staticSummary: `${decision} proposal ${parsed.data.proposalId} (${parsed.data.decidedBy})`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = o.client.workflow.getHandle<typeof proposalDecisionWorkflow>(workflowId);
    }
    return await handle.result();
  } catch (err) {
    throw unwrap(err);
  }
}

/** Approve a pending proposal: a routing change is sent to the routing-policy workflow and recorded with its version. */
export function approveProposal(o: ImprovementClientOptions, options: DecisionOptions): Promise<ProposalDecisionResult> {
  return decide(o, 'approve', options);
}

export function rejectProposal(o: ImprovementClientOptions, options: DecisionOptions): Promise<ProposalDecisionResult> {
  return decide(o, 'reject', options);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** A report (the latest when no id is given) with each proposal's status as it is now. */
export async function getReport(store: ImprovementStore, id?: string): Promise<StoredReport | null> {
  const stored = id === undefined ? await store.latestReport() : await store.getReport(id);
  if (!stored) return null;
  const now = await Promise.all(stored.report.proposals.map((p) => store.getProposal(p.id).catch(() => null)));
  const report: ImprovementReport = {
    ...stored.report,
    proposals: stored.report.proposals.map((p, i) => {
      const current = now[i];
      return current ? { ...p, status: current.status, appliedVersion: current.appliedVersion, outcome: current.outcome ?? p.outcome } : p;
    }),
  };
  return { ...stored, report };
}

export function listProposals(store: ImprovementStore, options: { status?: ProposalStatus; limit?: number } = {}): Promise<StoredProposal[]> {
  return store.listProposals({ ...(options.status && { status: options.status }), limit: options.limit ?? 50 });
}

// ---------------------------------------------------------------------------------------------
// Experiments

export function createExperiment(store: ImprovementStore, input: ExperimentInput): Promise<Experiment> {
  return store.createExperiment(input);
}

export function listExperiments(store: ImprovementStore, options: { status?: Experiment['status']; taskType?: string; limit?: number } = {}): Promise<Experiment[]> {
  return store.listExperiments({ ...(options.status && { status: options.status }), ...(options.taskType && { taskType: options.taskType }), limit: options.limit ?? 50 });
}

/**
 * An experiment with its analysis as of now (for a running one: an unrecorded look, which spends
 * no alpha; the scheduled run's look is the one that counts).
 */
export async function showExperiment(store: ImprovementStore, id: string, settings: { alpha: number; guardrailAlpha: number } = { alpha: 0.05, guardrailAlpha: 0.001 }): Promise<{ experiment: Experiment; analysis: ExperimentAnalysis }> {
  const experiment = await store.getExperiment(id);
  if (experiment.status !== 'running' && experiment.result) return { experiment, analysis: experiment.result.analysis };
  const observations = await store.experimentObservations(id, 100_000);
  const analysis = analyseExperiment(experiment, observations, { ...settings, previousFraction: previousFraction(experiment.result), at: new Date().toISOString() });
  return { experiment, analysis };
}

export function stopExperiment(store: ImprovementStore, id: string, options: { by: string; reason: string }): Promise<Experiment> {
  return store.stopExperiment(id, options);
}
