/** Similarity consensus on the real model (`bash scripts/fetch-model.sh`; `npm test` runs it). */
import { beforeAll, describe, expect, it } from 'vitest';
import { decideBySimilarity, defaultConsensusRegistry, EmbeddingModel, SimilarityConsensus, type SimilarityDetails } from '../../src/consensus';
import { response } from './helpers';

const ctx = { taskType: 'qa', prompt: 'What is the capital of France?', threshold: 0.8 };
let model: EmbeddingModel;
let strategy: SimilarityConsensus;

beforeAll(async () => {
  model = await EmbeddingModel.load();
  strategy = new SimilarityConsensus({ model });
});

describe('SimilarityConsensus (all-MiniLM-L6-v2)', () => {
  it('paraphrases agree', async () => {
    const d = await strategy.findConsensus(
      [response('a', 'Paris is the capital of France.'), response('b', 'The capital of France is Paris.'), response('c', "France's capital city is Paris.")],
      ctx,
    );
    expect(d.dissenting).toEqual([]);
    expect(d.agreement).toBeGreaterThan(0.95);
    expect(d.confidence).toBeGreaterThan(0.95);
    expect(d.thresholdMet).toBe(true);
  });

  it('an outlier is rejected: the medoid comes from the agreeing group', async () => {
    const d = await strategy.findConsensus(
      [
        response('a', 'Paris is the capital of France.'),
        response('b', 'Berlin is the capital of Germany.'),
        response('c', 'The capital of France is Paris.'),
        response('d', "France's capital city is Paris."),
      ],
      ctx,
    );
    expect([0, 2, 3]).toContain(d.chosenIndex);
    expect(d.dissenting).toEqual([1]);
    const details = d.details as SimilarityDetails;
    expect(details.support).toBe(3);
    if (details.decidedBy !== 'embedding similarity') throw new Error(`free text decided by ${details.decidedBy}`);
    expect(details.matrix[0]![1]).toBeLessThan(0.5);
    // Similarity-weighted support: below the 3/4 vote share only by the pairs' shortfall from 1.
    expect(d.confidence).toBeGreaterThan(0.7);
    expect(d.confidence).toBeLessThan(0.75);
    expect(d.thresholdMet).toBe(true);
  });

  it('emulator answers: a different number is an outlier; the bracketed model tag is ignored', async () => {
    const d = await strategy.findConsensus(
      [
        response('openai', '[emulator:gpt-4o-mini] Here is what I find: the answer is 401.'),
        response('anthropic', '[emulator:claude-haiku-4-5] Short answer: the answer is 391.'),
        response('google', '[emulator:gemini-2.5-flash] In brief, the answer is 391.'),
      ],
      { ...ctx, prompt: 'What is 17 * 23?' },
    );
    expect([1, 2]).toContain(d.chosenIndex);
    expect(d.dissenting).toEqual([0]);
    const same = await strategy.findConsensus([response('a', '[emulator:x] Paris.'), response('b', '[emulator:a-much-longer-model-name] Paris.')], ctx);
    expect(same.agreement).toBeCloseTo(1, 3);
  });

  it('responses embedded while waiting (prepare) are not embedded again', async () => {
    const fresh = await EmbeddingModel.load();
    const s = new SimilarityConsensus({ model: fresh });
    const first = [response('a', 'Rome is the capital of Italy.'), response('b', "Italy's capital is Rome.")];
    await s.prepare([first[0]!]);
    await s.prepare([first[1]!]);
    expect(fresh.statistics().computed).toBe(2);
    await s.findConsensus([...first, response('c', 'The capital of Italy is Rome.')], ctx);
    expect(fresh.statistics().computed).toBe(3);
  });

  it('calculateConfidence is the mean pairwise similarity', async () => {
    expect(await strategy.calculateConfidence([response('a', 'Paris.'), response('b', 'Paris.')])).toBeCloseTo(1, 3);
    expect(await strategy.calculateConfidence([response('a', 'x')])).toBe(1);
  });

  it('is registered as "similarity" and uses the model it is given', async () => {
    const registry = defaultConsensusRegistry({ embeddingModel: model });
    expect(registry.names()).toEqual(expect.arrayContaining(['lexical', 'similarity', 'voting', 'confidence']));
    const d = await registry.get('similarity').findConsensus([response('a', 'Paris is the capital of France.'), response('b', 'The capital of France is Paris.')], ctx);
    expect(d.dissenting).toEqual([]);
  });
});

describe('decideBySimilarity (the rule, on fixed matrices)', () => {
  it('medoid = highest mean similarity to the others; dissenters below the threshold', () => {
    const m = [
      [1, 0.9, 0.85, 0.2],
      [0.9, 1, 0.8, 0.3],
      [0.85, 0.8, 1, 0.1],
      [0.2, 0.3, 0.1, 1],
    ];
    const d = decideBySimilarity(m, 0.8);
    expect(d.chosenIndex).toBe(1); // (0.9 + 0.8 + 0.3) / 3 = 0.667 beats row 0's 0.65
    expect(d.dissenting).toEqual([3]);
    expect(d.confidence).toBeCloseTo((1 + 0.9 + 0.8) / 4, 3);
    expect(d.agreement).toBeCloseTo((0.9 + 0.85 + 0.2 + 0.8 + 0.3 + 0.1) / 6, 3);
    expect(d.thresholdMet).toBe(true);
  });

  it('no majority within the threshold: thresholdMet false; ties go to the earlier response; negatives count as 0 in agreement', () => {
    const d = decideBySimilarity(
      [
        [1, 0.5, -0.2],
        [0.5, 1, -0.2],
        [-0.2, -0.2, 1],
      ],
      0.8,
    );
    expect(d.chosenIndex).toBe(0);
    expect(d.dissenting).toEqual([1, 2]);
    expect(d.thresholdMet).toBe(false);
    expect(d.confidence).toBeCloseTo(1 / 3, 3);
    expect(d.agreement).toBeCloseTo(0.5 / 3, 3);
  });

  it('one response: chosen, full confidence', () => {
    expect(decideBySimilarity([[1]], 0.8)).toMatchObject({ chosenIndex: 0, confidence: 1, agreement: 1, dissenting: [], thresholdMet: true });
  });
});
