/**
 * The consensus activities, called as the worker calls them (plain async functions built by the
 * factory). Needs the embedding model (`bash scripts/fetch-model.sh`).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsensusActivities } from '../../activities/consensus';
import { createPrismaEmbeddingCache, EMBEDDING_DIMENSIONS, EmbeddingModel, embeddingModelFromConfig, lazyEmbeddingModel, SimilarityConsensus } from '../../src/consensus';
import { createPrismaClient, databaseProviderOf, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';
import { response } from './helpers';

const ctx = { taskType: 'qa', prompt: 'What is the capital of France?', threshold: 0.8 };

describe('embedResponses', () => {
  it('embeds in one batch and fills the memory cache the similarity strategy reads: only the last response is left to embed', async () => {
    const model = await EmbeddingModel.load();
    const { embedResponses } = createConsensusActivities({ embeddingModel: model });
    const answers = [
      response('openai', '[emulator:gpt-4o-mini] Paris is the capital of France.'),
      response('anthropic', '[emulator:claude-haiku-4-5] The capital of France is Paris.'),
      response('google', "[emulator:gemini-2.0-flash] France's capital city is Paris."),
    ];
    // Each response as it arrives, while the others are still running.
    expect(await embedResponses({ texts: [answers[0]!.content] })).toEqual({ cached: 0, computed: 1, dims: EMBEDDING_DIMENSIONS });
    expect(await embedResponses({ texts: [answers[1]!.content] })).toEqual({ cached: 0, computed: 1, dims: EMBEDDING_DIMENSIONS });
    expect(model.statistics().computed).toBe(2);

    const decision = await new SimilarityConsensus({ model }).findConsensus(answers, ctx);
    expect(model.statistics().computed).toBe(3);
    expect(decision.dissenting).toEqual([]);

    // The provider tag is stripped as the strategy strips it: the same text with another tag is a hit.
    expect(await embedResponses({ texts: ['[emulator:other] Paris is the capital of France.', 'Paris is the capital of France.'] })).toEqual({ cached: 1, computed: 0, dims: EMBEDDING_DIMENSIONS });
    expect(await embedResponses({ texts: [] })).toEqual({ cached: 0, computed: 0, dims: EMBEDDING_DIMENSIONS });
  });

  it('a missing model is a non-retryable EmbeddingModelMissing failure naming the setup command', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-model-'));
    const { embedResponses } = createConsensusActivities({ embeddingModel: lazyEmbeddingModel({ modelDir: empty }) });
    const err = await embedResponses({ texts: ['anything'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe('EmbeddingModelMissing');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('bash scripts/fetch-model.sh');
    expect(failure.message).toContain(join(empty, 'model.onnx'));
  });

  it('refuses input that is not a list of texts, without retries', async () => {
    const { embedResponses } = createConsensusActivities({ embeddingModel: lazyEmbeddingModel({ modelDir: mkdtempSync(join(tmpdir(), 'unused-')) }) });
    const err = await embedResponses({ texts: 'not a list' } as unknown as { texts: string[] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'InvalidEmbeddingInput', nonRetryable: true });
  });
});

describe('embedResponses with the database cache (SQLite)', () => {
  let db: ScratchDatabase;
  let client: DatabaseClient;

  beforeAll(async () => {
    db = scratchSqlite();
    await applyMigrations(db.url);
    client = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await client?.$disconnect();
    await db?.drop();
  });

  it('what one worker embedded, a restarted worker reads from the database instead of computing', async () => {
    const texts = ['Rome is the capital of Italy.', "Italy's capital is Rome."];
    const cache = () => createPrismaEmbeddingCache({ client, provider: databaseProviderOf(db.url) });
    const first = createConsensusActivities({ embeddingModel: embeddingModelFromConfig(undefined, { persistentCache: cache() }) });
    expect(await first.embedResponses({ texts })).toMatchObject({ cached: 0, computed: 2 });
    expect(await client.embeddingCache.count()).toBe(2);

    const loader = embeddingModelFromConfig(undefined, { persistentCache: cache() });
    const restarted = createConsensusActivities({ embeddingModel: loader });
    expect(await restarted.embedResponses({ texts })).toMatchObject({ cached: 2, computed: 0 });
    expect((await loader()).statistics()).toMatchObject({ computed: 0, tokens: 0, persistentHits: 2 });
  });
});
