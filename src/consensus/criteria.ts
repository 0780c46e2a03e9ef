/**
 * One meaning for a decision's `thresholdMet`, and `lowConfidence` derived from it, so the two
 * never contradict each other. Pure, with type-only imports: workflow code may import this file
 * directly (`src/consensus/criteria`).
 *
 * - `thresholdMet` = the strategy's own agreement rule holds (its `thresholdMet`: for `similarity`
 *   a strict majority gives the chosen short answer, or lies within `consensus.similarity_threshold`
 *   of it; for `voting` the vote share reaches its threshold; a strategy that sets none passes)
 *   **and** `confidence >= consensus.confidence_threshold`. The worker's `selectConsensus` applies
 *   this to every decision (`withConsensusCriteria`); `criteria` keeps the two rules apart.
 * - `lowConfidence` = consensus was required and, after escalation, `thresholdMet` is false
 *   (`isLowConfidence`). So `thresholdMet: true` never comes with `lowConfidence: true`; and
 *   `thresholdMet: false` comes with `lowConfidence: false` only when consensus was not required
 *   (the request asked for no escalation, so nothing is flagged).
 */
import type { ConsensusDecision } from './strategy';

/** The decision with `thresholdMet` = its own rule and `confidence >= confidenceThreshold`, and `criteria` saying which held. */
export function withConsensusCriteria<D extends ConsensusDecision>(decision: D, confidenceThreshold: number): D & { thresholdMet: boolean; criteria: NonNullable<ConsensusDecision['criteria']> } {
  const agreement = decision.thresholdMet !== false;
  // The same comparison as the request workflow's escalation test (`confidence < threshold` is unsure).
  const confident = !(decision.confidence < confidenceThreshold);
  return { ...decision, thresholdMet: agreement && confident, criteria: { agreement, confidence: confident, confidenceThreshold } };
}

/** Consensus was required and the decision (after escalation) did not meet its threshold; false when no consensus ran. */
export function isLowConfidence(decision: Pick<ConsensusDecision, 'thresholdMet'> | null, requireConsensus: boolean): boolean {
  return requireConsensus && decision !== null && decision.thresholdMet === false;
}
