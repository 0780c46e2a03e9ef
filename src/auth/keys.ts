/**
 * API keys the gateway issues (table `ApiKey`). A key is `sk-orch-` followed by the base64url of
 * 32 random bytes; only its SHA-256 (hex) and a display prefix (`sk-orch-` and the next 8
 * characters) are stored, so the key itself is shown once, by `create`, and never again.
 *
 * `authenticate` finds the candidates by prefix and compares the hashes with
 * `crypto.timingSafeEqual`; it reads the row on every call (no cache), so a revocation or an
 * expiry takes effect on the next request. `lastUsedAt` is written at most once a minute per key.
 *
 * The key decides the request's user. Its limits (requests and tokens per UTC day, USD per UTC
 * month) apply to that user besides the configured quotas and budgets: `userLimits` gives the
 * tightest over the user's active keys, which admission (activities/resilience.ts) enforces.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, InvalidRequest, zodIssues } from '../errors';
import type { DatabaseClient } from '../memory/client';
import { databaseConnectionError, isConnectionError, redactDatabaseUrl } from '../memory/database-url';
import type { KeyLimits } from '../resilience/budget';
import { ApiKeyError } from './errors';

export const API_KEY_PREFIX = 'sk-orch-';
/** Characters of the random part kept for display (48 of its 256 bits). */
const DISPLAY_CHARS = 8;
/** base64url of 32 bytes, unpadded. */
const RANDOM_CHARS = 43;
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{${RANDOM_CHARS}}$`);
/** `lastUsedAt` is refreshed when older than this. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** A stored key as the rest of the app sees it: never the key, never its hash. */
export interface ApiKeyRecord {
  id: string;
  /** `sk-orch-` and the key's next 8 characters. */
  prefix: string;
  userId: string;
  name: string | null;
  admin: boolean;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  quotaRequestsPerDay: number | null;
  quotaTokensPerDay: number | null;
  budgetUsdPerMonth: number | null;
}

export type AuthenticationFailure = 'missing' | 'unknown' | 'revoked' | 'expired';
export type AuthenticationResult = { ok: true; key: ApiKeyRecord } | { ok: false; reason: AuthenticationFailure };

const CreateKeyInputSchema = z
  .object({
    userId: z.string().trim().min(1, 'must not be empty').max(200, 'at most 200 characters'),
    name: z.string().trim().min(1, 'must not be empty').max(200, 'at most 200 characters').optional(),
    admin: z.boolean().optional(),
    expiresAt: z.date().optional(),
    quotaRequestsPerDay: z.number().int('must be an integer').positive('must be positive').optional(),
    quotaTokensPerDay: z.number().int('must be an integer').positive('must be positive').optional(),
    budgetUsdPerMonth: z.number().finite().positive('must be positive').optional(),
  })
  .strict();
export type CreateKeyInput = z.input<typeof CreateKeyInputSchema>;

export interface CreatedKey {
  /** The key itself: shown to its owner once, stored nowhere. */
  key: string;
  record: ApiKeyRecord;
}

export interface KeyStore {
  create(input: CreateKeyInput, now?: Date): Promise<CreatedKey>;
  /** Keys (revoked and expired ones included), newest first. */
  list(filter?: { userId?: string | undefined }): Promise<ApiKeyRecord[]>;
  /** Revoke by id or by prefix (with or without `sk-orch-`); revoking a revoked key changes nothing. */
  revoke(idOrPrefix: string, now?: Date): Promise<{ key: ApiKeyRecord; alreadyRevoked: boolean }>;
  authenticate(rawKey: string | undefined | null, now?: Date): Promise<AuthenticationResult>;
  /** The tightest limits over the user's active (unrevoked, unexpired) keys; null when none sets any. */
  userLimits(userId: string, now?: Date): Promise<KeyLimits | null>;
}

export interface KeyStoreOptions {
  client: DatabaseClient;
  /** The database URL: an unreachable database then fails with DatabaseConnectionError (redacted). */
  url?: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key: `sk-orch-` + base64url(32 random bytes). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function displayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + DISPLAY_CHARS);
}

/** Same length hex hashes, compared without an early exit. */
function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

const DURATION_UNITS_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * An expiry given as an ISO-8601 date or time (`2027-01-31`, `2027-01-31T12:00:00Z`) or a duration
 * from `now` (`90m`, `12h`, `30d`, `2w`). It must lie in the future. `field` names it in errors.
 */
export function parseExpiry(text: string, now: Date = new Date(), field = 'expires'): Date {
  const trimmed = text.trim();
  const duration = /^(\d+)\s*([mhdw])$/i.exec(trimmed);
  let at: Date;
  if (duration) {
    const amount = Number(duration[1]);
    if (amount <= 0) throw new InvalidRequest(`${field}: a duration must be positive, got "${text}"`, [{ path: field, message: 'non-positive duration' }]);
    at = new Date(now.getTime() + amount * DURATION_UNITS_MS[duration[2]!.toLowerCase()]!);
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(trimmed) && !Number.isNaN(Date.parse(trimmed))) {
    at = new Date(trimmed);
  } else {
    throw new InvalidRequest(`${field}: expected an ISO-8601 date (2027-01-31) or a duration (30d, 12h, 90m, 2w), got "${text}"`, [{ path: field, message: 'not a date or duration' }]);
  }
  if (at.getTime() <= now.getTime()) {
    throw new InvalidRequest(`${field}: ${at.toISOString()} is not in the future`, [{ path: field, message: 'in the past' }]);
  }
  return at;
}

/** Prisma's "table does not exist" (P2021): the migrations were not applied to this database. */
function isMissingTable(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'P2021';
}

type Row = ApiKeyRecord & { keyHash: string };

function record(row: Row): ApiKeyRecord {
  const { keyHash: _hash, ...rest } = row;
  return rest;
}

/** The key's state at `now`: active, or why not. */
export function keyStatus(key: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: Date = new Date()): 'active' | 'revoked' | 'expired' {
  if (key.revokedAt !== null && key.revokedAt.getTime() <= now.getTime()) return 'revoked';
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

export function createKeyStore(options: KeyStoreOptions): KeyStore {
  const db = options.client;
  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (options.url !== undefined && isConnectionError(error)) throw databaseConnectionError(options.url, error, action);
      if (isMissingTable(error)) {
        const where = options.url !== undefined ? `database ${redactDatabaseUrl(options.url)}` : 'the database';
        throw new ConfigError(`cannot ${action}: ${where} has no ApiKey table: apply the migrations with \`npm run db:migrate\``, [{ path: 'DATABASE_URL', message: 'migrations not applied' }]);
      }
      throw error;
    }
  }

  return {
    create: (input, now = new Date()) =>
      guard('create an API key', async () => {
        const parsed = CreateKeyInputSchema.safeParse(input);
        if (!parsed.success) {
          const issues = zodIssues(parsed.error);
          throw new InvalidRequest(`invalid API key: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
        }
        const data = parsed.data;
        if (data.expiresAt !== undefined && (Number.isNaN(data.expiresAt.getTime()) || data.expiresAt.getTime() <= now.getTime())) {
          throw new InvalidRequest('invalid API key: expiresAt: must be in the future', [{ path: 'expiresAt', message: 'must be in the future' }]);
        }
        const key = generateApiKey();
        const row = await db.apiKey.create({
          data: {
            keyHash: hashApiKey(key),
            prefix: displayPrefix(key),
            userId: data.userId,
            name: data.name ?? null,
            admin: data.admin ?? false,
            createdAt: now,
            expiresAt: data.expiresAt ?? null,
            quotaRequestsPerDay: data.quotaRequestsPerDay ?? null,
            quotaTokensPerDay: data.quotaTokensPerDay ?? null,
            budgetUsdPerMonth: data.budgetUsdPerMonth ?? null,
          },
        });
        return { key, record: record(row) };
      }),

    list: (filter = {}) =>
      guard('list API keys', async () => {
        const rows = await db.apiKey.findMany({
          where: filter.userId !== undefined ? { userId: filter.userId } : {},
          orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        });
        return rows.map(record);
      }),

    revoke: (idOrPrefix, now = new Date()) =>
      guard('revoke an API key', async () => {
        const wanted = idOrPrefix.trim();
        if (wanted === '') throw new InvalidRequest('revoke: give a key id or prefix', [{ path: 'id', message: 'empty' }]);
        let row = await db.apiKey.findUnique({ where: { id: wanted } });
        if (!row) {
          const prefix = wanted.startsWith(API_KEY_PREFIX) ? wanted : API_KEY_PREFIX + wanted;
          // A whole key is not a prefix: refuse it rather than look it up by a string the user pasted.
          if (prefix.length !== API_KEY_PREFIX.length + DISPLAY_CHARS) {
            throw new ApiKeyError('ApiKeyNotFound', `no API key has the id or prefix "${displayPrefix(wanted)}" (a prefix is ${API_KEY_PREFIX} and ${DISPLAY_CHARS} characters, as \`keys list\` shows)`, { idOrPrefix: displayPrefix(wanted) });
          }
          const matches = await db.apiKey.findMany({ where: { prefix }, take: 5 });
          if (matches.length === 0) throw new ApiKeyError('ApiKeyNotFound', `no API key has the id or prefix "${wanted}"`, { idOrPrefix: wanted });
          if (matches.length > 1) {
            throw new ApiKeyError('AmbiguousKeyPrefix', `prefix "${prefix}" matches ${matches.length} keys (${matches.map((m) => m.id).join(', ')}): revoke by id`, { prefix, ids: matches.map((m) => m.id) });
          }
          row = matches[0]!;
        }
        if (row.revokedAt !== null) return { key: record(row), alreadyRevoked: true };
        const updated = await db.apiKey.update({ where: { id: row.id }, data: { revokedAt: now } });
        return { key: record(updated), alreadyRevoked: false };
      }),

    authenticate: (rawKey, now = new Date()) =>
      guard('check an API key', async (): Promise<AuthenticationResult> => {
        if (rawKey === undefined || rawKey === null || rawKey.trim() === '') return { ok: false, reason: 'missing' };
        const key = rawKey.trim();
        if (!KEY_PATTERN.test(key)) return { ok: false, reason: 'unknown' };
        const hash = hashApiKey(key);
        const candidates = await db.apiKey.findMany({ where: { prefix: displayPrefix(key) } });
        let found: Row | undefined;
        // Compare against every candidate (no early exit on a match).
        for (const candidate of candidates) if (hashesEqual(candidate.keyHash, hash)) found = candidate;
        if (found === undefined) return { ok: false, reason: 'unknown' };
        const status = keyStatus(found, now);
        if (status !== 'active') return { ok: false, reason: status };
        let lastUsedAt = found.lastUsedAt;
        if (lastUsedAt === null || now.getTime() - lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
          const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS + 1);
          try {
            // Conditional, so racing requests write it once.
            const updated = await db.apiKey.updateMany({ where: { id: found.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: staleBefore } }] }, data: { lastUsedAt: now } });
            if (updated.count > 0) lastUsedAt = now;
          } catch {
            // A failed bookkeeping write never refuses a valid key.
          }
        }
        return { ok: true, key: { ...record(found), lastUsedAt } };
      }),

    userLimits: (userId, now = new Date()) =>
      guard("read the user's API key limits", async () => {
        const rows = await db.apiKey.findMany({
          where: {
            userId,
            revokedAt: null,
            AND: [
              { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
              { OR: [{ quotaRequestsPerDay: { not: null } }, { quotaTokensPerDay: { not: null } }, { budgetUsdPerMonth: { not: null } }] },
            ],
          },
          select: { quotaRequestsPerDay: true, quotaTokensPerDay: true, budgetUsdPerMonth: true },
        });
        if (rows.length === 0) return null;
        const tightest = (values: (number | null)[]): number | undefined => {
          const set = values.filter((v): v is number => v !== null);
          return set.length === 0 ? undefined : Math.min(...set);
        };
        return {
          requestsPerDay: tightest(rows.map((r) => r.quotaRequestsPerDay)),
          tokensPerDay: tightest(rows.map((r) => r.quotaTokensPerDay)),
          usdPerMonth: tightest(rows.map((r) => r.budgetUsdPerMonth)),
        };
      }),
  };
}

/** The JSON view of a key (CLI `--json`, admin API): snake_case as OpenAI's API, never the key or its hash. */
export function apiKeyView(key: ApiKeyRecord, now: Date = new Date()) {
  return {
    id: key.id,
    object: 'api_key' as const,
    prefix: key.prefix,
    user: key.userId,
    name: key.name,
    admin: key.admin,
    status: keyStatus(key, now),
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    quota_requests_per_day: key.quotaRequestsPerDay,
    quota_tokens_per_day: key.quotaTokensPerDay,
    budget_usd_per_month: key.budgetUsdPerMonth,
  };
}
export type ApiKeyView = ReturnType<typeof apiKeyView>;
