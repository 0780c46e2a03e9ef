/**
 * Early stop: whether the consensus outcome can still change once `answered` of `total` called
 * providers have answered. Pure and deterministic, with type-only imports, so workflow code may
 * import this file directly (`src/consensus/early-stop`; not the `src/consensus` index, which
 * brings the embedding model along).
 *
 * Rules, by what the decision so far carries:
 * - nothing outstanding (`answered >= total`): stop;
 * - votes (a `voting` decision's tally, or `{ votes }`): stop when the leader's weight exceeds
 *   the runner-up's by more than the outstanding responses could add, each at most
 *   `maxVoteWeight` (1: voting weights lie in [0,1]): `leader - second > outstanding * max`.
 *   Unweighted, 3 called: two equal answers stop it; two different ones do not.
 * - `confidence` decisions: never before the last response, since any outstanding response
 *   might carry a higher confidence; `judge` decisions likewise: the judge may prefer a candidate
 *   still to come (and each evaluation is a model call);
 * - everything else (`similarity`, `lexical`, custom strategies): stop when a strict majority of
 *   all `total` responses already backs the chosen answer: `2 * support > total`, with support
 *   = the responses within the threshold of the chosen one (`details.support` for similarity and
 *   lexical, else `answered - dissenting.length`). No group of the outstanding and remaining responses
 *   can then reach a majority, so the chosen answer's cluster wins whatever arrives. (The
 *   medoid may still move within that cluster; the answer it stands for does not.)
 */
import type { ConsensusDecision } from './strategy';

export interface VoteCounts {
  /** Vote weight per distinct answer, in any order. */
  votes: readonly number[];
  /** The most one outstanding response can add to an answer (default 1). */
  maxVoteWeight?: number;
}

export type EarlyStopRule = 'complete' | 'vote_margin' | 'majority' | 'never_early';

export interface EarlyStopStatus {
  stop: boolean;
  rule: EarlyStopRule;
  outstanding: number;
  /** vote_margin: leader - second - outstanding * max; majority: 2 * support - total. Positive means stop. */
  margin: number;
}

export function earlyStopStatus(state: ConsensusDecision | VoteCounts, answered: number, total: number): EarlyStopStatus {
  if (!Number.isInteger(answered) || !Number.isInteger(total) || answered < 0 || total < 1 || answered > total) {
    throw new RangeError(`early stop needs 0 <= answered <= total and total >= 1 (got answered=${answered}, total=${total})`);
  }
  const outstanding = total - answered;
  if (outstanding === 0) return { stop: true, rule: 'complete', outstanding, margin: 0 };

  const votes = 'votes' in state ? { weights: state.votes, max: state.maxVoteWeight ?? 1 } : state.details?.strategy === 'voting' ? { weights: state.details.tally.map((g) => g.weight), max: 1 } : null;
  if (votes !== null) {
    const sorted = [...votes.weights].sort((a, b) => b - a);
    const margin = (sorted[0] ?? 0) - (sorted[1] ?? 0) - outstanding * votes.max;
    return { stop: margin > 1e-9, rule: 'vote_margin', outstanding, margin };
  }
  const decision = state as ConsensusDecision;
  const strategy = decision.details?.strategy;
  if (strategy === 'confidence' || strategy === 'judge') return { stop: false, rule: 'never_early', outstanding, margin: -1 };
  const support = decision.details?.strategy === 'similarity' || decision.details?.strategy === 'lexical' ? decision.details.support : answered - decision.dissenting.length;
  const margin = 2 * support - total;
  return { stop: margin > 0, rule: 'majority', outstanding, margin };
}

/** True once the outstanding responses can no longer change the outcome (see the rules above). */
export function canStopEarly(state: ConsensusDecision | VoteCounts, answered: number, total: number): boolean {
  return earlyStopStatus(state, answered, total).stop;
}
