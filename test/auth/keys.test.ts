/**
 * The API key store (src/auth/keys.ts) on SQLite and PostgreSQL: keys are shown once and stored
 * as a hash only, checked in constant time, refused when unknown, revoked or expired (on the
 * very next call), and their limits give the tightest per-user limits.
 */
import * as crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiKeyError } from '../../src/auth/errors';
import { API_KEY_PREFIX, LAST_USED_RESOLUTION_MS, createKeyStore, hashApiKey, parseExpiry, type KeyStore } from '../../src/auth/keys';
import { InvalidRequest } from '../../src/errors';
import { DATABASES, openTestDatabase, type TestDatabase } from '../resilience/databases';

// Count the constant-time comparisons the store makes (the real function still answers).
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const T0 = new Date('2026-12-01T10:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);

describe('parseExpiry', () => {
  it('takes ISO dates and durations, in the future only', () => {
    expect(parseExpiry('30d', T0).toISOString()).toBe('2026-12-31T10:00:00.000Z');
    expect(parseExpiry('12h', T0).toISOString()).toBe('2026-12-01T22:00:00.000Z');
    expect(parseExpiry('90m', T0).toISOString()).toBe('2026-12-01T11:30:00.000Z');
    expect(parseExpiry('2w', T0).toISOString()).toBe('2026-12-15T10:00:00.000Z');
    expect(parseExpiry('2027-01-31', T0).toISOString()).toBe('2027-01-31T00:00:00.000Z');
    expect(parseExpiry('2027-01-31T12:00:00Z', T0).toISOString()).toBe('2027-01-31T12:00:00.000Z');
    expect(() => parseExpiry('2026-11-30', T0)).toThrow(/not in the future/);
    expect(() => parseExpiry('soon', T0)).toThrow(InvalidRequest);
    expect(() => parseExpiry('0d', T0)).toThrow(/positive/);
  });
});

describe.each(DATABASES)('key store on $name', ({ open }) => {
  let t: TestDatabase;
  let keys: KeyStore;
  let n = 0;
  const newUser = () => `key-user-${++n}`;

  beforeAll(async () => {
    t = await openTestDatabase(open, 'keys');
    keys = createKeyStore({ client: t.database.client, url: t.url });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('create returns the key once (sk-orch- + base64url of 32 bytes); authenticate accepts it and names its user', async () => {
    const user = newUser();
    const { key, record } = await keys.create({ userId: user, name: 'laptop' }, T0);
    expect(key).toMatch(/^sk-orch-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(API_KEY_PREFIX.length), 'base64url')).toHaveLength(32);
    expect(record).toMatchObject({ userId: user, name: 'laptop', admin: false, prefix: key.slice(0, 16), revokedAt: null, expiresAt: null });
    expect(record).not.toHaveProperty('keyHash');
    const auth = await keys.authenticate(key, later(1000));
    expect(auth).toMatchObject({ ok: true, key: { id: record.id, userId: user } });
  });

  it('stores only the SHA-256 and the display prefix: the key appears nowhere in the table', async () => {
    const { key, record } = await keys.create({ userId: newUser(), admin: true, quotaRequestsPerDay: 5 }, T0);
    const rows = await t.database.client.apiKey.findMany();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(key.slice(API_KEY_PREFIX.length));
    // Nothing longer than the displayed prefix of the random part is stored anywhere.
    expect(dump).not.toContain(key.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + 9));
    const row = rows.find((r) => r.id === record.id)!;
    expect(row.keyHash).toBe(crypto.createHash('sha256').update(key).digest('hex'));
    expect(row.prefix).toBe(key.slice(0, 16));
  });

  it('refuses a missing, malformed, unknown or look-alike key with its reason, comparing hashes in constant time', async () => {
    const { key } = await keys.create({ userId: newUser() }, T0);
    expect(await keys.authenticate(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(await keys.authenticate('  ')).toEqual({ ok: false, reason: 'missing' });
    expect(await keys.authenticate('Bearer nonsense')).toEqual({ ok: false, reason: 'unknown' });
    expect(await keys.authenticate(`${API_KEY_PREFIX}${'A'.repeat(43)}`)).toEqual({ ok: false, reason: 'unknown' });
    const compare = vi.mocked(crypto.timingSafeEqual);
    compare.mockClear();
    // Same stored prefix, different secret: found by prefix, refused by the hash comparison.
    const lookAlike = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(await keys.authenticate(lookAlike)).toEqual({ ok: false, reason: 'unknown' });
    expect(compare).toHaveBeenCalledTimes(1);
    expect(compare.mock.results[0]?.value).toBe(false);
    compare.mockClear();
    expect((await keys.authenticate(key)).ok).toBe(true);
    expect(compare).toHaveBeenCalledTimes(1);
    expect(compare.mock.results[0]?.value).toBe(true);
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('revocation takes effect on the next call, by id or by prefix; revoking again changes nothing', async () => {
    const user = newUser();
    const a = await keys.create({ userId: user }, T0);
    const b = await keys.create({ userId: user }, T0);
    expect((await keys.authenticate(a.key, later(1))).ok).toBe(true);
    const revoked = await keys.revoke(a.record.id, later(2));
    expect(revoked).toMatchObject({ alreadyRevoked: false, key: { id: a.record.id } });
    expect(revoked.key.revokedAt?.toISOString()).toBe(later(2).toISOString());
    expect(await keys.authenticate(a.key, later(3))).toEqual({ ok: false, reason: 'revoked' });
    // By prefix, with or without sk-orch-.
    expect((await keys.revoke(b.record.prefix.slice(API_KEY_PREFIX.length), later(4))).key.id).toBe(b.record.id);
    expect(await keys.authenticate(b.key, later(5))).toEqual({ ok: false, reason: 'revoked' });
    const again = await keys.revoke(b.record.prefix, later(6));
    expect(again.alreadyRevoked).toBe(true);
    expect(again.key.revokedAt?.toISOString()).toBe(later(4).toISOString());
  });

  it('revoke names what it could not find; a whole key is not accepted as a prefix', async () => {
    await expect(keys.revoke('no-such-id')).rejects.toMatchObject({ code: 'ApiKeyNotFound' });
    await expect(keys.revoke('sk-orch-ZZZZZZZZ')).rejects.toBeInstanceOf(ApiKeyError);
    const { key } = await keys.create({ userId: newUser() }, T0);
    const refusal = await keys.revoke(key).catch((e: unknown) => e as ApiKeyError);
    expect(refusal).toBeInstanceOf(ApiKeyError);
    expect((refusal as ApiKeyError).message).not.toContain(key);
    expect(await keys.authenticate(key)).toMatchObject({ ok: true });
  });

  it('an expired key is refused from its expiry on', async () => {
    const { key } = await keys.create({ userId: newUser(), expiresAt: later(60_000) }, T0);
    expect((await keys.authenticate(key, later(59_999))).ok).toBe(true);
    expect(await keys.authenticate(key, later(60_000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('bad input is an InvalidRequest naming the field, and writes nothing', async () => {
    const before = await t.database.client.apiKey.count();
    await expect(keys.create({ userId: '' })).rejects.toThrow(/userId/);
    await expect(keys.create({ userId: 'u', quotaRequestsPerDay: 1.5 })).rejects.toThrow(/quotaRequestsPerDay: must be an integer/);
    await expect(keys.create({ userId: 'u', budgetUsdPerMonth: -1 })).rejects.toThrow(/budgetUsdPerMonth/);
    await expect(keys.create({ userId: 'u', expiresAt: new Date(T0.getTime() - 1) }, T0)).rejects.toThrow(/expiresAt: must be in the future/);
    await expect(keys.create({ userId: 'u', keyHash: 'x' } as never)).rejects.toBeInstanceOf(InvalidRequest);
    expect(await t.database.client.apiKey.count()).toBe(before);
  });

  it('lastUsedAt is written at most once a minute', async () => {
    const { key, record } = await keys.create({ userId: newUser() }, T0);
    const lastUsed = async () => (await t.database.client.apiKey.findUniqueOrThrow({ where: { id: record.id } })).lastUsedAt?.toISOString();
    await keys.authenticate(key, later(1000));
    expect(await lastUsed()).toBe(later(1000).toISOString());
    await keys.authenticate(key, later(1000 + LAST_USED_RESOLUTION_MS - 1));
    expect(await lastUsed()).toBe(later(1000).toISOString());
    await keys.authenticate(key, later(1000 + LAST_USED_RESOLUTION_MS));
    expect(await lastUsed()).toBe(later(1000 + LAST_USED_RESOLUTION_MS).toISOString());
  });

  it('list never shows keys or hashes; filters by user', async () => {
    const user = newUser();
    const a = await keys.create({ userId: user, name: 'one' }, T0);
    const b = await keys.create({ userId: user, name: 'two' }, later(1));
    const listed = await keys.list({ userId: user });
    expect(listed.map((k) => k.id)).toEqual([b.record.id, a.record.id]);
    const dump = JSON.stringify(listed);
    expect(dump).not.toContain(a.key);
    expect(dump).not.toContain(hashApiKey(a.key));
    expect(listed.every((k) => !('keyHash' in k))).toBe(true);
    expect((await keys.list()).length).toBeGreaterThanOrEqual(2);
  });

  it("userLimits: the tightest over the user's active keys; revoked and expired keys do not count", async () => {
    const user = newUser();
    expect(await keys.userLimits(user, T0)).toBeNull();
    await keys.create({ userId: user }, T0);
    expect(await keys.userLimits(user, T0)).toBeNull();
    await keys.create({ userId: user, quotaRequestsPerDay: 10, budgetUsdPerMonth: 5 }, T0);
    const tight = await keys.create({ userId: user, quotaRequestsPerDay: 3, quotaTokensPerDay: 1000 }, T0);
    await keys.create({ userId: user, quotaRequestsPerDay: 1, expiresAt: later(1000) }, T0);
    expect(await keys.userLimits(user, later(1000))).toEqual({ requestsPerDay: 3, tokensPerDay: 1000, usdPerMonth: 5 });
    expect(await keys.userLimits(user, later(999))).toEqual({ requestsPerDay: 1, tokensPerDay: 1000, usdPerMonth: 5 });
    await keys.revoke(tight.record.id, later(2000));
    expect(await keys.userLimits(user, later(2000))).toEqual({ requestsPerDay: 10, tokensPerDay: undefined, usdPerMonth: 5 });
  });
});
