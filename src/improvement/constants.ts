/**
 * Names shared by the improvement workflow, its schedule, the clients, the CLI and the tests.
 * Pure module: safe to import from workflow code.
 */

/** The one schedule that runs the improvement workflow every `improvement.analysis_interval` hours. */
export const IMPROVEMENT_SCHEDULE_ID = 'improvement-analysis';

/** Workflow type names (the exported functions' names). */
export const IMPROVEMENT_WORKFLOW_TYPE = 'improvementWorkflow';
export const PROPOSAL_DECISION_WORKFLOW_TYPE = 'proposalDecisionWorkflow';

/** Workflow id of scheduled runs (Temporal appends the scheduled time). */
export const IMPROVEMENT_SCHEDULED_WORKFLOW_ID = 'improvement-scheduled';

/** Workflow id prefix of runs started by hand; the rest is the start time. */
export const IMPROVEMENT_MANUAL_WORKFLOW_PREFIX = 'improvement-manual-';

/** A person's decision on a proposal runs once per proposal: the id is the business id. */
export function proposalDecisionWorkflowId(proposalId: string): string {
  return `improvement-decision-${proposalId}`;
}

/** `improvement-manual-<ISO time without separators>`, e.g. improvement-manual-20261125T061500123Z. */
export function manualImprovementWorkflowId(at: Date): string {
  return `${IMPROVEMENT_MANUAL_WORKFLOW_PREFIX}${at.toISOString().replace(/[-:.]/g, '')}`;
}

/** Who the improvement workflow says it is when it decides. */
export const IMPROVEMENT_DECIDER = 'improvement-workflow';
