/**
 * The improvement loop as workflows.
 *
 * improvementWorkflow: one run, on the schedule (src/improvement/schedule.ts) or by hand.
 *   1. read improvement.* from the worker's configuration (overrides from the input for manual runs);
 *      a scheduled run with improvement.enable false stops here; a manual one applies nothing itself;
 *   2. make sure the routing-policy workflow runs, analyse the history window against the one
 *      before it and propose against its current policy (activity);
 *   3. look once at every running experiment (guard rails, sequential test, winners' proposals);
 *   4. meta-prompting, when configured: candidate prompts become experiment proposals;
 *   5. decide each proposal (src/improvement/proposals.ts `decide`, here, so the decision is in
 *      the history), record the report with every proposal pending, in one transaction;
 *   6. send each 'apply' proposal to the routing-policy workflow as an `applyRoutingUpdate`
 *      signal (its id is the proposal id), wait for the outcome (an activity polls the
 *      routingChangeOutcome query), and mark it applied with the version, or rejected with the
 *      routing workflow's reason; no answer in time leaves it pending;
 *   7. record in the stored report what became of the proposals it sent.
 *
 * proposalDecisionWorkflow: a person's approval or rejection of one pending proposal (the CLI and
 * SDK start it with the id `improvement-decision-<proposal id>`, so a proposal is decided once;
 * asking again returns the first decision). Approving a routing change signals the routing-policy
 * workflow exactly as the automatic path does; approving an experiment proposal starts the
 * experiment; approving a configuration change records it as accepted (config.yaml is changed by
 * a person, not by a workflow).
 *
 * Deterministic code only: data and the configuration are reached through activities.
 */
import { ActivityFailure, ApplicationFailure, getExternalWorkflowHandle, log, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { ImprovementActivities, ImprovementSettings } from '../activities/improvement';
import { IMPROVEMENT_DECIDER } from '../src/improvement/constants';
import type { ExperimentAnalysis } from '../src/improvement/experiments';
import { shortId } from '../src/improvement/hash';
import type { ProposalStatus } from '../src/improvement/proposals';
import { withDecisions, type ImprovementReport, type ImprovementTrigger, type ReportProposal } from '../src/improvement/report';
import { ROUTING_POLICY_WORKFLOW_ID } from '../src/routing/constants';
import type { RoutingUpdate } from '../src/routing/policy';
import { applyRoutingUpdateSignal, type ChangeOutcome } from './routing-policy';

// ---------------------------------------------------------------------------------------------
// Types

export interface ImprovementWorkflowInput {
  trigger: ImprovementTrigger;
  /** Who asked (manual runs): 'cli:alice', ... */
  requestedBy?: string;
  /** Manual runs, tests and benchmarks only: override the configuration for this run. */
  overrides?: {
    windowHours?: number;
    minDataPoints?: number;
    autoApplyThreshold?: number;
    /** ISO-8601 end of the window (default: now). */
    windowEnd?: string;
  };
  /** Default ROUTING_POLICY_WORKFLOW_ID. */
  routingPolicyWorkflowId?: string;
  /** How long to wait for the routing-policy workflow to report on each change (default 60 s). */
  routingOutcomeTimeoutMs?: number;
}

export interface ProposalSummary {
  id: string;
  kind: string;
  summary: string;
  decision: 'apply' | 'pending';
  status: ProposalStatus;
  appliedVersion: number | null;
  outcome: string | null;
}

export interface ImprovementWorkflowResult {
  reportId: string | null;
  /** A scheduled run with improvement.enable false does nothing. */
  skipped: boolean;
  windowStart: string | null;
  windowEnd: string | null;
  proposals: ProposalSummary[];
  experiments: { experimentId: string; action: ExperimentAnalysis['action']; winner: string | null }[];
  applied: number;
  pending: number;
}

export interface ProposalDecisionInput {
  proposalId: string;
  decision: 'approve' | 'reject';
  /** 'cli:alice', ... */
  decidedBy: string;
  reason?: string;
  routingPolicyWorkflowId?: string;
  routingOutcomeTimeoutMs?: number;
}

export interface ProposalDecisionResult {
  proposalId: string;
  status: ProposalStatus;
  appliedVersion: number | null;
  outcome: string | null;
  decidedBy: string | null;
  /** True when the proposal had been decided before this workflow ran (nothing changed). */
  alreadyDecided: boolean;
}

// ---------------------------------------------------------------------------------------------
// Activities, one proxy per profile

const STORE_ERRORS = ['InvalidExperiment', 'ExperimentNotFound', 'ExperimentNotRunning', 'ProposalNotFound', 'ProposalAlreadyDecided', 'ReportNotFound', 'InvalidDecision', 'StoredDataInvalid'];

/** Reading the configuration: no I/O. */
const local = proxyLocalActivities<ImprovementActivities>({ startToCloseTimeout: '10s' });

/** Analysis over the database: a few attempts. */
const compute = proxyActivities<ImprovementActivities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: STORE_ERRORS },
});

/** Meta-prompting calls a model: slow, and optional. */
const meta = proxyActivities<ImprovementActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '5s', maximumAttempts: 2, nonRetryableErrorTypes: STORE_ERRORS },
});

/** Writes that must land: retried until the database answers. */
const database = proxyActivities<ImprovementActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: STORE_ERRORS },
});

/** Talking to the routing-policy workflow. */
const routing = proxyActivities<ImprovementActivities>({
  startToCloseTimeout: '3m',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 5 },
});

// ---------------------------------------------------------------------------------------------

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure) return err.cause?.message ?? err.message;
  return err instanceof Error ? err.message : String(err);
}

interface RoutingResult {
  status: 'applied' | 'rejected' | 'pending';
  appliedVersion: number | null;
  outcome: string;
}

/** Send one routing update as a signal and wait for what the routing-policy workflow made of it. */
async function sendRoutingChange(routingId: string, update: RoutingUpdate, changeId: string, timeoutMs: number): Promise<RoutingResult> {
  try {
    await routing.ensureRoutingPolicyRunning({ workflowId: routingId });
    await getExternalWorkflowHandle(routingId).signal(applyRoutingUpdateSignal, update);
  } catch (err) {
    return { status: 'pending', appliedVersion: null, outcome: `not sent to ${routingId}: ${failureMessage(err)}` };
  }
  let outcome: ChangeOutcome | null;
  try {
    outcome = await routing.awaitRoutingChangeOutcome({ workflowId: routingId, changeId, timeoutMs });
  } catch (err) {
    return { status: 'pending', appliedVersion: null, outcome: `sent to ${routingId}; its outcome could not be read: ${failureMessage(err)}` };
  }
  if (!outcome) return { status: 'pending', appliedVersion: null, outcome: `sent to ${routingId}; no outcome within ${Math.round(timeoutMs / 1000)} s (is a worker running it?)` };
  switch (outcome.status) {
    case 'accepted':
      return { status: 'applied', appliedVersion: outcome.version, outcome: `accepted as routing policy v${outcome.version}: ${outcome.summary}` };
    case 'unchanged':
      return { status: 'applied', appliedVersion: outcome.version, outcome: `routing policy v${outcome.version} already says so: ${outcome.summary}` };
    case 'rejected':
      return { status: 'rejected', appliedVersion: null, outcome: `rejected by the routing policy (${outcome.error.code}): ${outcome.error.message}` };
  }
}

export async function improvementWorkflow(input: ImprovementWorkflowInput): Promise<ImprovementWorkflowResult> {
  const info = workflowInfo();
  const configured: ImprovementSettings = await local.loadImprovementSettings();
  if (input.trigger === 'schedule' && !configured.enable) {
    log.info('improvement is disabled (improvement.enable: false): scheduled run skipped');
    return { reportId: null, skipped: true, windowStart: null, windowEnd: null, proposals: [], experiments: [], applied: 0, pending: 0 };
  }
  const o = input.overrides ?? {};
  const settings: ImprovementSettings = {
    ...configured,
    ...(o.windowHours !== undefined && { windowHours: o.windowHours }),
    ...(o.minDataPoints !== undefined && { minDataPoints: o.minDataPoints }),
    ...(o.autoApplyThreshold !== undefined && { autoApplyThreshold: o.autoApplyThreshold }),
  };
  const routingId = input.routingPolicyWorkflowId ?? ROUTING_POLICY_WORKFLOW_ID;
  const outcomeTimeoutMs = input.routingOutcomeTimeoutMs ?? 60_000;
  const at = new Date().toISOString();
  const windowEnd = o.windowEnd ?? at;
  const reportId = shortId('r', `${info.workflowId}:${info.runId}`);

  // The routing-policy workflow holds the policy the proposals are made against: make sure it runs.
  await routing.ensureRoutingPolicyRunning({ workflowId: routingId }).catch((err: unknown) => log.warn('could not start the routing-policy workflow', { error: failureMessage(err) }));
  const window = await compute.analyseImprovements({ reportId, routingPolicyWorkflowId: routingId, windowEnd, settings });
  const experiments = await compute.analyseRunningExperiments({ reportId, at, alpha: settings.experimentAlpha, guardrailAlpha: settings.guardrailAlpha });
  const prompts = settings.metaPrompting
    ? await meta.proposePromptExperiments({ reportId, windowEnd, windowHours: settings.windowHours })
    : { proposals: [], notes: ['meta-prompting is off (improvement.meta_prompting.enabled)'] };

  const notes = [...window.notes, ...prompts.notes];
  let proposals: ReportProposal[] = withDecisions([...window.proposals, ...experiments.proposals, ...prompts.proposals], settings);
  if (!configured.enable) {
    // A manual run while improvement is disabled proposes, but applies nothing on its own.
    proposals = proposals.map((p) => (p.decision === 'apply' ? { ...p, decision: 'pending', decisionReason: 'improvement.enable is false: nothing is applied automatically' } : p));
    notes.push('improvement.enable is false: proposals wait for a person');
  }

  const report: ImprovementReport = {
    id: reportId,
    workflowId: info.workflowId,
    trigger: input.trigger,
    requestedBy: input.requestedBy ?? null,
    generatedAt: at,
    settings: {
      minDataPoints: settings.minDataPoints,
      autoApplyThreshold: settings.autoApplyThreshold,
      windowHours: settings.windowHours,
      anomalyAlpha: settings.anomalyAlpha,
      minErrorRateIncrease: settings.minErrorRateIncrease,
      minLatencyRatio: settings.minLatencyRatio,
      minCallsPerTest: settings.minCallsPerTest,
    },
    policyVersion: window.policy?.version ?? null,
    analysis: window.analysis,
    experiments: experiments.experiments,
    proposals,
    notes,
  };
  await database.recordImprovementReport({ report, experimentUpdates: experiments.updates });

  const decided: ReportProposal[] = [];
  for (const p of proposals) {
    if (p.decision !== 'apply' || p.change.type !== 'routing_update') {
      decided.push(p);
      continue;
    }
    const result = await sendRoutingChange(routingId, p.change.update, p.id, outcomeTimeoutMs);
    if (result.status !== 'pending') {
      const stored = await database.recordProposalDecision({
        proposalId: p.id,
        status: result.status,
        decidedBy: result.status === 'rejected' ? 'routing-policy' : IMPROVEMENT_DECIDER,
        appliedVersion: result.appliedVersion,
        outcome: result.outcome,
      });
      decided.push({ ...p, status: stored.status, appliedVersion: stored.appliedVersion, outcome: stored.outcome });
    } else {
      decided.push({ ...p, outcome: result.outcome });
    }
    log.info('improvement proposal sent', { proposal: p.id, kind: p.kind, status: result.status, outcome: result.outcome });
  }

  if (decided.some((p, i) => p !== proposals[i])) await database.finaliseImprovementReport({ reportId, proposals: decided });

  return {
    reportId,
    skipped: false,
    windowStart: window.analysis.window.start,
    windowEnd: window.analysis.window.end,
    proposals: decided.map((p) => ({ id: p.id, kind: p.kind, summary: p.summary, decision: p.decision, status: p.status, appliedVersion: p.appliedVersion, outcome: p.outcome })),
    experiments: experiments.experiments.map((e) => ({ experimentId: e.experimentId, action: e.analysis.action, winner: e.analysis.winner })),
    applied: decided.filter((p) => p.status === 'applied').length,
    pending: decided.filter((p) => p.status === 'pending').length,
  };
}

export async function proposalDecisionWorkflow(input: ProposalDecisionInput): Promise<ProposalDecisionResult> {
  const proposal = await database.loadProposal({ proposalId: input.proposalId });
  if (proposal.status !== 'pending') {
    return { proposalId: proposal.id, status: proposal.status, appliedVersion: proposal.appliedVersion, outcome: proposal.outcome, decidedBy: proposal.decidedBy, alreadyDecided: true };
  }
  const record = async (status: 'applied' | 'accepted' | 'rejected', outcome: string, appliedVersion: number | null = null, decidedBy = input.decidedBy): Promise<ProposalDecisionResult> => {
    const stored = await database.recordProposalDecision({ proposalId: proposal.id, status, decidedBy, appliedVersion, outcome });
    return { proposalId: stored.id, status: stored.status, appliedVersion: stored.appliedVersion, outcome: stored.outcome, decidedBy: stored.decidedBy, alreadyDecided: false };
  };

  if (input.decision === 'reject') return record('rejected', input.reason ?? 'rejected');

  const change = proposal.change;
  switch (change.type) {
    case 'routing_update': {
      const routingId = input.routingPolicyWorkflowId ?? ROUTING_POLICY_WORKFLOW_ID;
      const result = await sendRoutingChange(routingId, change.update, proposal.id, input.routingOutcomeTimeoutMs ?? 60_000);
      if (result.status === 'applied') return record('applied', `approved by ${input.decidedBy}${input.reason ? ` (${input.reason})` : ''}; ${result.outcome}`, result.appliedVersion);
      if (result.status === 'rejected') return record('rejected', `approved by ${input.decidedBy}, but ${result.outcome}`, null, 'routing-policy');
      throw ApplicationFailure.nonRetryable(`proposal ${proposal.id} was approved but not applied: ${result.outcome}; it is still pending`, 'RoutingChangeNotApplied');
    }
    case 'experiment': {
      const { experimentId } = await database.startProposedExperiment({ experiment: change.experiment });
      return record('applied', `approved by ${input.decidedBy}: experiment ${experimentId} started`);
    }
    case 'config':
      return record('accepted', `approved by ${input.decidedBy}: set ${change.path} to ${String(change.value)} in config.yaml (${change.note})`);
    case 'adopt_variant':
      return record('accepted', `approved by ${input.decidedBy}: adopt variant "${change.variant}" of experiment ${change.experimentId} (${change.note})`);
  }
}
