/**
 * Exact-match response cache. The key is a SHA-256 over everything that decides the answer:
 * the normalized prompt (trimmed, whitespace runs collapsed), the system prompt, temperature,
 * max tokens, task type, the route (sorted `provider:model` list) and the consensus strategy.
 *
 * Two stores behind one interface: the database (`ResponseCache` table, the default) and Redis
 * (when `REDIS_URL` is set), where entries expire by Redis's own TTL.
 *
 * Every entry records its owner, the request workflow whose answer it is, so that erasing a user
 * (src/retention/erasure.ts) deletes the entries of that user's requests: a column in the
 * database; in Redis the entry's JSON (`o`) and an index key `<prefix>owner:<workflow id>` with
 * the entry's TTL.
 */
import { createHash } from 'node:crypto';
import type * as Redis from 'redis';
import { z } from 'zod';
import { requestTurns } from '../conversation';
import type { ChatMessage } from '../types';
import { redactDatabaseUrl } from '../memory/database-url';
import { guarded, isUniqueViolation, type ResilienceDatabase } from './db';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export const JsonValueSchema: z.ZodType<JsonValue> = z.json();

export interface ResponseCacheKeyInput {
  /** The question; for a conversation, its last user turn (the key reads `messages` then). */
  prompt: string;
  /**
   * A conversation: the whole of it goes into the key (every turn, in order, with its role; system
   * turns with the system prompt), so two histories ending with the same question never share an
   * answer. A conversation of one user turn is keyed as that prompt.
   */
  messages?: readonly ChatMessage[] | null | undefined;
  systemPrompt?: string | null | undefined;
  temperature?: number | null | undefined;
  maxTokens?: number | null | undefined;
  taskType: string;
  /** `provider:model` of every target the request fans out to (order does not matter). */
  route: readonly string[];
  consensusStrategy: string;
}

/** Trim and collapse every whitespace run to one space. */
export function normalizePrompt(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

/** Bumped whenever what goes into the key changes, so old entries are never read with a new meaning. */
const KEY_VERSION = 'v1';

export function responseCacheKey(input: ResponseCacheKeyInput): string {
  const conversation = input.messages ? requestTurns({ messages: input.messages, ...(typeof input.systemPrompt === 'string' && { systemPrompt: input.systemPrompt }) }) : null;
  const last = conversation?.turns[conversation.turns.length - 1];
  const system = conversation ? conversation.system : (input.systemPrompt ?? null);
  const parts: unknown[] = [
    KEY_VERSION,
    normalizePrompt(last?.content ?? input.prompt),
    system === null ? null : normalizePrompt(system),
    input.temperature ?? null,
    input.maxTokens ?? null,
    input.taskType,
    [...new Set(input.route)].sort(),
    input.consensusStrategy,
  ];
  // Earlier turns only when there are some: a prompt request's key is the same as before conversations.
  if (conversation && conversation.turns.length > 1) parts.push(['history', conversation.turns.slice(0, -1).map((t) => [t.role, normalizePrompt(t.content)])]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export interface CacheEntry {
  value: JsonValue;
  expiresAt: Date;
}

export interface ResponseCacheStore {
  readonly kind: 'database' | 'redis';
  /** The live entry, or null when there is none or it has expired. */
  get(key: string, now?: Date): Promise<CacheEntry | null>;
  /** Store (or replace) an entry for `ttlMs` milliseconds; `ownerWorkflowId`: the request workflow whose answer it is. */
  set(key: string, value: JsonValue, ttlMs: number, now?: Date, ownerWorkflowId?: string | null): Promise<void>;
  /** Delete expired entries; returns how many (Redis expires its own: 0). */
  deleteExpired(now?: Date): Promise<number>;
  /** Delete the entries these request workflows own (a user's erasure); returns how many. */
  deleteOwnedBy(workflowIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

/** Workflow ids per statement or round trip when deleting by owner. */
const OWNER_CHUNK = 200;

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs < 1) throw new RangeError('ttlMs must be a positive number of milliseconds');
}

/** The database store. Reads of an expired entry miss (and delete it); hits are counted. */
export function createPrismaCacheStore(database: ResilienceDatabase): ResponseCacheStore {
  const { db, guard } = guarded(database);

  async function upsert(key: string, value: JsonValue, expiresAt: Date, now: Date, ownerWorkflowId: string | null): Promise<void> {
    const json = value as NonNullable<JsonValue>;
    await db.responseCache.upsert({
      where: { key },
      create: { key, value: json, expiresAt, createdAt: now, ownerWorkflowId },
      update: { value: json, expiresAt, createdAt: now, hits: 0, ownerWorkflowId },
    });
  }

  return {
    kind: 'database',

    get: (key, now = new Date()) =>
      guard('read the response cache', async () => {
        const row = await db.responseCache.findUnique({ where: { key } });
        if (!row) return null;
        if (row.expiresAt.getTime() <= now.getTime()) {
          await db.responseCache.deleteMany({ where: { key, expiresAt: { lte: now } } });
          return null;
        }
        await db.responseCache.updateMany({ where: { key }, data: { hits: { increment: 1 } } });
        return { value: JsonValueSchema.parse(row.value), expiresAt: row.expiresAt };
      }),

    set: (key, value, ttlMs, now = new Date(), ownerWorkflowId = null) =>
      guard('write the response cache', async () => {
        checkTtl(ttlMs);
        // null cannot be stored in a JSON column without Prisma's special marker; a null answer is not worth caching.
        if (value === null) throw new TypeError('a cached value must not be null');
        const stored = JsonValueSchema.parse(value);
        const expiresAt = new Date(now.getTime() + ttlMs);
        try {
          await upsert(key, stored, expiresAt, now, ownerWorkflowId);
        } catch (error) {
          // Two writers created the same key at once: the second now updates it.
          if (!isUniqueViolation(error)) throw error;
          await upsert(key, stored, expiresAt, now, ownerWorkflowId);
        }
      }),

    deleteExpired: (now = new Date()) =>
      guard('clean up the response cache', async () => (await db.responseCache.deleteMany({ where: { expiresAt: { lte: now } } })).count),

    deleteOwnedBy: (workflowIds) =>
      guard('erase response cache entries', async () => {
        let count = 0;
        for (let i = 0; i < workflowIds.length; i += OWNER_CHUNK) {
          count += (await db.responseCache.deleteMany({ where: { ownerWorkflowId: { in: workflowIds.slice(i, i + OWNER_CHUNK) } } })).count;
        }
        return count;
      }),

    close: () => Promise.resolve(),
  };
}

export interface RedisCacheStoreOptions {
  url: string;
  /** Prefix of every key this store writes. Default `llm-orchestrator:response-cache:`. */
  keyPrefix?: string;
  /** How long an operation waits for a connection before failing. Default 2000 ms. */
  connectTimeoutMs?: number;
}

/** Redis is unreachable or answered with an error; callers treat the cache as missing. */
export class ResponseCacheUnavailable extends Error {
  override readonly name = 'ResponseCacheUnavailable';
}

const StoredEntrySchema = z.object({ v: JsonValueSchema, o: z.string().optional() });

/**
 * Delete the entry an owner index points at, when that entry is still the owner's (a later set of
 * the same key by another request took it over), and the index. KEYS[1]: the index; ARGV: the key
 * prefix, the owner's workflow id. Returns 1 when an entry was deleted.
 */
const DELETE_OWNED_SCRIPT = `
local key = redis.call('GET', KEYS[1])
if not key then return 0 end
redis.call('DEL', KEYS[1])
local raw = redis.call('GET', ARGV[1] .. key)
if not raw then return 0 end
local ok, entry = pcall(cjson.decode, raw)
if ok and type(entry) == 'table' and entry['o'] == ARGV[2] then
  redis.call('DEL', ARGV[1] .. key)
  return 1
end
return 0
`;

/**
 * The Redis store: `SET key value PX ttl`, so Redis expires entries itself. The client connects
 * on first use and reconnects in the background; while it is not connected, operations fail at
 * once (no offline queue) with ResponseCacheUnavailable instead of waiting.
 */
export function createRedisCacheStore(options: RedisCacheStoreOptions): ResponseCacheStore {
  const prefix = options.keyPrefix ?? 'llm-orchestrator:response-cache:';
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const where = redactDatabaseUrl(options.url);
  let lastError: string | null = null;
  // Required here, not imported at the top: only a worker with REDIS_URL pays its ~120 ms of loading.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createClient } = require('redis') as typeof Redis;
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5000) },
  });
  // Without a listener an 'error' event would crash the process; remember it for the next failure's message.
  client.on('error', (error: unknown) => {
    lastError = error instanceof Error ? error.message : String(error);
  });
  let connecting: Promise<unknown> | null = null;
  let closed = false;

  async function ready(): Promise<void> {
    if (closed) throw new ResponseCacheUnavailable(`the Redis response cache at ${where} is closed`);
    if (client.isReady) return;
    if (!client.isOpen && connecting === null) {
      connecting = client.connect().catch((error: unknown) => {
        lastError = error instanceof Error ? error.message : String(error);
        connecting = null;
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, connectTimeoutMs);
    });
    await Promise.race([connecting ?? Promise.resolve(), timeout]);
    clearTimeout(timer);
    if (!client.isReady) {
      throw new ResponseCacheUnavailable(`the Redis response cache at ${where} is unreachable${lastError ? `: ${lastError}` : ''}`);
    }
  }

  async function run<T>(action: string, fn: () => Promise<T>): Promise<T> {
    await ready();
    try {
      return await fn();
    } catch (error) {
      throw new ResponseCacheUnavailable(`cannot ${action} at ${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  return {
    kind: 'redis',

    get: (key) =>
      run('read the response cache', async () => {
        const [raw, ttl] = await client.multi().get(prefix + key).pTTL(prefix + key).exec();
        if (typeof raw !== 'string' || typeof ttl !== 'number' || ttl === -2) return null;
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          return null; // not written by this store: a miss, overwritten by the next set
        }
        const entry = StoredEntrySchema.safeParse(parsed);
        if (!entry.success) return null;
        return { value: entry.data.v, expiresAt: new Date(Date.now() + Math.max(ttl, 0)) };
      }),

    set: (key, value, ttlMs, _now, ownerWorkflowId = null) =>
      run('write the response cache', async () => {
        checkTtl(ttlMs);
        const stored = JsonValueSchema.parse(value);
        const expiration = { type: 'PX', value: Math.ceil(ttlMs) } as const;
        if (ownerWorkflowId === null) {
          await client.set(prefix + key, JSON.stringify({ v: stored }), { expiration });
          return;
        }
        await client
          .multi()
          .set(prefix + key, JSON.stringify({ v: stored, o: ownerWorkflowId }), { expiration })
          .set(`${prefix}owner:${ownerWorkflowId}`, key, { expiration })
          .exec();
      }),

    deleteExpired: () => Promise.resolve(0),

    deleteOwnedBy: (workflowIds) =>
      run('erase response cache entries', async () => {
        let count = 0;
        for (let i = 0; i < workflowIds.length; i += OWNER_CHUNK) {
          const results = await Promise.all(
            workflowIds.slice(i, i + OWNER_CHUNK).map((id) => client.eval(DELETE_OWNED_SCRIPT, { keys: [`${prefix}owner:${id}`], arguments: [prefix, id] })),
          );
          count += results.reduce<number>((n, r) => n + (r === 1 ? 1 : 0), 0);
        }
        return count;
      }),

    async close() {
      closed = true;
      if (client.isOpen) await client.close();
      else if (connecting !== null) client.destroy();
    },
  };
}

/** Redis when `redisUrl` is set, else the database. */
export function createResponseCacheStore(options: { database: ResilienceDatabase; redisUrl?: string | undefined }): ResponseCacheStore {
  return options.redisUrl ? createRedisCacheStore({ url: options.redisUrl }) : createPrismaCacheStore(options.database);
}
