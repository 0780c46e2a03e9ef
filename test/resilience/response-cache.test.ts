import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPrismaCacheStore,
  createRedisCacheStore,
  createResponseCacheStore,
  normalizePrompt,
  responseCacheKey,
  ResponseCacheUnavailable,
  type ResponseCacheKeyInput,
  type ResponseCacheStore,
} from '../../src/resilience/response-cache';
import { DATABASES, openTestDatabase, requiredRedisUrl, type TestDatabase } from './databases';

const T0 = new Date('2026-11-25T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const BASE: ResponseCacheKeyInput = {
  prompt: 'What is 17 * 23?',
  systemPrompt: 'Be brief.',
  temperature: 0.7,
  maxTokens: 512,
  taskType: 'question_answering',
  route: ['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5'],
  consensusStrategy: 'lexical',
};

const ANSWER = { response: '391', confidence: 0.93, providersUsed: ['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5'], nested: { ok: true, n: null, list: [1, 'two'] } };

describe('response cache key', () => {
  it('is a SHA-256 hex digest', () => {
    expect(responseCacheKey(BASE)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores surrounding whitespace, whitespace runs and route order', () => {
    expect(normalizePrompt('  What   is\n\t17 * 23?  ')).toBe('What is 17 * 23?');
    const key = responseCacheKey(BASE);
    expect(responseCacheKey({ ...BASE, prompt: '\n  What is   17 *\t23?  ' })).toBe(key);
    expect(responseCacheKey({ ...BASE, route: ['anthropic:claude-haiku-4-5', 'openai:gpt-4o-mini'] })).toBe(key);
  });

  it('changes with every setting that decides the answer', () => {
    const key = responseCacheKey(BASE);
    const variants: ResponseCacheKeyInput[] = [
      { ...BASE, prompt: 'What is 17 * 24?' },
      { ...BASE, prompt: 'what is 17 * 23?' },
      { ...BASE, systemPrompt: 'Be verbose.' },
      { ...BASE, systemPrompt: null },
      { ...BASE, temperature: 0 },
      { ...BASE, temperature: undefined },
      { ...BASE, maxTokens: 256 },
      { ...BASE, taskType: 'code_generation' },
      { ...BASE, route: ['openai:gpt-4o-mini'] },
      { ...BASE, route: ['openai:gpt-4o', 'anthropic:claude-haiku-4-5'] },
      { ...BASE, consensusStrategy: 'voting' },
    ];
    const keys = variants.map(responseCacheKey);
    expect(keys).not.toContain(key);
    expect(new Set(keys).size).toBe(variants.length);
  });

  it('fields cannot bleed into each other (no plain concatenation)', () => {
    expect(responseCacheKey({ ...BASE, prompt: 'a', systemPrompt: 'bc' })).not.toBe(responseCacheKey({ ...BASE, prompt: 'ab', systemPrompt: 'c' }));
  });
});

describe.each(DATABASES)('response cache in the database ($name)', ({ open }) => {
  let t: TestDatabase;
  let store: ResponseCacheStore;

  beforeAll(async () => {
    t = await openTestDatabase(open, 'cache');
    store = createResponseCacheStore({ database: t.database });
  });
  afterAll(async () => {
    await store?.close();
    await t?.close();
  });

  it('is the default store', () => {
    expect(store.kind).toBe('database');
  });

  it('round-trips a JSON value until it expires, counting hits', async () => {
    const key = responseCacheKey({ ...BASE, prompt: 'roundtrip' });
    expect(await store.get(key, T0)).toBeNull();
    await store.set(key, ANSWER, 60_000, T0);
    expect(await store.get(key, at(1_000))).toEqual({ value: ANSWER, expiresAt: at(60_000) });
    expect(await store.get(key, at(59_999))).toEqual({ value: ANSWER, expiresAt: at(60_000) });
    expect((await t.database.client.responseCache.findUniqueOrThrow({ where: { key } })).hits).toBe(2);
    // Expired: a miss, and the row is gone.
    expect(await store.get(key, at(60_000))).toBeNull();
    expect(await t.database.client.responseCache.count({ where: { key } })).toBe(0);
  });

  it('set replaces an entry (value, expiry, hits)', async () => {
    const key = responseCacheKey({ ...BASE, prompt: 'replace' });
    await store.set(key, { response: 'old' }, 1_000, T0);
    await store.get(key, at(1));
    await store.set(key, { response: 'new' }, 120_000, at(500));
    expect(await store.get(key, at(5_000))).toEqual({ value: { response: 'new' }, expiresAt: at(120_500) });
    expect((await t.database.client.responseCache.findUniqueOrThrow({ where: { key } })).hits).toBe(1);
  });

  it('concurrent sets of one key from several workers leave one entry', async () => {
    const key = responseCacheKey({ ...BASE, prompt: 'concurrent' });
    const stores = Array.from({ length: 6 }, () => createPrismaCacheStore(t.another()));
    await Promise.all(stores.map((s, i) => s.set(key, { response: `answer ${i}` }, 60_000, T0)));
    expect(await t.database.client.responseCache.count({ where: { key } })).toBe(1);
    expect((await store.get(key, at(1)))?.value).toMatchObject({ response: expect.stringMatching(/^answer \d$/) as unknown });
  });

  it('deleteExpired removes only expired entries', async () => {
    const keep = responseCacheKey({ ...BASE, prompt: 'keep' });
    const drop = responseCacheKey({ ...BASE, prompt: 'drop' });
    await store.set(keep, 'kept', 10 * 60_000, T0);
    await store.set(drop, 'dropped', 1_000, T0);
    expect(await store.deleteExpired(at(2_000))).toBeGreaterThanOrEqual(1);
    expect(await t.database.client.responseCache.count({ where: { key: drop } })).toBe(0);
    expect((await store.get(keep, at(2_000)))?.value).toBe('kept');
  });

  it('rejects a null value and a non-positive TTL', async () => {
    await expect(store.set('k-null', null, 1_000, T0)).rejects.toThrow(TypeError);
    await expect(store.set('k-ttl', 'v', 0, T0)).rejects.toThrow(RangeError);
  });
});

describe('response cache in Redis (TEST_REDIS_URL)', () => {
  const prefix = `test:${process.pid}:${Date.now().toString(36)}:`;
  let shared: ResponseCacheStore | undefined;
  /** Made on first use, so that without TEST_REDIS_URL every test here fails with the reason. */
  const store = () => (shared ??= createRedisCacheStore({ url: requiredRedisUrl(), keyPrefix: prefix }));

  afterAll(async () => {
    await shared?.close();
  });

  it('is chosen when a Redis URL is given', async () => {
    const chosen = createResponseCacheStore({ database: { client: undefined as never, url: 'file:/tmp/unused.db' }, redisUrl: requiredRedisUrl() });
    expect(chosen.kind).toBe('redis');
    await chosen.close();
  });

  it('round-trips a JSON value with its expiry', async () => {
    const key = responseCacheKey({ ...BASE, prompt: 'redis roundtrip' });
    expect(await store().get(key)).toBeNull();
    const before = Date.now();
    await store().set(key, ANSWER, 60_000);
    const entry = await store().get(key);
    expect(entry?.value).toEqual(ANSWER);
    expect(entry!.expiresAt.getTime()).toBeGreaterThan(before + 55_000);
    expect(entry!.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
  });

  it('entries expire by Redis TTL', async () => {
    const key = responseCacheKey({ ...BASE, prompt: 'redis expiry' });
    await store().set(key, { response: 'short-lived' }, 150);
    expect((await store().get(key))?.value).toEqual({ response: 'short-lived' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await store().get(key)).toBeNull();
  });

  it('set replaces an entry', async () => {
    const key = responseCacheKey({ ...BASE, prompt: 'redis replace' });
    await store().set(key, 'old', 60_000);
    await store().set(key, 'new', 60_000);
    expect((await store().get(key))?.value).toBe('new');
  });

  it('a value this store did not write is a miss', async () => {
    const raw = createClient({ url: requiredRedisUrl() });
    await raw.connect();
    try {
      await raw.set(`${prefix}not-json`, 'plain text', { expiration: { type: 'PX', value: 60_000 } });
      await raw.set(`${prefix}other-shape`, JSON.stringify({ something: 'else' }), { expiration: { type: 'PX', value: 60_000 } });
      expect(await store().get('not-json')).toBeNull();
      expect(await store().get('other-shape')).toBeNull();
      // The next set takes the key over.
      await store().set('not-json', 'mine now', 60_000);
      expect((await store().get('not-json'))?.value).toBe('mine now');
    } finally {
      await raw.close();
    }
  });

  it('an unreachable Redis fails fast with ResponseCacheUnavailable, password redacted', async () => {
    const down = createRedisCacheStore({ url: 'redis://user:s3cret-pw@127.0.0.1:1', connectTimeoutMs: 300 });
    const started = Date.now();
    const error = await down.get('anything').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseCacheUnavailable);
    expect((error as Error).message).toContain('redis://user:***@127.0.0.1:1');
    expect((error as Error).message).not.toContain('s3cret-pw');
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(down.set('anything', 'v', 1_000)).rejects.toBeInstanceOf(ResponseCacheUnavailable);
    await down.close();
  });
});
