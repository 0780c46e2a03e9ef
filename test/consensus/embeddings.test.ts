/**
 * The embedding path against the reference implementation. The expected values in
 * fixtures/minilm-reference.json come from sentence-transformers with the original PyTorch
 * weights (scripts/reference-similarities.py says how). Needs the model: `bash scripts/fetch-model.sh`
 * (`npm test` runs it); without it these tests fail with that message.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cosine,
  defaultConsensusRegistry,
  EMBEDDING_DIMENSIONS,
  type EmbeddingCache,
  EmbeddingModel,
  EmbeddingModelLoadError,
  EmbeddingModelNotFoundError,
  embeddingKey,
  lazyEmbeddingModel,
  MAX_SEQUENCE_TOKENS,
  SimilarityConsensus,
} from '../../src/consensus';
import reference from './fixtures/minilm-reference.json';
import { response } from './helpers';

let model: EmbeddingModel;

beforeAll(async () => {
  model = await EmbeddingModel.load();
});

describe('EmbeddingModel against sentence-transformers (reference values)', () => {
  it('records where the reference values came from', () => {
    expect(reference.generated_by.packages['sentence-transformers']).toMatch(/^\d/);
    expect(reference.generated_by.max_seq_length).toBe(MAX_SEQUENCE_TOKENS);
    expect(reference.pairs.length).toBeGreaterThanOrEqual(8);
  });

  it.each(reference.pairs)('cosine similarity within 0.01 of the reference: $label', async ({ a, b, cosine: expected }) => {
    const [va, vb] = await model.embed([a, b]);
    expect(Math.abs(cosine(va!, vb!) - expected)).toBeLessThan(0.01);
  });

  it('tokenizes exactly as the reference tokenizer, truncation at 256 included', () => {
    for (const { text, input_ids } of reference.texts) expect(model.tokenize(text), text).toEqual(input_ids);
    expect(Math.max(...reference.texts.map((t) => t.input_ids.length))).toBe(MAX_SEQUENCE_TOKENS);
  });

  it('gives the reference vectors (first components within 1e-3), L2-normalised', async () => {
    const vectors = await model.embed(reference.texts.map((t) => t.text));
    vectors.forEach((v, i) => {
      expect(v).toHaveLength(EMBEDDING_DIMENSIONS);
      expect(cosine(v, v)).toBeCloseTo(1, 5);
      reference.texts[i]!.embedding_head.forEach((x, d) => expect(Math.abs(v[d]! - x)).toBeLessThan(1e-3));
    });
  });

  it('batching does not change a vector: alone or among longer texts', async () => {
    const fresh = await EmbeddingModel.load({ cacheSize: 0, batchSize: 4 });
    const text = 'A short sentence among long ones.';
    const long = reference.texts.map((t) => t.text);
    const [alone] = await fresh.embed([text]);
    const together = await fresh.embed([...long, text]);
    expect(cosine(alone!, together[together.length - 1]!)).toBeCloseTo(1, 5);
  });

  it('tokenizing a very long text by its prefix gives the same ids as the whole text', () => {
    const words = Array.from({ length: 4000 }, (_, i) => `word${i % 97}`).join(' ');
    const ids = model.tokenize(words);
    expect(ids).toHaveLength(MAX_SEQUENCE_TOKENS);
    expect(ids).toEqual(model.tokenize(words.slice(0, 3000)));
  });
});

describe('EmbeddingModel caches', () => {
  it('computes each distinct text once: duplicates, repeats and concurrent calls share one vector', async () => {
    const m = await EmbeddingModel.load();
    const before = m.statistics().computed;
    const [a, b] = await Promise.all([m.embed(['alpha text', 'beta text', 'alpha text']), m.embed(['alpha text'])]);
    await m.embed(['beta text']);
    expect(m.statistics().computed - before).toBe(2);
    expect(a[0]).toBe(a[2]);
    expect(b[0]).toBe(a[0]);
  });

  it('evicts the least recently used entry beyond cacheSize', async () => {
    const m = await EmbeddingModel.load({ cacheSize: 2 });
    await m.embed(['one']);
    await m.embed(['two']);
    await m.embed(['one']); // one is now the most recent
    await m.embed(['three']); // evicts two
    const computed = m.statistics().computed;
    await m.embed(['one', 'three']);
    expect(m.statistics().computed).toBe(computed);
    await m.embed(['two']);
    expect(m.statistics().computed).toBe(computed + 1);
  });

  it('consults and fills a persistent cache by content hash, one batched read and one batched write', async () => {
    const store = new Map<string, Float32Array>();
    const calls: string[] = [];
    const cache: EmbeddingCache = {
      getMany(hashes) {
        calls.push(`get ${hashes.join(',')}`);
        return Promise.resolve(new Map(hashes.flatMap((h) => (store.has(h) ? [[h, store.get(h)!] as const] : []))));
      },
      setMany(entries) {
        calls.push(`set ${entries.map((e) => e.hash).join(',')}`);
        for (const e of entries) store.set(e.hash, e.vector);
        return Promise.resolve();
      },
    };
    const [k1, k2] = [embeddingKey('persisted sentence'), embeddingKey('another one')];
    const first = await EmbeddingModel.load({ persistentCache: cache });
    const [v] = await first.embed(['persisted sentence']);
    expect(calls).toEqual([`get ${k1}`, `set ${k1}`]);
    await first.embed(['persisted sentence', 'another one']); // the first is in memory: only the second goes to the cache
    expect(calls.slice(2)).toEqual([`get ${k2}`, `set ${k2}`]);

    // A new process (a new model instance) finds both in the persistent cache, in one read, and computes nothing.
    const second = await EmbeddingModel.load({ persistentCache: cache });
    const report = await second.embedWithReport(['persisted sentence', 'another one', 'persisted sentence']);
    expect(calls.slice(4)).toEqual([`get ${k1},${k2}`]);
    expect(second.statistics()).toMatchObject({ computed: 0, persistentHits: 2 });
    expect(report).toMatchObject({ cached: 2, computed: 0 });
    expect(report.vectors[0]).toEqual(v);
  });

  it('persist: background answers before the database write; wait (the default) after it; flushWrites waits', async () => {
    const stored = new Map<string, Float32Array>();
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const slow: EmbeddingCache = {
      getMany: () => Promise.resolve(new Map()),
      setMany: async (entries) => {
        await gate;
        for (const e of entries) stored.set(e.hash, e.vector);
      },
    };
    const m = await EmbeddingModel.load({ persistentCache: slow });
    // The similarity strategy embeds on the latency path in the background.
    const decision = await new SimilarityConsensus({ model: m }).findConsensus([response('a', 'Background one.'), response('b', 'Background two.')], { taskType: 'qa', prompt: 'q', threshold: 0.8 });
    expect(decision.chosenIndex).toBeGreaterThanOrEqual(0);
    expect(stored.size).toBe(0);
    let waited = false;
    const waiting = m.embed(['Waited for.']).then(() => (waited = true));
    let flushed = false;
    const flushing = m.flushWrites().then(() => (flushed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect([waited, flushed]).toEqual([false, false]);
    release();
    await Promise.all([waiting, flushing]);
    expect(stored.size).toBe(3);
  });

  it('embedWithReport counts distinct texts: computed here, or served from a cache', async () => {
    const m = await EmbeddingModel.load();
    expect(await m.embedWithReport(['report one', 'report two', 'report one'])).toMatchObject({ cached: 0, computed: 2 });
    expect(await m.embedWithReport(['report two', 'report three'])).toMatchObject({ cached: 1, computed: 1 });
  });

  it('a failing persistent cache costs speed, not the answer', async () => {
    const broken: EmbeddingCache = {
      getMany: () => Promise.reject(new Error('database down')),
      setMany: () => Promise.reject(new Error('database down')),
    };
    const m = await EmbeddingModel.load({ persistentCache: broken });
    const [v] = await m.embed(['still embedded']);
    expect(v).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(m.statistics()).toMatchObject({ computed: 1, cacheErrors: 2 });
  });

  it('keys differ by text and are stable', () => {
    expect(embeddingKey('a')).toBe(embeddingKey('a'));
    expect(embeddingKey('a')).not.toBe(embeddingKey('b'));
    expect(embeddingKey('a')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('a missing or broken model', () => {
  const empty = mkdtempSync(join(tmpdir(), 'no-model-'));

  it('fails loading with a message naming the setup command', async () => {
    const err = await EmbeddingModel.load({ modelDir: empty }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddingModelNotFoundError);
    expect((err as Error).message).toContain('bash scripts/fetch-model.sh');
    expect((err as Error).message).toContain(join(empty, 'model.onnx'));
    expect((err as Error).message).toContain('consensus.strategies.similarity.model_path');
  });

  it('makes the similarity strategy fail clearly (no fallback), while other strategies work', async () => {
    const registry = defaultConsensusRegistry({ consensus: { strategies: { similarity: { model_path: empty }, voting: { threshold: 0.6, weights: 'none', tie_break: 'first', prefer_order: [] } } } });
    const responses = [response('a', 'The answer is 4.'), response('b', 'The answer is 4.')];
    const ctx = { taskType: 'qa', prompt: '2 + 2', threshold: 0.8 };
    await expect(Promise.resolve(registry.get('similarity').findConsensus(responses, ctx))).rejects.toThrow(/bash scripts\/fetch-model\.sh/);
    expect((await registry.get('voting').findConsensus(responses, ctx)).agreement).toBe(1);
  });

  it('a corrupt model file is a load error naming the setup command', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-model-'));
    writeFileSync(join(dir, 'model.onnx'), 'not an onnx file');
    copyFileSync(join(model.modelDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const badModel = await EmbeddingModel.load({ modelDir: dir }).catch((e: unknown) => e);
    expect(badModel).toBeInstanceOf(EmbeddingModelLoadError);
    expect((badModel as Error).message).toMatch(/cannot load .*model\.onnx.*bash scripts\/fetch-model\.sh/);

    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(reference)); // valid JSON, not a tokenizer
    const badTokenizer = await EmbeddingModel.load({ modelDir: dir }).catch((e: unknown) => e);
    expect(badTokenizer).toBeInstanceOf(EmbeddingModelLoadError);
    expect((badTokenizer as Error).message).toMatch(/cannot read .*tokenizer\.json.*bash scripts\/fetch-model\.sh/);
  });

  it('the lazy loader does not keep a failure: once the files exist, the next call loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'later-model-'));
    const load = lazyEmbeddingModel({ modelDir: dir });
    await expect(load()).rejects.toBeInstanceOf(EmbeddingModelNotFoundError);
    copyFileSync(join(model.modelDir, 'model.onnx'), join(dir, 'model.onnx'));
    copyFileSync(join(model.modelDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const loaded = await load();
    expect(await load()).toBe(loaded);
  });
});
