/**
 * A consensus strategy of "your own" (the example's subject): the answer most providers give,
 * compared after trimming, lower-casing and dropping a final full stop. Confidence is the share of
 * providers that gave it; the others dissent. It meets its own threshold with a strict majority.
 */
import type { ConsensusContext, ConsensusDecision, ConsensusStrategy } from '../../src/consensus/strategy';
import type { GenerateResponse } from '../../src/types';

const normalize = (text: string) => text.trim().toLowerCase().replace(/[.!]+$/, '');

export class MajorityAnswerStrategy implements ConsensusStrategy {
  readonly name = 'majority-answer';

  findConsensus(responses: readonly GenerateResponse[], _context: ConsensusContext): ConsensusDecision {
    const groups = new Map<string, number[]>();
    responses.forEach((r, i) => groups.set(normalize(r.content), [...(groups.get(normalize(r.content)) ?? []), i]));
    // The biggest group; on a tie, the one whose first answer came first.
    const [, chosen] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || a[1][0]! - b[1][0]!)[0]!;
    const share = chosen.length / responses.length;
    const pairs = (responses.length * (responses.length - 1)) / 2;
    const agreeingPairs = [...groups.values()].reduce((sum, g) => sum + (g.length * (g.length - 1)) / 2, 0);
    return {
      chosenIndex: chosen[0]!,
      confidence: share,
      agreement: pairs === 0 ? 1 : agreeingPairs / pairs,
      dissenting: responses.map((_, i) => i).filter((i) => !chosen.includes(i)),
      thresholdMet: share > 0.5,
    };
  }

  calculateConfidence(responses: readonly GenerateResponse[]): number {
    return responses.length === 0 ? 0 : this.findConsensus(responses, { taskType: '', prompt: '', threshold: 0 }).confidence;
  }
}
