/**
 * The database-backed embedding cache on SQLite and PostgreSQL (TEST_POSTGRES_URL, started by
 * `npm test`; or `bash scripts/postgres.sh start; export TEST_POSTGRES_URL=$(bash scripts/postgres.sh url)`).
 * Needs the embedding model (`bash scripts/fetch-model.sh`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPrismaEmbeddingCache,
  decodeVector,
  EMBEDDING_DIMENSIONS,
  EMBEDDING_MODEL_ID,
  EmbeddingModel,
  embeddingKey,
  encodeVector,
  type PrismaEmbeddingCache,
} from '../../src/consensus';
import { createPrismaClient, databaseProviderOf, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

function bytesOf(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function vectorOf(seed: number): Float32Array {
  return Float32Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => Math.sin(seed * 1000 + i) / 7);
}

describe('vector encoding', () => {
  it('is Float32 little-endian, bit for bit, whatever the value', () => {
    expect([...encodeVector(Float32Array.of(1, -2))]).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    const v = Float32Array.of(Math.PI, -0, 1e-40, 3.4e38, -1.1754942e-38, Number.MIN_VALUE);
    const back = decodeVector(encodeVector(v), v.length)!;
    expect(bytesOf(back).equals(bytesOf(v))).toBe(true);
    expect(Object.is(back[1], -0)).toBe(true);
  });

  it('refuses bytes that are not the expected number of floats', () => {
    expect(decodeVector(new Uint8Array(10), 3)).toBeNull();
    expect(decodeVector(new Uint8Array(12), 3)).toHaveLength(3);
  });
});

const databases: { name: string; open: () => Promise<ScratchDatabase> }[] = [
  { name: 'SQLite', open: () => Promise.resolve(scratchSqlite()) },
  { name: 'PostgreSQL', open: () => scratchPostgres('embcache') },
];

describe.each(databases)('PrismaEmbeddingCache on $name', ({ open }) => {
  let db: ScratchDatabase | undefined;
  // Two clients: two workers sharing one database.
  let clientA: DatabaseClient;
  let clientB: DatabaseClient;
  const cacheOn = (client: DatabaseClient, chunkSize?: number): PrismaEmbeddingCache =>
    createPrismaEmbeddingCache({ client, provider: databaseProviderOf(db!.url), ...(chunkSize !== undefined && { chunkSize }) });

  beforeAll(async () => {
    db = await open();
    await applyMigrations(db.url);
    clientA = createPrismaClient(db.url);
    clientB = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await clientA?.$disconnect();
    await clientB?.$disconnect();
    await db?.drop();
  });

  it('a second embedder with an empty memory cache gets the vectors from the database without running the model, bit for bit', async () => {
    const texts = ['The capital of France is Paris.', 'Paris is the capital of France.', 'Berlin is the capital of Germany.'];
    const first = await EmbeddingModel.load({ persistentCache: cacheOn(clientA) });
    const computed = await first.embedWithReport(texts);
    expect(computed.computed).toBe(3);
    expect(first.statistics()).toMatchObject({ computed: 3, persistentHits: 0, cacheErrors: 0 });

    const rows = await clientA.embeddingCache.findMany({ where: { hash: { in: texts.map(embeddingKey) } } });
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatchObject({ model: EMBEDDING_MODEL_ID, dims: EMBEDDING_DIMENSIONS });
    expect(rows.every((r) => r.vector.byteLength === EMBEDDING_DIMENSIONS * 4)).toBe(true);

    // Another worker: its own model instance (empty memory cache) and its own database client.
    const storeB = cacheOn(clientB);
    const second = await EmbeddingModel.load({ persistentCache: storeB });
    const served = await second.embedWithReport(texts);
    expect(served).toMatchObject({ cached: 3, computed: 0 });
    // The model never ran: no vector computed, no token through ONNX.
    expect(second.statistics()).toMatchObject({ computed: 0, tokens: 0, persistentHits: 3, cacheErrors: 0 });
    served.vectors.forEach((v, i) => expect(bytesOf(v).equals(bytesOf(computed.vectors[i]!)), texts[i]).toBe(true));
    expect(storeB.statistics()).toMatchObject({ lookups: 3, hits: 3, written: 0 });

    // Once read, they are in B's memory: no second database read.
    await second.embed(texts);
    expect(storeB.statistics().lookups).toBe(3);
  });

  it('reads and writes in batches of chunkSize', async () => {
    let finds = 0;
    let creates = 0;
    const counting = {
      embeddingCache: {
        findMany: (args: Parameters<DatabaseClient['embeddingCache']['findMany']>[0]) => {
          finds++;
          return clientA.embeddingCache.findMany(args);
        },
        createMany: (args: Parameters<DatabaseClient['embeddingCache']['createMany']>[0]) => {
          creates++;
          return clientA.embeddingCache.createMany(args);
        },
      },
    } as unknown as DatabaseClient;
    const cache = cacheOn(counting, 2);
    const entries = [1, 2, 3, 4, 5].map((i) => ({ hash: `batch-${i}`, vector: vectorOf(i) }));
    await cache.setMany(entries);
    expect(creates).toBe(3);
    const found = await cache.getMany([...entries.map((e) => e.hash), 'batch-missing']);
    expect(finds).toBe(3);
    expect([...found.keys()].sort()).toEqual(entries.map((e) => e.hash));
    expect(bytesOf(found.get('batch-3')!).equals(bytesOf(entries[2]!.vector))).toBe(true);
  });

  it('two workers writing the same hashes at once: no error, one row each, the first write stays', async () => {
    const hashes = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const early = cacheOn(clientA);
    // One worker stored a few already (its vectors: seed 1).
    await early.setMany(hashes.slice(0, 5).map((hash) => ({ hash, vector: vectorOf(1) })));

    const a = cacheOn(clientA, 10);
    const b = cacheOn(clientB, 10);
    await Promise.all([
      a.setMany(hashes.map((hash) => ({ hash, vector: vectorOf(2) }))),
      b.setMany(hashes.map((hash) => ({ hash, vector: vectorOf(3) }))),
      b.setMany(hashes.slice(10, 20).map((hash) => ({ hash, vector: vectorOf(3) }))),
    ]);
    expect(await clientA.embeddingCache.count({ where: { hash: { in: hashes } } })).toBe(40);
    const stored = await early.getMany(hashes);
    expect(stored.size).toBe(40);
    // Rows written before the race are left as they were.
    for (const hash of hashes.slice(0, 5)) expect(bytesOf(stored.get(hash)!).equals(bytesOf(vectorOf(1)))).toBe(true);
    // Every other row is one writer's vector, whole.
    for (const hash of hashes.slice(5)) {
      const bytes = bytesOf(stored.get(hash)!);
      expect(bytes.equals(bytesOf(vectorOf(2))) || bytes.equals(bytesOf(vectorOf(3)))).toBe(true);
    }
    const sa = a.statistics();
    const sb = b.statistics();
    expect(sa.written + sb.written).toBe(35);
    expect(sa.written + sb.written + sa.skipped + sb.skipped).toBe(40 + 40 + 10);
  });

  it('duplicates within one write are stored once', async () => {
    const cache = cacheOn(clientA);
    await cache.setMany([
      { hash: 'dup-1', vector: vectorOf(7) },
      { hash: 'dup-1', vector: vectorOf(7) },
    ]);
    expect(await clientA.embeddingCache.count({ where: { hash: 'dup-1' } })).toBe(1);
  });

  it('a row that is not a vector of this model is a miss, and is replaced by the next write', async () => {
    await clientA.embeddingCache.create({ data: { hash: 'bad-dims', model: EMBEDDING_MODEL_ID, dims: 3, vector: new Uint8Array(12) } });
    await clientA.embeddingCache.create({ data: { hash: 'bad-model', model: 'other-model', dims: EMBEDDING_DIMENSIONS, vector: encodeVector(vectorOf(1)) } });
    const cache = cacheOn(clientA);
    const found = await cache.getMany(['bad-dims', 'bad-model']);
    expect(found.size).toBe(0);
    expect(cache.statistics().discarded).toBe(2);
    await cache.setMany([{ hash: 'bad-dims', vector: vectorOf(4) }]);
    expect(bytesOf((await cache.getMany(['bad-dims'])).get('bad-dims')!).equals(bytesOf(vectorOf(4)))).toBe(true);
  });

  it('refuses to store a vector of the wrong size', async () => {
    await expect(cacheOn(clientA).setMany([{ hash: 'short', vector: new Float32Array(3) }])).rejects.toThrow(RangeError);
  });
});
