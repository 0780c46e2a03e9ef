/**
 * Voting consensus: every response votes for its normalized answer (`extractAnswer`: final-answer
 * lines, code by normalized content, JSON by value, the last number, else the text); the answer
 * with the most weight wins.
 *
 * - Weights (`consensus.strategies.voting.weights`): `none` (one vote each, the default),
 *   `confidence` (the provider's confidence), `accuracy` (historical accuracy from
 *   `context.providerAccuracy`), or `confidence_and_accuracy` (the product). A response without
 *   the value gets the mean of those that have it (1 when none has); weights lie in [0,1].
 * - Ties between the heaviest answers are broken by `tie_break`: `prefer_order` (the answer backed
 *   by the provider earliest in `prefer_order`), `highest_confidence` (the answer whose most
 *   confident voter is most confident; the default) or `first` (the answer given first); each
 *   falls back to the next: prefer_order, highest_confidence, first.
 * - Within the winning answer the chosen response is the preferred provider's, then the most
 *   confident, then the first.
 * - `confidence` = the winner's share of the vote weight; `agreement` = the share of responses
 *   that gave the winning answer (the same when unweighted); `dissenting` = every other
 *   response; `thresholdMet` = confidence >= `context.threshold` (a vote share; default 0.6 from
 *   `consensus.strategies.voting.threshold`).
 */
import type { VotingSettings } from '../config/schema';
import type { GenerateResponse } from '../types';
import { extractAnswer, type ExtractedAnswer } from './answer-extraction';
import type { ConsensusContext, ConsensusDecision, ConsensusStrategy, VoteGroup, VotingDetails } from './strategy';

export type VoteWeighting = VotingSettings['weights'];
export type TieBreak = VotingSettings['tie_break'];

export interface VotingOptions {
  weights?: VoteWeighting;
  tieBreak?: TieBreak;
  /** Providers (`provider` or `provider:model`) in order of preference. */
  preferOrder?: readonly string[];
}

const EPSILON = 1e-9;

export class VotingConsensus implements ConsensusStrategy {
  readonly name = 'voting';
  private readonly weighting: VoteWeighting;
  private readonly tieBreak: TieBreak;
  private readonly preferOrder: readonly string[];

  constructor(options: VotingOptions = {}) {
    this.weighting = options.weights ?? 'none';
    this.tieBreak = options.tieBreak ?? 'highest_confidence';
    this.preferOrder = options.preferOrder ?? [];
  }

  static fromSettings(settings: Partial<VotingSettings> = {}): VotingConsensus {
    return new VotingConsensus({
      ...(settings.weights !== undefined && { weights: settings.weights }),
      ...(settings.tie_break !== undefined && { tieBreak: settings.tie_break }),
      ...(settings.prefer_order !== undefined && { preferOrder: settings.prefer_order }),
    });
  }

  findConsensus(responses: readonly GenerateResponse[], context: ConsensusContext): ConsensusDecision {
    if (responses.length === 0) throw new Error('consensus needs at least one response');
    return this.decide(
      responses,
      responses.map((r) => extractAnswer(r.content)),
      context,
    );
  }

  /**
   * The vote over answers already extracted, one per response (null: the response backs no
   * answer; its weight still counts in the total, so it lowers the winner's share). The similarity
   * strategy votes this way over short final answers.
   */
  decide(responses: readonly GenerateResponse[], answers: readonly (ExtractedAnswer | null)[], context: ConsensusContext): ConsensusDecision & { details: VotingDetails; thresholdMet: boolean } {
    if (responses.length === 0) throw new Error('consensus needs at least one response');
    if (answers.length !== responses.length) throw new RangeError(`one answer per response needed (${answers.length} answers, ${responses.length} responses)`);
    const weights = voteWeights(responses, this.weighting, context.providerAccuracy);

    const groups = new Map<string, VoteGroup>();
    answers.forEach((answer, i) => {
      if (answer === null) return;
      const group = groups.get(answer.key) ?? { key: answer.key, display: answer.display, weight: 0, count: 0, indexes: [] };
      group.weight += weights[i]!;
      group.count++;
      group.indexes.push(i);
      groups.set(answer.key, group);
    });
    const tally = [...groups.values()].sort((a, b) => b.weight - a.weight || a.indexes[0]! - b.indexes[0]!);
    const n = responses.length;
    const totalWeight = weights.reduce((s, w) => s + w, 0);

    if (tally.length === 0) {
      // Nothing to vote with (every response empty): no answer wins.
      const details: VotingDetails = { strategy: 'voting', answers: answers.map(() => null), weights: weights.map(round), tally: [], tieBreak: null };
      return { chosenIndex: 0, confidence: 0, agreement: 0, dissenting: range(n).slice(1), thresholdMet: false, details };
    }

    const top = tally[0]!.weight;
    const tied = tally.filter((g) => top - g.weight <= EPSILON);
    let winner = tally[0]!;
    let tieBreak: VotingDetails['tieBreak'] = null;
    if (tied.length > 1) {
      const decided = this.breakTie(tied, responses);
      winner = decided.group;
      tieBreak = { rule: decided.rule, between: tied.map((g) => g.key) };
    }

    const chosenIndex = [...winner.indexes].sort(
      (a, b) => this.rank(responses[a]!) - this.rank(responses[b]!) || (responses[b]!.confidence ?? -1) - (responses[a]!.confidence ?? -1) || a - b,
    )[0]!;
    const members = new Set(winner.indexes);
    const confidence = totalWeight > 0 ? winner.weight / totalWeight : winner.count / n;
    const details: VotingDetails = {
      strategy: 'voting',
      answers: answers.map((a) => a?.key ?? null),
      weights: weights.map(round),
      tally: tally.map((g) => ({ ...g, weight: round(g.weight) })),
      tieBreak,
    };
    return {
      chosenIndex,
      confidence: round(confidence),
      agreement: round(winner.count / n),
      dissenting: range(n).filter((i) => !members.has(i)),
      thresholdMet: confidence + EPSILON >= context.threshold,
      details,
    };
  }

  /** The winner's share of the vote, one vote per response. */
  calculateConfidence(responses: readonly GenerateResponse[]): number {
    if (responses.length === 0) return 0;
    return this.findConsensus(responses, { taskType: '', prompt: '', threshold: 0 }).confidence;
  }

  private breakTie(tied: VoteGroup[], responses: readonly GenerateResponse[]): { group: VoteGroup; rule: TieBreak } {
    const rules: TieBreak[] = this.tieBreak === 'prefer_order' ? ['prefer_order', 'highest_confidence', 'first'] : this.tieBreak === 'highest_confidence' ? ['highest_confidence', 'first'] : ['first'];
    let candidates = tied;
    for (const rule of rules) {
      const score = (g: VoteGroup): number =>
        rule === 'prefer_order'
          ? -Math.min(...g.indexes.map((i) => this.rank(responses[i]!)))
          : rule === 'highest_confidence'
            ? Math.max(...g.indexes.map((i) => responses[i]!.confidence ?? -1))
            : -Math.min(...g.indexes);
      const best = Math.max(...candidates.map(score));
      candidates = candidates.filter((g) => score(g) === best);
      if (candidates.length === 1) return { group: candidates[0]!, rule };
    }
    return { group: candidates[0]!, rule: 'first' };
  }

  /** Position in `preferOrder` (`provider:model` first, then `provider`); unlisted: last. */
  private rank(response: GenerateResponse): number {
    const exact = this.preferOrder.indexOf(`${response.provider}:${response.model}`);
    if (exact >= 0) return exact;
    const byProvider = this.preferOrder.indexOf(response.provider);
    return byProvider >= 0 ? byProvider : this.preferOrder.length;
  }
}

/** Each response's vote weight in [0,1]. */
export function voteWeights(responses: readonly GenerateResponse[], weighting: VoteWeighting, accuracy?: Readonly<Record<string, number>>): number[] {
  const ones = responses.map(() => 1);
  const confidences = weighting === 'confidence' || weighting === 'confidence_and_accuracy' ? fillMissing(responses.map((r) => r.confidence)) : ones;
  const accuracies =
    weighting === 'accuracy' || weighting === 'confidence_and_accuracy'
      ? fillMissing(responses.map((r) => accuracy?.[`${r.provider}:${r.model}`] ?? accuracy?.[r.provider] ?? null))
      : ones;
  return responses.map((_, i) => clamp01(confidences[i]!) * clamp01(accuracies[i]!));
}

/** Missing values become the mean of the present ones (1 when none is present). */
function fillMissing(values: (number | null)[]): number[] {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const mean = present.length > 0 ? present.reduce((s, v) => s + v, 0) / present.length : 1;
  return values.map((v) => (v !== null && Number.isFinite(v) ? v : mean));
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
