/**
 * Whether a proposal is applied automatically, and why: a routing change with at least
 * `minDataPoints` data points and a confidence of at least `autoApplyThreshold`; everything else
 * waits for a person.
 *
 * Pure, and apart from ./proposals (zod schemas) because the improvement workflow calls it: the
 * SDK evaluates a workflow bundle's module scope again for every workflow run.
 */
import type { Proposal } from './proposals';

export interface DecisionSettings {
  minDataPoints: number;
  autoApplyThreshold: number;
}

export type Decision = 'apply' | 'pending';

/** Why `decide` said what it said. */
export function decisionReason(proposal: Pick<Proposal, 'change' | 'confidence' | 'dataPoints'>, settings: DecisionSettings): { decision: Decision; reason: string } {
  if (proposal.change.type !== 'routing_update') {
    const what = proposal.change.type === 'config' ? 'a configuration change' : proposal.change.type === 'experiment' ? 'a new experiment' : 'adopting an experiment variant';
    return { decision: 'pending', reason: `${what} is never applied automatically` };
  }
  if (proposal.dataPoints < settings.minDataPoints) return { decision: 'pending', reason: `${proposal.dataPoints} data points, fewer than min_data_points ${settings.minDataPoints}` };
  if (proposal.confidence < settings.autoApplyThreshold) {
    return { decision: 'pending', reason: `confidence ${proposal.confidence.toFixed(4)} below auto_apply_threshold ${settings.autoApplyThreshold}` };
  }
  return { decision: 'apply', reason: `confidence ${proposal.confidence.toFixed(4)} >= ${settings.autoApplyThreshold} on ${proposal.dataPoints} data points` };
}
