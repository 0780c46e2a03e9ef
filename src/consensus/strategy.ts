/**
 * Consensus: the product description's `ConsensusStrategy`, behind a registry of named
 * strategies. A strategy picks one answer out of several and says how sure it is.
 */
import type { GenerateResponse } from '../types';

export interface ConsensusContext {
  taskType: string;
  prompt: string;
  /** Agreement needed to call the outcome a consensus, in [0,1]. */
  threshold: number;
  /**
   * Historical accuracy in [0,1] per provider, keyed `provider:model` or `provider` (the former
   * wins); used by weighted voting (`weights: accuracy`).
   */
  providerAccuracy?: Readonly<Record<string, number>>;
}

export interface ConsensusDecision {
  /** Index into the responses given. */
  chosenIndex: number;
  /** Confidence in the chosen answer, in [0,1]. */
  confidence: number;
  /** Mean pairwise agreement of all responses, in [0,1]. */
  agreement: number;
  /** Indexes of responses that disagree with the chosen one. */
  dissenting: number[];
  /**
   * Whether the strategy's own agreement rule holds for the chosen answer (each strategy says what
   * that means; `similarity`: a strict majority backs it). The worker's `selectConsensus` adds
   * `consensus.confidence_threshold` to it (`withConsensusCriteria`): there, true means both hold.
   */
  thresholdMet?: boolean;
  /** What the strategy saw: recorded with the decision and read by `canStopEarly`. */
  details?: ConsensusDetails;
  /** Set by `withConsensusCriteria`: the two rules `thresholdMet` stands for, one by one. */
  criteria?: ConsensusCriteria;
}

/** The rules behind a decision's `thresholdMet` (`withConsensusCriteria`, `src/consensus/criteria.ts`). */
export interface ConsensusCriteria {
  /** The strategy's own agreement rule (its `thresholdMet`; true when the strategy sets none). */
  agreement: boolean;
  /** `confidence >= consensus.confidence_threshold`. */
  confidence: boolean;
  /** `consensus.confidence_threshold` as applied. */
  confidenceThreshold: number;
}

/** Lexical: the word-overlap (Jaccard) matrix and the medoid's support. */
export interface LexicalDetails {
  strategy: 'lexical';
  /** Jaccard similarities of the word sets, rounded to 3 decimals; ones on the diagonal. */
  matrix: number[][];
  /** Mean similarity of each response to the others. */
  closeness: number[];
  /** Responses (the chosen one included) within the threshold of the chosen one. */
  support: number;
}

/** Similarity over free text: the cosine matrix of the responses' embeddings and the medoid's support. */
export interface SimilarityMatrixDetails {
  strategy: 'similarity';
  decidedBy: 'embedding similarity';
  /** Cosine similarities, rounded to 3 decimals; ones on the diagonal. */
  matrix: number[][];
  /** Mean similarity of each response to the others. */
  closeness: number[];
  /** Responses (the chosen one included) within the threshold of the chosen one. */
  support: number;
}

/** Similarity over short final answers (numbers, choices, yes/no, code): the vote over the extracted answers. */
export interface SimilarityVoteDetails {
  strategy: 'similarity';
  decidedBy: 'extracted-answer vote';
  /** Each response's short final answer (`shortAnswer`); null: none, so it backs no answer. */
  answers: (string | null)[];
  /** One vote per response, heaviest first. */
  tally: VoteGroup[];
  /** Set when the most-voted answers tied: the rule that decided and the keys that tied. */
  tieBreak: VotingDetails['tieBreak'];
  /** Responses (the chosen one included) that give the chosen answer. */
  support: number;
}

/**
 * Similarity: by embedding similarity for free text, by a vote over the extracted answers when
 * most responses carry a short final answer. (Decisions recorded before the vote existed carry
 * the matrix form without `decidedBy`.)
 */
export type SimilarityDetails = SimilarityMatrixDetails | SimilarityVoteDetails;

/** One distinct normalized answer and who voted for it. */
export interface VoteGroup {
  /** Normalized answer, e.g. `num:391`, `json:{"a":1}`, `code:return a+b;`, `text:paris`. */
  key: string;
  /** Short form for people. */
  display: string;
  /** Summed vote weight. */
  weight: number;
  count: number;
  indexes: number[];
}

/** Voting: the tally, heaviest first. */
export interface VotingDetails {
  strategy: 'voting';
  /** Normalized answer per response (null: nothing to vote with, e.g. an empty response). */
  answers: (string | null)[];
  /** Weight of each response's vote. */
  weights: number[];
  tally: VoteGroup[];
  /** Set when the heaviest answers tied: the rule that decided and the keys that tied. */
  tieBreak: { rule: 'prefer_order' | 'highest_confidence' | 'first'; between: string[] } | null;
}

/** Confidence: each response's score and where the scores came from. */
export interface ConfidenceDetails {
  strategy: 'confidence';
  scores: number[];
  /** `provider` when every response carried a provider confidence, else `estimate` for all. */
  source: 'provider' | 'estimate';
}

/** Judge: which candidate the judge model chose, its ranking and reasons. Indexes are 0-based (the judge saw them numbered from 1). */
export interface JudgeDetails {
  strategy: 'judge';
  judge: { provider: string; model: string };
  /** The judge's choice (= `chosenIndex`). */
  choice: number;
  /** Every response, best first, as the judge ranked them. */
  ranking: number[];
  reasons: string;
  /** Responses (the chosen one included) that give the chosen answer (`agreement.ts`). */
  support: number;
  /** The judge call's usage, for cost accounting. */
  usage: { tokensIn: number; tokensOut: number; latencyMs: number };
}

export type ConsensusDetails = LexicalDetails | SimilarityDetails | VotingDetails | ConfidenceDetails | JudgeDetails;

export interface ConsensusStrategy {
  readonly name: string;
  findConsensus(responses: readonly GenerateResponse[], context: ConsensusContext): ConsensusDecision | Promise<ConsensusDecision>;
  calculateConfidence(responses: readonly GenerateResponse[]): number | Promise<number>;
}

export class ConsensusRegistry {
  private readonly strategies = new Map<string, ConsensusStrategy>();

  registerStrategy(name: string, strategy: ConsensusStrategy): void {
    this.strategies.set(name, strategy);
  }

  get(name: string): ConsensusStrategy {
    const strategy = this.strategies.get(name);
    if (!strategy) {
      throw new Error(`unknown consensus strategy "${name}" (registered: ${[...this.strategies.keys()].join(', ')})`);
    }
    return strategy;
  }

  names(): string[] {
    return [...this.strategies.keys()];
  }
}
