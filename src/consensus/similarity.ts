/**
 * Similarity consensus, the default strategy. It compares what the responses answer, by one of
 * two rules chosen per decision:
 *
 * 1. **Extracted-answer vote** (`details.decidedBy: 'extracted-answer vote'`), when a strict
 *    majority of the responses carry a short final answer (`shortAnswer`: a number, a
 *    multiple-choice letter, a yes/no, code, JSON, or a short "Answer: X" line). Wording does not
 *    count: "the answer is 42" and "the answer is 44" are different answers however alike their
 *    sentences. Each response votes for its extracted answer (one vote each; a response without
 *    one backs no answer but is counted); ties between the most-voted answers go to the answer of
 *    the most confident provider, then to the first given (`VotingConsensus` defaults).
 *    - `confidence` = the chosen answer's vote share; `agreement` = the share of response pairs
 *      that give the same answer; `dissenting` = responses whose extracted answer differs (or
 *      that have none); `thresholdMet` = a strict majority of the responses give the chosen answer.
 * 2. **Embedding similarity** (`details.decidedBy: 'embedding similarity'`), for free text: every
 *    response embedded with all-MiniLM-L6-v2 (`embeddings.ts`), the cosine similarity matrix built,
 *    and the medoid chosen: the response with the highest mean similarity to the others (ties:
 *    the earlier response).
 *    - `agreement` = the mean pairwise cosine similarity of all responses (negatives count as 0).
 *    - `dissenting` = responses whose similarity to the chosen one is below `context.threshold`
 *      (`consensus.strategies.similarity.threshold`, else `consensus.similarity_threshold`).
 *    - `confidence` = similarity-weighted support: (1 + the similarities of the responses that
 *      agree with the chosen one) / number of responses. It is the share of responses backing the
 *      chosen answer when they say the same thing, and less when their agreement is borderline.
 *    - `thresholdMet` = a strict majority of the responses (the chosen one included) lie within
 *      the threshold of the chosen one.
 *
 * In both, `details.support` is the number of responses backing the chosen answer, which early
 * stop reads (`early-stop.ts`). Text is compared without a leading bracketed tag such as
 * `[emulator:model]`. A vote computes no embeddings, but the model is loaded all the same: a
 * missing model is an error naming `bash scripts/fetch-model.sh` for every decision, never a
 * silent fallback.
 */
import type { GenerateResponse } from '../types';
import { shortAnswer } from './agreement';
import { stripLeadingTags, type ExtractedAnswer } from './answer-extraction';
import { cosineMatrix, type EmbeddingModel } from './embeddings';
import type { ConsensusContext, ConsensusDecision, ConsensusStrategy, SimilarityMatrixDetails, SimilarityVoteDetails } from './strategy';
import { VotingConsensus } from './voting';

export type EmbeddingModelSource = EmbeddingModel | (() => Promise<EmbeddingModel>);

export interface SimilarityConsensusOptions {
  /** The model, or a loader called on first use (see `lazyEmbeddingModel`). */
  model: EmbeddingModelSource;
}

/** The text that is embedded for a response. */
export function comparableText(content: string): string {
  return stripLeadingTags(content).trim();
}

export class SimilarityConsensus implements ConsensusStrategy {
  readonly name = 'similarity';
  private readonly source: EmbeddingModelSource;

  constructor(options: SimilarityConsensusOptions) {
    this.source = options.model;
  }

  /** The embedding model, loaded on first use. */
  async model(): Promise<EmbeddingModel> {
    return typeof this.source === 'function' ? await this.source() : this.source;
  }

  /**
   * Embed responses ahead of consensus, e.g. each one as it arrives while others are still
   * running; `findConsensus` then finds their vectors in the cache.
   */
  async prepare(responses: readonly GenerateResponse[]): Promise<void> {
    if (responses.length === 0) return;
    const model = await this.model();
    await model.embed(responses.map((r) => comparableText(r.content)));
  }

  async findConsensus(responses: readonly GenerateResponse[], context: ConsensusContext): Promise<ConsensusDecision> {
    if (responses.length === 0) throw new Error('consensus needs at least one response');
    // Loaded (once) even when a vote decides: a missing model fails every decision alike, not only the first one about free text.
    const model = await this.model();
    const answers = shortAnswers(responses);
    if (answers !== null) return decideByShortAnswers(responses, answers);
    // On the latency path: the database write of a new vector need not hold up the answer.
    const vectors = await model.embed(
      responses.map((r) => comparableText(r.content)),
      { persist: 'background' },
    );
    return decideBySimilarity(cosineMatrix(vectors), context.threshold);
  }

  /** The vote share when the responses carry short answers, else their mean pairwise similarity. */
  async calculateConfidence(responses: readonly GenerateResponse[]): Promise<number> {
    if (responses.length < 2) return 1;
    const model = await this.model();
    const answers = shortAnswers(responses);
    if (answers !== null) return decideByShortAnswers(responses, answers).confidence;
    const vectors = await model.embed(responses.map((r) => comparableText(r.content)));
    return round(pairwiseMean(cosineMatrix(vectors)));
  }
}

/** Each response's short final answer, when a strict majority of the responses carry one; else null (free text). */
export function shortAnswers(responses: readonly GenerateResponse[]): (ExtractedAnswer | null)[] | null {
  const answers = responses.map((r) => shortAnswer(r.content));
  const carrying = answers.filter((a) => a !== null).length;
  return 2 * carrying > responses.length ? answers : null;
}

/** One vote per response, ties to the most confident provider's answer, then the first. */
const SHORT_ANSWER_VOTE = new VotingConsensus();

/** The decision by a vote over short final answers (rule 1 above). Pure; exported for tests. */
export function decideByShortAnswers(responses: readonly GenerateResponse[], answers: readonly (ExtractedAnswer | null)[]): ConsensusDecision {
  const n = responses.length;
  // The vote's own threshold is unused: thresholdMet here is a strict majority.
  const vote = SHORT_ANSWER_VOTE.decide(responses, answers, { taskType: '', prompt: '', threshold: 1 });
  const winner = vote.details.tally.find((g) => g.indexes.includes(vote.chosenIndex));
  const support = winner?.count ?? 0;
  let agreeing = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (answers[i] && answers[j] && answers[i]!.key === answers[j]!.key) agreeing++;
  const pairs = (n * (n - 1)) / 2;
  const details: SimilarityVoteDetails = {
    strategy: 'similarity',
    decidedBy: 'extracted-answer vote',
    answers: answers.map((a) => a?.key ?? null),
    tally: vote.details.tally,
    tieBreak: vote.details.tieBreak,
    support,
  };
  return {
    chosenIndex: vote.chosenIndex,
    confidence: round(support / n),
    agreement: round(pairs === 0 ? 1 : agreeing / pairs),
    dissenting: vote.dissenting,
    thresholdMet: 2 * support > n,
    details,
  };
}

/** The decision for a similarity matrix (symmetric, ones on the diagonal). Pure; exported for tests. */
export function decideBySimilarity(matrix: readonly (readonly number[])[], threshold: number): ConsensusDecision {
  const n = matrix.length;
  const closeness = matrix.map((row, i) => (n === 1 ? 1 : row.reduce((sum, s, j) => (i === j ? sum : sum + s), 0) / (n - 1)));
  let chosenIndex = 0;
  closeness.forEach((c, i) => {
    if (c > closeness[chosenIndex]! + 1e-12) chosenIndex = i;
  });
  const row = matrix[chosenIndex]!;
  const dissenting: number[] = [];
  let supportSum = 1;
  row.forEach((s, j) => {
    if (j === chosenIndex) return;
    if (s >= threshold) supportSum += s;
    else dissenting.push(j);
  });
  const support = n - dissenting.length;
  const details: SimilarityMatrixDetails = {
    strategy: 'similarity',
    decidedBy: 'embedding similarity',
    matrix: matrix.map((r) => r.map(round)),
    closeness: closeness.map(round),
    support,
  };
  return {
    chosenIndex,
    confidence: round(Math.min(1, supportSum / n)),
    agreement: round(pairwiseMean(matrix)),
    dissenting,
    thresholdMet: 2 * support > n,
    details,
  };
}

function pairwiseMean(m: readonly (readonly number[])[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < m.length; i++) {
    for (let j = i + 1; j < m.length; j++) {
      sum += Math.max(0, m[i]![j]!);
      pairs++;
    }
  }
  return pairs === 0 ? 1 : sum / pairs;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
