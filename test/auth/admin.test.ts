/**
 * The admin endpoints (src/gateway/admin.ts) through Fastify's `inject`, on a real key store
 * (temporary SQLite): 401 without or with a bad key, 403 with a non-admin key, 200/201 with an
 * admin key; errors in OpenAI's shape; a key created here is shown once and works, a key revoked
 * here is refused on the next request.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyStore, hashApiKey, type KeyStore } from '../../src/auth/keys';
import { registerAdminRoutes } from '../../src/gateway/admin';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

let scratch: ScratchDatabase;
let db: DatabaseClient;
let keys: KeyStore;
let app: FastifyInstance;
let adminKey: string;
let userKey: string;

beforeAll(async () => {
  scratch = scratchSqlite();
  await applyMigrations(scratch.url);
  db = createPrismaClient(scratch.url);
  keys = createKeyStore({ client: db, url: scratch.url });
  adminKey = (await keys.create({ userId: 'ops', admin: true })).key;
  userKey = (await keys.create({ userId: 'u1' })).key;
  app = Fastify();
  registerAdminRoutes(app, { keys });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await db?.$disconnect();
  await scratch?.drop();
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
/** OpenAI's error shape, exactly: { error: { message, type, param, code } }. */
const openAiError = (status: number, code: string | null) => ({
  error: { message: expect.any(String) as unknown, type: expect.any(String) as unknown, param: expect.toSatisfy((p: unknown) => p === null || typeof p === 'string') as unknown, code },
  status,
});

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string> = {}, payload?: unknown) {
  const res = await app.inject({ method, url, headers, ...(payload !== undefined && { payload: payload as Record<string, unknown> }) });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>(), headers: res.headers };
}

describe('admin routes', () => {
  it('401 without a key, with an unknown or malformed key, with a revoked key; nothing is created', async () => {
    const revoked = await keys.create({ userId: 'ops2', admin: true });
    await keys.revoke(revoked.record.id);
    const before = await db.apiKey.count();
    const none = await call('POST', '/admin/keys', {}, { user: 'x' });
    expect({ ...none.body, status: none.status }).toEqual(openAiError(401, 'invalid_api_key'));
    expect((none.body['error'] as { message: string }).message).toMatch(/no API key/);
    const bad = await call('GET', '/admin/keys', auth(`sk-orch-${'x'.repeat(43)}`));
    expect({ ...bad.body, status: bad.status }).toEqual(openAiError(401, 'invalid_api_key'));
    const malformed = await call('GET', '/admin/keys', { authorization: 'Basic abc' });
    expect(malformed.status).toBe(401);
    const gone = await call('DELETE', `/admin/keys/${revoked.record.id}`, auth(revoked.key));
    expect(gone.status).toBe(401);
    expect((gone.body['error'] as { message: string }).message).toBe('this API key was revoked');
    expect((await keys.list({ userId: 'ops2' }))[0]?.revokedAt).not.toBeNull();
    expect(await db.apiKey.count()).toBe(before);
  });

  it('403 with a valid key that is not an admin key, before the body is looked at', async () => {
    for (const [method, url, body] of [
      ['POST', '/admin/keys', { user: 'u1', admin: true }],
      ['POST', '/admin/keys', { nonsense: 1 }],
      ['GET', '/admin/keys', undefined],
      ['DELETE', '/admin/keys/whatever', undefined],
    ] as const) {
      const res = await call(method, url, auth(userKey), body);
      expect({ ...res.body, status: res.status }, `${method} ${url}`).toEqual(openAiError(403, 'not_admin'));
      expect((res.body['error'] as { type: string }).type).toBe('permission_error');
    }
  });

  it('an admin creates a key (201, shown once), lists it without key or hash, revokes it; the revoked key is refused next', async () => {
    const created = await call('POST', '/admin/keys', auth(adminKey), { user: 'u7', name: 'ci', quota_requests_per_day: 3, budget_usd_per_month: 1.5, expires: '30d' });
    expect(created.status).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const key = created.body['key'] as string;
    expect(key).toMatch(/^sk-orch-[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ object: 'api_key', user: 'u7', name: 'ci', admin: false, status: 'active', quota_requests_per_day: 3, budget_usd_per_month: 1.5, prefix: key.slice(0, 16) });
    expect(await keys.authenticate(key)).toMatchObject({ ok: true, key: { userId: 'u7' } });

    const listed = await call('GET', '/admin/keys?user=u7', auth(adminKey));
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ object: 'list', data: [{ id: created.body['id'], prefix: key.slice(0, 16), user: 'u7' }] });
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(key);
    expect(text).not.toContain(hashApiKey(key));
    const all = await call('GET', '/admin/keys', auth(adminKey));
    expect((all.body['data'] as unknown[]).length).toBeGreaterThanOrEqual(3);

    const revoked = await call('DELETE', `/admin/keys/${String(created.body['id'])}`, auth(adminKey));
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: created.body['id'], status: 'revoked', revoked: true, already_revoked: false });
    expect(await keys.authenticate(key)).toEqual({ ok: false, reason: 'revoked' });
    const again = await call('DELETE', `/admin/keys/${key.slice(0, 16)}`, auth(adminKey));
    expect(again.body).toMatchObject({ already_revoked: true });
  });

  it('an admin key made through the API is an admin key', async () => {
    const created = await call('POST', '/admin/keys', auth(adminKey), { user: 'ops3', admin: true });
    const listed = await call('GET', '/admin/keys', auth(created.body['key'] as string));
    expect(listed.status).toBe(200);
  });

  it('bad input: 400 naming the parameter, nothing created; unknown key id: 404', async () => {
    const before = await db.apiKey.count();
    const cases: [unknown, string][] = [
      [{}, 'user'],
      [{ user: 'u', quota_requests_per_day: 0 }, 'quota_requests_per_day'],
      [{ user: 'u', budget_usd_per_month: -2 }, 'budget_usd_per_month'],
      [{ user: 'u', colour: 'red' }, 'colour'],
      [{ user: 'u', expires: 'someday' }, 'expires'],
      [{ user: 'u', expires: '2001-01-01' }, 'expires'],
    ];
    for (const [payload, param] of cases) {
      const res = await call('POST', '/admin/keys', auth(adminKey), payload);
      expect({ ...res.body, status: res.status }, JSON.stringify(payload)).toEqual(openAiError(400, 'invalid_request'));
      expect((res.body['error'] as { param: string }).param, JSON.stringify(payload)).toBe(param);
    }
    expect(await db.apiKey.count()).toBe(before);
    const missing = await call('DELETE', '/admin/keys/sk-orch-nothere0', auth(adminKey));
    expect({ ...missing.body, status: missing.status }).toEqual(openAiError(404, 'api_key_not_found'));
  });
});
