/**
 * Similarity consensus: every response embedded with all-MiniLM-L6-v2 (`embeddings.ts`), the
 * cosine similarity matrix built, and the medoid chosen: the response with the highest mean
 * similarity to the others (ties: the earlier response).
 *
 * - `agreement` = the mean pairwise cosine similarity of all responses (negatives count as 0).
 * - `dissenting` = responses whose similarity to the chosen one is below `context.threshold`
 *   (`consensus.strategies.similarity.threshold`, else `consensus.similarity_threshold`).
 * - `confidence` = similarity-weighted support: (1 + the similarities of the responses that agree
 *   with the chosen one) / number of responses. It is the share of responses backing the chosen
 *   answer when they say the same thing, and less when their agreement is borderline.
 * - `thresholdMet` = a strict majority of the responses (the chosen one included) lie within the
 *   threshold of the chosen one.
 *
 * Text is compared without a leading bracketed tag such as `[emulator:model]`. Embedding
 * similarity captures topic and phrasing, not exact values: "the answer is 391" and "the answer
 * is 401" are close. For short factual or numeric answers `voting` is the better strategy.
 *
 * A missing model is an error naming `bash scripts/fetch-model.sh`, never a silent fallback.
 */
import type { GenerateResponse } from '../types';
import { stripLeadingTags } from './answer-extraction';
import { cosineMatrix, type EmbeddingModel } from './embeddings';
import type { ConsensusContext, ConsensusDecision, ConsensusStrategy, SimilarityDetails } from './strategy';

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
    const model = await this.model();
    // On the latency path: the database write of a new vector need not hold up the answer.
    const vectors = await model.embed(
      responses.map((r) => comparableText(r.content)),
      { persist: 'background' },
    );
    return decideBySimilarity(cosineMatrix(vectors), context.threshold);
  }

  async calculateConfidence(responses: readonly GenerateResponse[]): Promise<number> {
    if (responses.length < 2) return 1;
    const model = await this.model();
    const vectors = await model.embed(responses.map((r) => comparableText(r.content)));
    return round(pairwiseMean(cosineMatrix(vectors)));
  }
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
  const details: SimilarityDetails = {
    strategy: 'similarity',
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
