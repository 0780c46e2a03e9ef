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
}

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
