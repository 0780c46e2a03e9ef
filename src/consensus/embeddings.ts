/**
 * Sentence embeddings with all-MiniLM-L6-v2, as sentence-transformers computes them: WordPiece
 * tokens (truncated at 256, the model's `max_seq_length`), the ONNX transformer run by
 * `onnxruntime-node` on CPU, mean pooling over the attention mask, L2 normalisation. Cosine
 * similarity of two embeddings is then their dot product.
 *
 * The model files (`model.onnx`, `tokenizer.json`) are not in git: `bash scripts/fetch-model.sh`
 * fetches and verifies them into `.cache/models/all-minilm-l6-v2/` (the default folder), or
 * `consensus.strategies.similarity.model_path` points at another folder. A missing model is an
 * `EmbeddingModelNotFoundError` naming that command; nothing falls back silently.
 *
 * Vectors are cached by content hash (`embeddingKey`). A lookup goes: in-memory LRU, then the
 * persistent `EmbeddingCache` when one is given (`embedding-store.ts` keeps it in the database),
 * in one batched read for all misses, then the model, in batches, for what is still missing;
 * computed vectors go back to both caches (one batched write).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Tokenizer } from '@huggingface/tokenizers';
import type * as Ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PROJECT_ROOT } from '../project-root';

export const EMBEDDING_MODEL_ID = 'all-minilm-l6-v2';
export const EMBEDDING_DIMENSIONS = 384;
/** sentence-transformers' `max_seq_length` for this model, special tokens included. */
export const MAX_SEQUENCE_TOKENS = 256;
/** Where `scripts/fetch-model.sh` puts the model by default. */
export const DEFAULT_MODEL_DIR = resolve(PROJECT_ROOT, '.cache', 'models', EMBEDDING_MODEL_ID);
export const FETCH_MODEL_COMMAND = 'bash scripts/fetch-model.sh';

/** A persistent cache of embeddings by content hash (see `embeddingKey`), read and written in batches. */
export interface EmbeddingCache {
  /** The vectors stored for these hashes; a hash without a (usable) vector is absent from the map. */
  getMany(hashes: readonly string[]): Promise<Map<string, Float32Array>>;
  /** Store vectors; a hash already stored (e.g. by another worker) is left as it is. */
  setMany(entries: readonly EmbeddingCacheEntry[]): Promise<void>;
}

export interface EmbeddingCacheEntry {
  hash: string;
  vector: Float32Array;
}

export interface EmbedOptions {
  /**
   * When computed vectors are written to the persistent cache: `wait` (default) returns after the
   * write; `background` returns as soon as the vectors exist (they are in memory already), for
   * callers on the latency path, e.g. consensus after the last response. `flushWrites` waits for
   * background writes.
   */
  persist?: 'wait' | 'background';
}

/** What one `embedWithReport` call did, counted over its distinct texts. */
export interface EmbedReport {
  /** One vector per text, in order (as `embed` returns them). */
  vectors: Float32Array[];
  /** Distinct texts served without running the model: memory, the persistent cache, or a computation already running. */
  cached: number;
  /** Distinct texts this call ran through the model. */
  computed: number;
}

export interface EmbeddingModelOptions {
  /** Folder holding `model.onnx` and `tokenizer.json` (default `DEFAULT_MODEL_DIR`). */
  modelDir?: string;
  /** Texts per ONNX run (default 32). */
  batchSize?: number;
  /** Entries in the in-memory LRU cache (default 2048; 0 disables it). */
  cacheSize?: number;
  /** Consulted (one batched read) after the in-memory cache; computed vectors are written back (one batched write). */
  persistentCache?: EmbeddingCache;
  /** ONNX Runtime intra-op threads (default: its own, one per physical core). */
  threads?: number;
}

/** The model files are not where they were expected. */
export class EmbeddingModelNotFoundError extends Error {
  override readonly name = 'EmbeddingModelNotFoundError';
  constructor(
    readonly modelDir: string,
    readonly missing: string[],
  ) {
    super(
      `embedding model ${EMBEDDING_MODEL_ID} not found: ${missing.map((f) => resolve(modelDir, f)).join(' and ')} missing. ` +
        `Run \`${FETCH_MODEL_COMMAND}\` to fetch it, or set consensus.strategies.similarity.model_path ` +
        'to a folder holding model.onnx and tokenizer.json.',
    );
  }
}

/** The model files exist but could not be loaded (truncated download, wrong file). */
export class EmbeddingModelLoadError extends Error {
  override readonly name = 'EmbeddingModelLoadError';
}

/**
 * The cache key of a text: SHA-256 over the model id, the truncation length and the text, so a
 * persistent cache shared by several models or settings never mixes their vectors.
 */
export function embeddingKey(text: string): string {
  return createHash('sha256').update(`${EMBEDDING_MODEL_ID}\u0000${MAX_SEQUENCE_TOKENS}\u0000${text}`).digest('hex');
}

/** Cosine similarity of two L2-normalised vectors (their dot product). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

/** Symmetric cosine matrix of L2-normalised vectors, ones on the diagonal. */
export function cosineMatrix(vectors: readonly Float32Array[]): number[][] {
  const m = vectors.map(() => new Array<number>(vectors.length).fill(1));
  for (let i = 0; i < vectors.length; i++) {
    for (let j = i + 1; j < vectors.length; j++) {
      const s = cosine(vectors[i]!, vectors[j]!);
      m[i]![j] = s;
      m[j]![i] = s;
    }
  }
  return m;
}

/** Beyond this many characters, tokenize a prefix first: most of a long text is cut anyway. */
const PREFIX_CHARS = 8192;

export class EmbeddingModel {
  readonly modelDir: string;
  private readonly lru = new Map<string, Float32Array>();
  private readonly pending = new Map<string, Promise<Float32Array>>();
  private readonly writes = new Set<Promise<void>>();
  private readonly batchSize: number;
  private readonly cacheSize: number;
  private readonly persistentCache: EmbeddingCache | undefined;
  /** ONNX runs one after the other: two at once only fight over the same cores. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stats = { computed: 0, memoryHits: 0, persistentHits: 0, cacheErrors: 0, tokens: 0 };

  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: InferenceSession,
    private readonly tokenizer: Tokenizer,
    private readonly sepId: number,
    modelDir: string,
    options: EmbeddingModelOptions,
  ) {
    this.modelDir = modelDir;
    this.batchSize = Math.max(1, options.batchSize ?? 32);
    this.cacheSize = Math.max(0, options.cacheSize ?? 2048);
    this.persistentCache = options.persistentCache;
  }

  /** Load the model; `EmbeddingModelNotFoundError` when its files are missing. */
  static async load(options: EmbeddingModelOptions = {}): Promise<EmbeddingModel> {
    const modelDir = resolve(options.modelDir ?? DEFAULT_MODEL_DIR);
    const modelPath = resolve(modelDir, 'model.onnx');
    const tokenizerPath = resolve(modelDir, 'tokenizer.json');
    const missing = [modelPath, tokenizerPath].filter((p) => !existsSync(p)).map((p) => (p === modelPath ? 'model.onnx' : 'tokenizer.json'));
    if (missing.length > 0) throw new EmbeddingModelNotFoundError(modelDir, missing);

    // Loaded on first use, so workers that never embed do not load the native runtime.
    const [ort, { Tokenizer: TokenizerClass }] = await Promise.all([import('onnxruntime-node'), import('@huggingface/tokenizers')]);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new TokenizerClass(JSON.parse(readFileSync(tokenizerPath, 'utf8')) as object, {});
    } catch (err) {
      throw new EmbeddingModelLoadError(`cannot read ${tokenizerPath} (${(err as Error).message}); run \`${FETCH_MODEL_COMMAND}\` again`, { cause: err });
    }
    const sepId = tokenizer.token_to_id('[SEP]');
    if (sepId === undefined) throw new EmbeddingModelLoadError(`${tokenizerPath} has no [SEP] token: not a BERT WordPiece tokenizer`);
    let session: InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, {
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        ...(options.threads !== undefined && { intraOpNumThreads: options.threads }),
      });
    } catch (err) {
      throw new EmbeddingModelLoadError(`cannot load ${modelPath} (${(err as Error).message}); run \`${FETCH_MODEL_COMMAND}\` again`, { cause: err });
    }
    for (const input of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(input)) throw new EmbeddingModelLoadError(`${modelPath} has no "${input}" input (inputs: ${session.inputNames.join(', ')})`);
    }
    return new EmbeddingModel(ort, session, tokenizer, sepId, modelDir, options);
  }

  /**
   * Token ids as the model sees them: [CLS] ... [SEP], at most `MAX_SEQUENCE_TOKENS` (longer
   * texts lose their end, as in sentence-transformers).
   */
  tokenize(text: string): number[] {
    let ids: number[] | undefined;
    const cut = text.length > PREFIX_CHARS ? text.lastIndexOf(' ', PREFIX_CHARS) : -1;
    if (cut > 0) {
      // The pre-tokenizer splits at whitespace, so a prefix cut at a space yields a prefix of the
      // token sequence; use it when it is already long enough.
      const prefix = this.tokenizer.encode(text.slice(0, cut)).ids;
      if (prefix.length > MAX_SEQUENCE_TOKENS + 1) ids = prefix;
    }
    ids ??= this.tokenizer.encode(text).ids;
    if (ids.length <= MAX_SEQUENCE_TOKENS) return ids;
    return [...ids.slice(0, MAX_SEQUENCE_TOKENS - 1), this.sepId];
  }

  /** Number of tokens the model sees for a text (special tokens included). */
  countTokens(text: string): number {
    return this.tokenize(text).length;
  }

  /** One L2-normalised 384-dimensional vector per text, in order. */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return (await this.embedWithReport(texts, options)).vectors;
  }

  /** `embed`, also saying how many distinct texts came from a cache and how many were computed. */
  async embedWithReport(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbedReport> {
    const keys = texts.map(embeddingKey);
    const found = new Map<string, Float32Array>();
    const waits: Promise<void>[] = [];
    const toCompute = new Map<string, string>();
    for (const [i, key] of keys.entries()) {
      if (found.has(key) || toCompute.has(key)) continue;
      const cached = this.fromMemory(key);
      if (cached) {
        found.set(key, cached);
        this.stats.memoryHits++;
        continue;
      }
      const inFlight = this.pending.get(key);
      if (inFlight) {
        waits.push(inFlight.then((v) => void found.set(key, v)));
        continue;
      }
      toCompute.set(key, texts[i]!);
    }

    let computedHere = 0;
    if (toCompute.size > 0) {
      const computed = this.computeMissing(toCompute, options.persist ?? 'wait');
      for (const key of toCompute.keys()) {
        const p = computed.then((r) => r.vectors.get(key)!);
        this.pending.set(key, p);
        // Failures reach the caller through `computed`; the pending entry only has to go.
        void p.then(
          () => this.pending.delete(key),
          () => this.pending.delete(key),
        );
      }
      const result = await computed;
      for (const [key, vector] of result.vectors) found.set(key, vector);
      computedHere = result.computed;
    }
    await Promise.all(waits);
    return { vectors: keys.map((key) => found.get(key)!), cached: found.size - computedHere, computed: computedHere };
  }

  /** Counters since load: vectors computed, cache hits, persistent-cache errors, tokens run through the model. */
  statistics(): Readonly<{ computed: number; memoryHits: number; persistentHits: number; cacheErrors: number; tokens: number }> {
    return { ...this.stats };
  }

  /** Persistent cache, then the model, for texts missing from memory; fills both caches. */
  /** Waits for the persistent-cache writes started with `persist: 'background'` (tests, shutdown). */
  async flushWrites(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  private async computeMissing(texts: Map<string, string>, persist: 'wait' | 'background'): Promise<{ vectors: Map<string, Float32Array>; computed: number }> {
    const out = new Map<string, Float32Array>();
    const cache = this.persistentCache;
    if (cache) {
      // A failing persistent cache costs speed, never the answer: its errors count as misses.
      let stored = new Map<string, Float32Array>();
      try {
        stored = await cache.getMany([...texts.keys()]);
      } catch {
        this.stats.cacheErrors++;
      }
      for (const key of texts.keys()) {
        const vector = stored.get(key);
        if (vector && vector.length === EMBEDDING_DIMENSIONS) {
          out.set(key, vector);
          this.remember(key, vector);
          this.stats.persistentHits++;
        }
      }
    }
    const remaining = [...texts].filter(([key]) => !out.has(key));
    if (remaining.length === 0) return { vectors: out, computed: 0 };

    // Similar lengths in one batch waste less on padding.
    const items = remaining.map(([key, text]) => ({ key, ids: this.tokenize(text) })).sort((a, b) => a.ids.length - b.ids.length);
    for (let start = 0; start < items.length; start += this.batchSize) {
      const batch = items.slice(start, start + this.batchSize);
      const vectors = await this.exclusive(() => this.run(batch.map((b) => b.ids)));
      batch.forEach((item, i) => {
        const vector = vectors[i]!;
        out.set(item.key, vector);
        this.remember(item.key, vector);
      });
    }
    if (cache) {
      const write = cache.setMany(items.map((item) => ({ hash: item.key, vector: out.get(item.key)! }))).catch(() => {
        this.stats.cacheErrors++;
      });
      if (persist === 'wait') {
        await write;
      } else {
        this.writes.add(write);
        void write.finally(() => this.writes.delete(write));
      }
    }
    return { vectors: out, computed: items.length };
  }

  /** One ONNX run over a padded batch, then mean pooling and normalisation. */
  private async run(batch: number[][]): Promise<Float32Array[]> {
    const { Tensor: TensorClass } = this.ort;
    const rows = batch.length;
    const width = Math.max(...batch.map((ids) => ids.length));
    const inputIds = new BigInt64Array(rows * width);
    const mask = new BigInt64Array(rows * width);
    batch.forEach((ids, r) => {
      ids.forEach((id, t) => {
        inputIds[r * width + t] = BigInt(id);
        mask[r * width + t] = 1n;
      });
      this.stats.tokens += ids.length;
    });
    const feeds: Record<string, Tensor> = {
      input_ids: new TensorClass('int64', inputIds, [rows, width]),
      attention_mask: new TensorClass('int64', mask, [rows, width]),
    };
    if (this.session.inputNames.includes('token_type_ids')) {
      feeds['token_type_ids'] = new TensorClass('int64', new BigInt64Array(rows * width), [rows, width]);
    }
    const outputName = this.session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : this.session.outputNames[0]!;
    const result = await this.session.run(feeds, [outputName]);
    const hidden = result[outputName];
    if (!hidden || hidden.type !== 'float32' || hidden.dims.length !== 3 || hidden.dims[2] !== EMBEDDING_DIMENSIONS) {
      throw new EmbeddingModelLoadError(`unexpected model output ${outputName}: ${hidden?.type} [${hidden?.dims.join(', ')}]`);
    }
    const data = hidden.data as Float32Array;
    this.stats.computed += rows;
    return batch.map((ids, r) => {
      const vector = new Float32Array(EMBEDDING_DIMENSIONS);
      // Mean over the real tokens (mask 1); padding positions are never read.
      for (let t = 0; t < ids.length; t++) {
        const offset = (r * width + t) * EMBEDDING_DIMENSIONS;
        for (let d = 0; d < EMBEDDING_DIMENSIONS; d++) vector[d]! += data[offset + d]!;
      }
      let norm = 0;
      for (let d = 0; d < EMBEDDING_DIMENSIONS; d++) {
        vector[d]! /= ids.length;
        norm += vector[d]! * vector[d]!;
      }
      const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
      for (let d = 0; d < EMBEDDING_DIMENSIONS; d++) vector[d]! *= scale;
      return vector;
    });
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private fromMemory(key: string): Float32Array | undefined {
    const vector = this.lru.get(key);
    if (vector) {
      // Most recently used goes last.
      this.lru.delete(key);
      this.lru.set(key, vector);
    }
    return vector;
  }

  private remember(key: string, vector: Float32Array): void {
    if (this.cacheSize === 0) return;
    this.lru.delete(key);
    this.lru.set(key, vector);
    while (this.lru.size > this.cacheSize) {
      const oldest = this.lru.keys().next();
      if (oldest.done) break;
      this.lru.delete(oldest.value);
    }
  }
}

/**
 * A loader that loads the model once, on first use, and shares it. A failed load is not kept:
 * after `scripts/fetch-model.sh` has run, the next call loads the model without a restart.
 */
export function lazyEmbeddingModel(options: EmbeddingModelOptions = {}): () => Promise<EmbeddingModel> {
  let loading: Promise<EmbeddingModel> | null = null;
  return () => {
    loading ??= EmbeddingModel.load(options).catch((err: unknown) => {
      loading = null;
      throw err;
    });
    return loading;
  };
}
