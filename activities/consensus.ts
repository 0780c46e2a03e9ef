/**
 * Activities of the consensus engine. `embedResponses` embeds response texts in one batch and
 * fills the embedding caches (memory, then the database), so the similarity strategy finds them
 * there: the request workflow calls it, as a local activity, on each response as it arrives, and
 * only the last response is left to embed when consensus runs.
 *
 * A missing model is a non-retryable `EmbeddingModelMissing` failure whose message names the setup
 * command (`bash scripts/fetch-model.sh`); a model that cannot be loaded is
 * `EmbeddingModelUnreadable`. Built by a factory from its dependencies; the integrator merges it
 * into createActivities.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { z } from 'zod';
import { EmbeddingModelLoadError, EmbeddingModelNotFoundError, EMBEDDING_DIMENSIONS } from '../src/consensus/embeddings';
import { comparableText, type EmbeddingModelSource } from '../src/consensus/similarity';
import type { Logger } from '../src/logger';

export interface ConsensusActivityDependencies {
  /**
   * The embedding model, or its loader: the same one the registry's similarity strategy uses
   * (`embeddingModelFromConfig`), so both share one in-memory cache and the database cache behind it.
   */
  embeddingModel: EmbeddingModelSource;
  logger?: Pick<Logger, 'debug' | 'warn'>;
}

/** Response contents as the providers returned them (leading tags are stripped as the similarity strategy does). */
export const EmbedResponsesInputSchema = z.object({ texts: z.array(z.string()).max(64) }).strict();
export type EmbedResponsesInput = z.infer<typeof EmbedResponsesInputSchema>;

export interface EmbedResponsesResult {
  /** Distinct texts found in a cache (memory or database) or being embedded by another call. */
  cached: number;
  /** Distinct texts run through the model by this call. */
  computed: number;
  /** Vector dimensions (384). */
  dims: number;
}

export function createConsensusActivities(deps: ConsensusActivityDependencies) {
  const source = deps.embeddingModel;

  return {
    /** Embed response texts in one batch and fill the caches; the vectors stay on the worker. */
    async embedResponses(input: EmbedResponsesInput): Promise<EmbedResponsesResult> {
      const parsed = EmbedResponsesInputSchema.safeParse(input);
      if (!parsed.success) {
        throw ApplicationFailure.nonRetryable(`embedResponses input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, 'InvalidEmbeddingInput');
      }
      const { texts } = parsed.data;
      if (texts.length === 0) return { cached: 0, computed: 0, dims: EMBEDDING_DIMENSIONS };
      try {
        const model = typeof source === 'function' ? await source() : source;
        const report = await model.embedWithReport(texts.map(comparableText));
        deps.logger?.debug({ texts: texts.length, cached: report.cached, computed: report.computed }, 'responses embedded');
        return { cached: report.cached, computed: report.computed, dims: EMBEDDING_DIMENSIONS };
      } catch (err) {
        if (err instanceof EmbeddingModelNotFoundError) {
          deps.logger?.warn({ modelDir: err.modelDir, missing: err.missing }, 'embedding model missing');
          throw ApplicationFailure.create({ message: err.message, type: 'EmbeddingModelMissing', nonRetryable: true, details: [{ modelDir: err.modelDir, missing: err.missing }] });
        }
        if (err instanceof EmbeddingModelLoadError) {
          throw ApplicationFailure.nonRetryable(err.message, 'EmbeddingModelUnreadable');
        }
        throw err;
      }
    },
  };
}

export type ConsensusActivities = ReturnType<typeof createConsensusActivities>;
