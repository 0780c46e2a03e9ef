/**
 * Confidence consensus: the response with the highest confidence wins.
 *
 * - Scores: the provider's own confidence (`GenerateResponse.confidence`, from log-probabilities
 *   where the API offers them) when every response carries one. Otherwise the engine's estimate
 *   for every response: its mean word-overlap (Jaccard, as in `lexical`) with the other
 *   responses, i.e. how much the others back it. The two scales differ, so they are never mixed
 *   in one decision; `details.source` says which was used.
 * - Ties: the earlier response.
 * - `confidence` = the chosen response's score; `thresholdMet` = that score >= `context.threshold`.
 * - `dissenting` = responses that do not give the chosen one's answer (`agreement.ts`: the same
 *   normalized answer, or for prose, word overlap at the lexical threshold, so paraphrases agree);
 *   `agreement` = the share of responses that give the chosen one's answer.
 */
import type { GenerateResponse } from '../types';
import { agreementMatrix, dissentersFrom } from './agreement';
import { similarityMatrix } from './lexical';
import type { ConfidenceDetails, ConsensusContext, ConsensusDecision, ConsensusStrategy } from './strategy';

export class ConfidenceConsensus implements ConsensusStrategy {
  readonly name = 'confidence';

  findConsensus(responses: readonly GenerateResponse[], context: ConsensusContext): ConsensusDecision {
    if (responses.length === 0) throw new Error('consensus needs at least one response');
    const { scores, source } = confidenceScores(responses);
    let chosenIndex = 0;
    scores.forEach((s, i) => {
      if (s > scores[chosenIndex]!) chosenIndex = i;
    });
    const dissenting = dissentersFrom(agreementMatrix(responses.map((r) => r.content)), chosenIndex);
    const confidence = scores[chosenIndex]!;
    const details: ConfidenceDetails = { strategy: 'confidence', scores: scores.map(round), source };
    return {
      chosenIndex,
      confidence: round(confidence),
      agreement: round((responses.length - dissenting.length) / responses.length),
      dissenting,
      thresholdMet: confidence >= context.threshold,
      details,
    };
  }

  calculateConfidence(responses: readonly GenerateResponse[]): number {
    if (responses.length === 0) return 0;
    return round(Math.max(...confidenceScores(responses).scores));
  }
}

/** Provider confidences when all responses have one, else the engine's estimate for all. */
export function confidenceScores(responses: readonly GenerateResponse[]): { scores: number[]; source: ConfidenceDetails['source'] } {
  if (responses.every((r) => r.confidence !== null)) {
    return { scores: responses.map((r) => r.confidence!), source: 'provider' };
  }
  if (responses.length === 1) return { scores: [1], source: 'estimate' };
  const m = similarityMatrix(responses.map((r) => r.content));
  const n = responses.length;
  return { scores: m.map((row, i) => row.reduce((sum, s, j) => (i === j ? sum : sum + s), 0) / (n - 1)), source: 'estimate' };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
