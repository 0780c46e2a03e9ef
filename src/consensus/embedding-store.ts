/**
 * The persistent `EmbeddingCache` in the database (table `EmbeddingCache`, SQLite or PostgreSQL):
 * one row per content hash (`embeddingKey`: SHA-256 over the model id and the text), the vector
 * as Float32 little-endian bytes, whatever the machine's byte order.
 *
 * - Reads are batched: one `findMany where hash in (...)` per `chunkSize` hashes. A row that is
 *   not a vector of this model (wrong model id, dimensions or byte length) is a miss, and is
 *   deleted so the recomputed vector can take its place.
 * - Writes are batched and safe when several workers write the same hash: the first row stays.
 *   PostgreSQL: `createMany({ skipDuplicates: true })` (INSERT ... ON CONFLICT DO NOTHING).
 *   SQLite has no `skipDuplicates` in Prisma, so the chunk is one `createMany`; when another
 *   writer got there first (unique violation, nothing written), the chunk is written row by row
 *   and rows already present are skipped.
 */
import type { DatabaseClient } from '../memory/client';
import type { DatabaseProvider } from '../memory/database-url';
import { EMBEDDING_DIMENSIONS, EMBEDDING_MODEL_ID, type EmbeddingCache, type EmbeddingCacheEntry } from './embeddings';

export interface PrismaEmbeddingCacheOptions {
  /** From `createPrismaClient(DATABASE_URL)`; the cache never disconnects it. */
  client: DatabaseClient;
  /** The client's database (`databaseProviderOf(DATABASE_URL)`): decides how duplicates are skipped. */
  provider: DatabaseProvider;
  /** Hashes per read and rows per write (default 500). */
  chunkSize?: number;
}

export interface EmbeddingStoreStatistics {
  /** Hashes asked for, and how many were found. */
  lookups: number;
  hits: number;
  /** Rows this cache inserted; rows skipped because they were already there. */
  written: number;
  skipped: number;
  /** Rows found unusable (another model, wrong size) and deleted. */
  discarded: number;
}

/** Float32 little-endian bytes of a vector. */
export function encodeVector(vector: Float32Array): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i]!, true);
  return bytes;
}

/** The vector in Float32 little-endian bytes; null when the length is not `dims` floats. */
export function decodeVector(bytes: Uint8Array, dims: number): Float32Array | null {
  if (bytes.byteLength !== dims * 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vector = new Float32Array(dims);
  for (let i = 0; i < dims; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}

export class PrismaEmbeddingCache implements EmbeddingCache {
  private readonly client: DatabaseClient;
  private readonly provider: DatabaseProvider;
  private readonly chunkSize: number;
  private readonly stats: EmbeddingStoreStatistics = { lookups: 0, hits: 0, written: 0, skipped: 0, discarded: 0 };

  constructor(options: PrismaEmbeddingCacheOptions) {
    this.client = options.client;
    this.provider = options.provider;
    this.chunkSize = Math.max(1, options.chunkSize ?? 500);
  }

  async getMany(hashes: readonly string[]): Promise<Map<string, Float32Array>> {
    const wanted = [...new Set(hashes)];
    const found = new Map<string, Float32Array>();
    const unusable: string[] = [];
    for (const chunk of chunks(wanted, this.chunkSize)) {
      const rows = await this.client.embeddingCache.findMany({ where: { hash: { in: chunk } }, select: { hash: true, model: true, dims: true, vector: true } });
      for (const row of rows) {
        const vector = row.model === EMBEDDING_MODEL_ID && row.dims === EMBEDDING_DIMENSIONS ? decodeVector(row.vector, EMBEDDING_DIMENSIONS) : null;
        if (vector) found.set(row.hash, vector);
        else unusable.push(row.hash);
      }
    }
    if (unusable.length > 0) {
      // The key covers the model id, so only a damaged or hand-written row lands here.
      const { count } = await this.client.embeddingCache.deleteMany({ where: { hash: { in: unusable } } });
      this.stats.discarded += count;
    }
    this.stats.lookups += wanted.length;
    this.stats.hits += found.size;
    return found;
  }

  async setMany(entries: readonly EmbeddingCacheEntry[]): Promise<void> {
    const rows = new Map<string, { hash: string; model: string; dims: number; vector: Uint8Array<ArrayBuffer> }>();
    for (const { hash, vector } of entries) {
      if (vector.length !== EMBEDDING_DIMENSIONS) throw new RangeError(`embedding for ${hash} has ${vector.length} dimensions, expected ${EMBEDDING_DIMENSIONS}`);
      rows.set(hash, { hash, model: EMBEDDING_MODEL_ID, dims: EMBEDDING_DIMENSIONS, vector: encodeVector(vector) });
    }
    for (const chunk of chunks([...rows.values()], this.chunkSize)) {
      if (this.provider === 'postgresql') {
        // The PostgreSQL client has skipDuplicates; the shared client type is SQLite's, which lacks it.
        const table = this.client.embeddingCache as unknown as { createMany(args: { data: typeof chunk; skipDuplicates: boolean }): Promise<{ count: number }> };
        const { count } = await table.createMany({ data: chunk, skipDuplicates: true });
        this.stats.written += count;
        this.stats.skipped += chunk.length - count;
        continue;
      }
      try {
        const { count } = await this.client.embeddingCache.createMany({ data: chunk });
        this.stats.written += count;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        // Another writer stored some of these first; the statement wrote nothing. Row by row, skipping theirs.
        for (const row of chunk) {
          try {
            await this.client.embeddingCache.create({ data: row, select: { hash: true } });
            this.stats.written++;
          } catch (rowErr) {
            if (!isUniqueViolation(rowErr)) throw rowErr;
            this.stats.skipped++;
          }
        }
      }
    }
  }

  /** Counters since construction. */
  statistics(): Readonly<EmbeddingStoreStatistics> {
    return { ...this.stats };
  }
}

export function createPrismaEmbeddingCache(options: PrismaEmbeddingCacheOptions): PrismaEmbeddingCache {
  return new PrismaEmbeddingCache(options);
}

function isUniqueViolation(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'P2002';
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
