/**
 * The codec server (src/codec-server) over real HTTP on a free port, with a payload key of its own
 * and a real key store (temporary SQLite): encode -> decode round trip as Temporal's CLI and Web UI
 * call it, the personal /ui/<token> endpoint, CORS for the Web UI's origins only, 401/403 for
 * missing, wrong and non-admin tokens (with CORS headers), 400s for bad bodies and unknown keys,
 * 413 over the body limit, and no token in the logs.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyStore } from '../../src/auth/open-key-store';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import { applyMigrations } from '../../src/memory/migrate';
import { AesGcmPayloadCodec, isEncryptedPayload, payloadKeyId } from '../../src/privacy/payload-codec';
import { corsOrigins, parseCodecKeys } from '../../src/codec-server/access';
import { payloadFromJson, payloadToJson } from '../../src/codec-server/payloads-json';
import { startCodecServer, type RunningCodecServer } from '../../src/codec-server/start';
import { expectConfigError } from '../helpers/expect-config-error';
import { scratchSqlite, type ScratchDatabase } from '../memory/scratch-databases';

const PAYLOAD_KEYS = `codec-test:${randomBytes(32).toString('base64')}`;
const CODEC_KEY = randomBytes(24).toString('hex');
const UI_ORIGIN = 'http://127.0.0.1:18233';
const SECRET_PROMPT = 'the quarterly numbers nobody may read';

let scratch: ScratchDatabase;
let server: RunningCodecServer;
let adminKey: string;
let userKey: string;
const logLines: string[] = [];

beforeAll(async () => {
  scratch = scratchSqlite();
  await applyMigrations(scratch.url);
  const store = openKeyStore(scratch.url);
  adminKey = (await store.keys.create({ userId: 'ops', admin: true })).key;
  userKey = (await store.keys.create({ userId: 'u1' })).key;
  await store.close();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  const env = loadEnv({ PAYLOAD_KEYS, CODEC_SERVER_KEYS: CODEC_KEY, DATABASE_URL: scratch.url, TEMPORAL_UI_URL: UI_ORIGIN, CODEC_SERVER_BODY_LIMIT: '65536' });
  server = await startCodecServer({ env, logger: createLogger('debug', 'codec-server-test', sink), port: 0 });
});
afterAll(async () => {
  await server?.close();
  await scratch?.drop();
});

const jsonPayload = (value: unknown) => payloadToJson(defaultPayloadConverter.toPayload(value));

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as { payloads?: { metadata: Record<string, string>; data: string }[]; error?: { code: string; message: string } } };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('codec server protocol', () => {
  it('encodes to ciphertext under the newest key and decodes back to the same payloads', async () => {
    const original = [jsonPayload({ prompt: SECRET_PROMPT }), jsonPayload('x'.repeat(5000)), jsonPayload(null)];
    const encoded = await post('/encode', { payloads: original }, bearer(CODEC_KEY));
    expect(encoded.status).toBe(200);
    const encrypted = encoded.body.payloads!.map(payloadFromJson);
    expect(encrypted.every(isEncryptedPayload)).toBe(true);
    expect(encrypted.map(payloadKeyId)).toEqual(['codec-test', 'codec-test', 'codec-test']);
    expect(JSON.stringify(encoded.body)).not.toContain(Buffer.from(SECRET_PROMPT).toString('base64').slice(0, 16));
    expect(Buffer.from(encrypted[0]!.data!).toString('utf8')).not.toContain('quarterly');

    const decoded = await post('/decode', encoded.body, bearer(CODEC_KEY));
    expect(decoded.status).toBe(200);
    expect(decoded.body.payloads).toEqual(original);
    expect(defaultPayloadConverter.fromPayload(payloadFromJson(decoded.body.payloads![0]!))).toEqual({ prompt: SECRET_PROMPT });
  });

  it('decodes what the worker-side codec wrote (same keys), and passes payloads that are not ours through unchanged', async () => {
    const codec = new AesGcmPayloadCodec({ keys: [{ id: 'codec-test', key: Buffer.from(PAYLOAD_KEYS.split(':')[1]!, 'base64') }], source: 'test' });
    const [written] = await codec.encode([defaultPayloadConverter.toPayload({ answer: 42 })]);
    const plain = jsonPayload({ left: 'as is' });
    const binary = { metadata: { encoding: Buffer.from('binary/null').toString('base64') }, data: '' };
    const res = await post('/decode', { payloads: [payloadToJson(written!), plain, binary] }, bearer(CODEC_KEY));
    expect(res.status).toBe(200);
    expect(defaultPayloadConverter.fromPayload(payloadFromJson(res.body.payloads![0]!))).toEqual({ answer: 42 });
    expect(res.body.payloads!.slice(1)).toEqual([plain, binary]);
  });

  it('a payload under a key the server does not hold is a 400 naming the payload and the key id', async () => {
    const other = new AesGcmPayloadCodec({ keys: [{ id: 'retired-2025', key: randomBytes(32) }], source: 'test' });
    const [foreign] = await other.encode([defaultPayloadConverter.toPayload('old')]);
    const res = await post('/decode', { payloads: [jsonPayload('fine'), payloadToJson(foreign!)] }, bearer(CODEC_KEY));
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('unknown_key');
    expect(res.body.error?.message).toMatch(/payloads\[1\] is encrypted with key 'retired-2025'.*holds: codec-test/);
  });

  it('a payload altered in transit is a 400, not a 500', async () => {
    const encoded = await post('/encode', { payloads: [jsonPayload('tamper me')] }, bearer(CODEC_KEY));
    const p = encoded.body.payloads![0]!;
    const data = Buffer.from(p.data, 'base64');
    data[20] = (data[20] ?? 0) ^ 1;
    const res = await post('/decode', { payloads: [{ ...p, data: data.toString('base64') }] }, bearer(CODEC_KEY));
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/payloads\[0\].*failed authentication/);
  });

  it('bad bodies are 400s naming what is wrong; an oversized body is a 413', async () => {
    const cases: [unknown, RegExp][] = [
      ['{"payloads": [', /not valid JSON/],
      [{}, /at payloads: is required/],
      [{ payloads: 'x' }, /at payloads: must be an array/],
      [{ payloads: [{ data: 'not base64!' }] }, /at payloads\[0\]\.data: must be base64/],
      [{ payloads: [{ metadata: { encoding: 7 } }] }, /at payloads\[0\]\.metadata\.encoding/],
    ];
    for (const [body, message] of cases) {
      const res = await post('/decode', body, bearer(CODEC_KEY));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error?.message).toMatch(message);
    }
    const big = await post('/decode', { payloads: [{ data: Buffer.alloc(70_000).toString('base64') }] }, bearer(CODEC_KEY));
    expect(big.status).toBe(413);
    expect(big.body.error?.message).toMatch(/65536 bytes/);
  });

  it('GET /healthz answers without a token', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', service: 'codec-server' });
  });
});

describe('access', () => {
  const body = { payloads: [jsonPayload('hello')] };

  it('401 without a token and with a wrong one, on both operations and on /ui/<token>', async () => {
    for (const path of ['/decode', '/encode']) {
      const none = await post(path, body);
      expect(none.status).toBe(401);
      expect(none.body.error?.code).toBe('missing_token');
      // The last character changed (a random key may end in any hex digit).
      const wrong = await post(path, body, bearer(`${CODEC_KEY.slice(0, -1)}${CODEC_KEY.endsWith('0') ? '1' : '0'}`));
      expect(wrong.status).toBe(401);
      expect(wrong.body.error?.code).toBe('invalid_token');
      expect(wrong.body.payloads).toBeUndefined();
    }
    const ui = await post(`/ui/${'a'.repeat(48)}/decode`, body);
    expect(ui.status).toBe(401);
    // The path's token decides there: a valid header does not open a wrong URL.
    const uiWithHeader = await post(`/ui/${'a'.repeat(48)}/decode`, body, bearer(CODEC_KEY));
    expect(uiWithHeader.status).toBe(401);
  });

  it('the token is checked before the body is read: no token and a broken body is still a 401', async () => {
    const res = await post('/decode', '{"payloads": [');
    expect(res.status).toBe(401);
  });

  it('a codec key works as a Bearer header and in the /ui/<token> endpoint URL', async () => {
    expect((await post('/decode', body, bearer(CODEC_KEY))).status).toBe(200);
    const ui = await post(`/ui/${CODEC_KEY}/decode`, body);
    expect(ui.status).toBe(200);
    expect(ui.body.payloads).toEqual(body.payloads);
    expect((await post(`/ui/${CODEC_KEY}/encode`, body)).status).toBe(200);
    expect(server.uiEndpoint(CODEC_KEY)).toBe(`${server.url}/ui/${CODEC_KEY}`);
  });

  it('a gateway admin API key works; a non-admin key is a 403; a revoked admin key a 401', async () => {
    expect((await post('/decode', body, bearer(adminKey))).status).toBe(200);
    expect((await post(`/ui/${adminKey}/decode`, body)).status).toBe(200);
    const user = await post('/decode', body, bearer(userKey));
    expect(user.status).toBe(403);
    expect(user.body.error?.message).toMatch(/not an admin key/);
    const store = openKeyStore(scratch.url);
    try {
      const revoked = await store.keys.create({ userId: 'ops2', admin: true });
      expect((await post('/decode', body, bearer(revoked.key))).status).toBe(200);
      await store.keys.revoke(revoked.record.id);
      const res = await post('/decode', body, bearer(revoked.key));
      expect(res.status).toBe(401);
      expect(res.body.error?.message).toMatch(/revoked/);
    } finally {
      await store.close();
    }
  });

  it('never logs a token or payload content', async () => {
    await post(`/ui/${CODEC_KEY}/decode`, { payloads: [jsonPayload(SECRET_PROMPT)] });
    await post('/decode', { payloads: [jsonPayload(SECRET_PROMPT)] }, bearer(adminKey));
    await post('/decode', body, bearer('wrong-token-that-is-long-enough'));
    const logs = logLines.join('');
    expect(logs).toContain('codec server request');
    expect(logs).toContain('admin-key:sk-orch-');
    for (const secret of [CODEC_KEY, adminKey, userKey, 'wrong-token-that-is-long-enough', SECRET_PROMPT, Buffer.from(JSON.stringify(SECRET_PROMPT)).toString('base64')]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe('CORS', () => {
  async function preflight(origin: string, path = '/decode') {
    return fetch(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' },
    });
  }

  it("allows the Web UI's origin and its localhost twin, with the headers the UI and the CLI send", async () => {
    for (const origin of [UI_ORIGIN, 'http://localhost:18233']) {
      for (const path of ['/decode', `/ui/${CODEC_KEY}/decode`, '/encode']) {
        const res = await preflight(origin, path);
        expect(res.status, `${origin} ${path}`).toBeLessThan(300);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
        const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
        for (const h of ['content-type', 'x-namespace', 'authorization']) expect(allowed).toContain(h);
      }
    }
  });

  it('gives no CORS headers to other origins', async () => {
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8234', 'https://127.0.0.1:18233']) {
      const res = await preflight(origin);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      const post = await fetch(`${server.url}/decode`, { method: 'POST', headers: { origin, 'content-type': 'application/json', ...bearer(CODEC_KEY) }, body: JSON.stringify({ payloads: [] }) });
      expect(post.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('a refusal carries the CORS headers, so the browser (and the UI) sees the 401', async () => {
    const res = await post('/decode', { payloads: [] }, { origin: UI_ORIGIN });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
  });
});

describe('configuration', () => {
  it('origins: TEMPORAL_UI_URL and its twin by default, CODEC_SERVER_CORS_ORIGINS when set, origins only', () => {
    expect(corsOrigins({ TEMPORAL_UI_URL: 'http://127.0.0.1:8233' })).toEqual(['http://127.0.0.1:8233', 'http://localhost:8233']);
    expect(corsOrigins({ TEMPORAL_UI_URL: 'http://localhost:8233/namespaces' })).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
    expect(corsOrigins({ TEMPORAL_UI_URL: 'https://temporal.example.com' })).toEqual(['https://temporal.example.com']);
    expect(corsOrigins({ TEMPORAL_UI_URL: 'http://127.0.0.1:8233', CODEC_SERVER_CORS_ORIGINS: 'https://a.example, https://b.example:8443' })).toEqual(['https://a.example', 'https://b.example:8443']);
    expect(expectConfigError(() => corsOrigins({ TEMPORAL_UI_URL: 'x', CODEC_SERVER_CORS_ORIGINS: '*' })).message).toMatch(/CODEC_SERVER_CORS_ORIGINS\[0\].*not a URL/);
    expect(expectConfigError(() => corsOrigins({ TEMPORAL_UI_URL: 'x', CODEC_SERVER_CORS_ORIGINS: 'https://a.example/path' })).message).toMatch(/must be an origin/);
  });

  it('codec keys: long enough, URL-safe; errors name the entry, never the value', () => {
    expect(parseCodecKeys(undefined)).toEqual([]);
    expect(parseCodecKeys(`${'a'.repeat(24)}, ${'b'.repeat(30)}`)).toEqual(['a'.repeat(24), 'b'.repeat(30)]);
    expect(expectConfigError(() => parseCodecKeys(`${'a'.repeat(24)},short-secret`)).message).toMatch(/CODEC_SERVER_KEYS\[1\] is 12 characters/);
    let message = '';
    try {
      parseCodecKeys(`${'s'.repeat(30)}/+`);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/CODEC_SERVER_KEYS\[0\] may hold only/);
    expect(message).not.toContain('sss');
  });

  it('refuses to start with PAYLOAD_ENCRYPTION=off (nothing to decode)', async () => {
    await expect(startCodecServer({ env: loadEnv({ PAYLOAD_ENCRYPTION: 'off' }), port: 0, adminKeys: false })).rejects.toThrow(/PAYLOAD_ENCRYPTION=off/);
  });
});
