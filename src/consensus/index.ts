export * from './strategy';
export * from './lexical';
export * from './answer-extraction';
export * from './agreement';
export * from './embeddings';
export * from './embedding-store';
export * from './similarity';
export * from './voting';
export * from './confidence';
export * from './judge';
export * from './early-stop';
export * from './criteria';
import { resolve } from 'node:path';
import type { Config } from '../config/schema';
import { ConfigError } from '../errors';
import type { ModelConnector } from '../providers/types';
import { ConfidenceConsensus } from './confidence';
import { type EmbeddingCache, type EmbeddingModel, lazyEmbeddingModel } from './embeddings';
import { JudgeConsensus } from './judge';
import { LexicalConsensus } from './lexical';
import { type EmbeddingModelSource, SimilarityConsensus } from './similarity';
import { ConsensusRegistry } from './strategy';
import { VotingConsensus } from './voting';

export interface ConsensusRegistryOptions {
  /**
   * `config.consensus`: `strategies.similarity.model_path` (relative paths resolve from the
   * working directory), `strategies.voting` (weights, tie-break) and `strategies.judge` (the
   * judge model; the strategy is registered only when it is set).
   */
  consensus?: Pick<Config['consensus'], 'strategies'>;
  /**
   * The embedding model or its loader, instead of loading one from `model_path`: share one with
   * the `embedResponses` activity (`embeddingModelFromConfig`) so both use one in-memory cache.
   */
  embeddingModel?: EmbeddingModelSource;
  /** A persistent embedding cache (e.g. `createPrismaEmbeddingCache`) behind the in-memory one; ignored with `embeddingModel`. */
  embeddingCache?: EmbeddingCache;
  /** The worker's connectors by provider name: the judge's provider must be among them when `strategies.judge` is set. */
  connectors?: ReadonlyMap<string, ModelConnector>;
}

/**
 * The embedding model configured by `consensus.strategies.similarity.model_path` (default
 * `.cache/models/all-minilm-l6-v2`), loaded on first use, with a persistent cache behind its
 * in-memory one when given.
 */
export function embeddingModelFromConfig(consensus: Pick<Config['consensus'], 'strategies'> | undefined, options: { persistentCache?: EmbeddingCache } = {}): () => Promise<EmbeddingModel> {
  const modelPath = consensus?.strategies.similarity?.model_path;
  return lazyEmbeddingModel({
    ...(modelPath !== undefined && { modelDir: resolve(modelPath) }),
    ...(options.persistentCache !== undefined && { persistentCache: options.persistentCache }),
  });
}

/**
 * A registry holding the built-in strategies: `lexical`, `similarity` (its model loads on first
 * use; a missing model fails that use with a message naming `bash scripts/fetch-model.sh`),
 * `voting`, `confidence`, and `judge` when `consensus.strategies.judge` is set (a `ConfigError`
 * when its provider has no connector or does not offer its model).
 */
export function defaultConsensusRegistry(options: ConsensusRegistryOptions = {}): ConsensusRegistry {
  const strategies = options.consensus?.strategies;
  const model = options.embeddingModel ?? embeddingModelFromConfig(options.consensus, options.embeddingCache ? { persistentCache: options.embeddingCache } : {});
  const registry = new ConsensusRegistry();
  registry.registerStrategy('lexical', new LexicalConsensus());
  registry.registerStrategy('similarity', new SimilarityConsensus({ model }));
  registry.registerStrategy('voting', VotingConsensus.fromSettings(strategies?.voting));
  registry.registerStrategy('confidence', new ConfidenceConsensus());
  const judge = strategies?.judge;
  if (judge) {
    const connector = options.connectors?.get(judge.provider);
    if (!connector) {
      const known = options.connectors ? [...options.connectors.keys()].join(', ') || 'none' : 'none given';
      throw new ConfigError(`consensus.strategies.judge.provider: no connector for provider "${judge.provider}" on this worker (connectors: ${known})`, [
        { path: 'consensus.strategies.judge.provider', message: `no connector for provider "${judge.provider}"` },
      ]);
    }
    if (!connector.getSupportedModels().includes(judge.model)) {
      throw new ConfigError(`consensus.strategies.judge.model: provider "${judge.provider}" does not offer model "${judge.model}" (configured: ${connector.getSupportedModels().join(', ')})`, [
        { path: 'consensus.strategies.judge.model', message: `unknown model "${judge.model}" for provider "${judge.provider}"` },
      ]);
    }
    registry.registerStrategy('judge', JudgeConsensus.fromSettings(judge, connector));
  }
  return registry;
}
