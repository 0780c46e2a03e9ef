/**
 * The payload codec and its keyring, without Temporal: round trips, compression, tampering,
 * rotation, and every way a key setting can be wrong.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { AesGcmPayloadCodec, COMPRESSION_METADATA, DEFAULT_COMPRESS_ABOVE, isEncryptedPayload, KEY_ID_METADATA, PayloadDecryptionError, payloadKeyId } from '../../src/privacy/payload-codec';
import { ensureLocalKeyFile, loadPayloadKeyring, newPayloadKeyEntry, parsePayloadKeys, type PayloadKeyring } from '../../src/privacy/payload-keys';
import { PROJECT_ROOT } from '../../src/project-root';

const dir = mkdtempSync(join(tmpdir(), 'payload-codec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ring = (...ids: string[]): PayloadKeyring => ({ keys: ids.map((id) => ({ id, key: randomBytes(32) })), source: 'test' });
const payload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const value = (p: Payload): unknown => defaultPayloadConverter.fromPayload(p);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('AesGcmPayloadCodec', () => {
  const codec = new AesGcmPayloadCodec(ring('k1'));

  it('round-trips payloads, metadata included, and hides their content', async () => {
    const input = [payload({ prompt: 'the secret prompt', n: 42 }), payload(null), payload('x'.repeat(10))];
    const encoded = await codec.encode(input);
    for (const e of encoded) {
      expect(isEncryptedPayload(e)).toBe(true);
      expect(payloadKeyId(e)).toBe('k1');
      expect(text(e.data)).not.toContain('secret');
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map(value)).toEqual([{ prompt: 'the secret prompt', n: 42 }, null, 'x'.repeat(10)]);
    expect(text(decoded[0]!.metadata!['encoding'])).toBe('json/plain');
  });

  it('uses a fresh nonce for every payload: the same value twice gives different ciphertexts', async () => {
    const [a, b] = await codec.encode([payload('same'), payload('same')]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(Buffer.from(a!.data!).subarray(0, 12).equals(Buffer.from(b!.data!).subarray(0, 12))).toBe(false);
  });

  it('deflates large payloads before encryption (and says so in the metadata), not small ones', async () => {
    const large = payload({ document: 'The supplier delivers 40 units a week. '.repeat(300) });
    expect(large.data!.length).toBeGreaterThan(DEFAULT_COMPRESS_ABOVE);
    const [small, big] = await codec.encode([payload('short'), large]);
    expect(small!.metadata![COMPRESSION_METADATA]).toBeUndefined();
    expect(text(big!.metadata![COMPRESSION_METADATA])).toBe('zlib');
    expect(big!.data!.length).toBeLessThan(large.data!.length / 5);
    expect(value((await codec.decode([big!]))[0]!)).toEqual(value(large));
    // Random bytes do not shrink: stored uncompressed.
    const [noise] = await codec.encode([payload(new Uint8Array(randomBytes(8000)))]);
    expect(noise!.metadata![COMPRESSION_METADATA]).toBeUndefined();
  });

  it('passes plain payloads through on decode (histories from before encryption)', async () => {
    const plain = payload({ prompt: 'old' });
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('refuses altered ciphertext, and metadata swapped to another key id or compression', async () => {
    const [e] = await codec.encode([payload('value')]);
    const flipped = Buffer.from(e!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...e!, data: flipped }])).rejects.toBeInstanceOf(PayloadDecryptionError);
    // Same key material under two ids: the id is authenticated, so a relabelled payload fails.
    const shared = randomBytes(32);
    const twoIds = new AesGcmPayloadCodec({ keys: [{ id: 'a', key: shared }, { id: 'b', key: shared }], source: 'test' });
    const [ea] = await twoIds.encode([payload('value')]);
    await expect(twoIds.decode([{ ...ea!, metadata: { ...ea!.metadata, [KEY_ID_METADATA]: Buffer.from('b') } }])).rejects.toThrow(/failed authentication/);
    await expect(twoIds.decode([{ ...ea!, metadata: { ...ea!.metadata, [COMPRESSION_METADATA]: Buffer.from('zlib') } }])).rejects.toThrow(/failed authentication/);
    await expect(codec.decode([{ ...e!, data: Buffer.alloc(10) }])).rejects.toThrow(/shorter than nonce and tag/);
  });

  it('rotation: [B, A] encrypts with B and still decrypts A; [B] alone names the missing key', async () => {
    const a = ring('key-a');
    const b = ring('key-b');
    const [underA] = await new AesGcmPayloadCodec(a).encode([payload('written under A')]);
    const rotated = new AesGcmPayloadCodec({ keys: [...b.keys, ...a.keys], source: 'test' });
    expect(rotated.keyId).toBe('key-b');
    expect(value((await rotated.decode([underA!]))[0]!)).toBe('written under A');
    const [underB] = await rotated.encode([payload('new')]);
    expect(payloadKeyId(underB!)).toBe('key-b');
    const onlyB = new AesGcmPayloadCodec(b);
    await expect(onlyB.decode([underA!])).rejects.toThrow("payload is encrypted with key 'key-a', which is not among the configured keys (key-b)");
  });
});

describe('payload keys', () => {
  const entry = newPayloadKeyEntry('fresh');

  it('parses newest-first entries, comma- or line-separated, with comments', () => {
    const a = newPayloadKeyEntry('a');
    const b = newPayloadKeyEntry('b');
    expect(parsePayloadKeys(`${b},${a}`, 'PAYLOAD_KEYS').map((k) => k.id)).toEqual(['b', 'a']);
    expect(parsePayloadKeys(`# rotation, 2026\n${b}\n\n${a}\n`, 'file').map((k) => k.id)).toEqual(['b', 'a']);
    expect(entry).toMatch(/^fresh:[A-Za-z0-9+/]{43}=$/);
    expect(newPayloadKeyEntry()).toMatch(/^k\d{8}-[0-9a-f]{6}:/);
  });

  it('names the entry and the problem, never the key material', () => {
    const short = `short:${randomBytes(16).toString('base64')}`;
    const cases: [string, RegExp][] = [
      ['', /holds no key/],
      ['nocolon', /PAYLOAD_KEYS\[0\] must be <id>:<base64/],
      [`bad id!:${randomBytes(32).toString('base64')}`, /key id 'bad id!' must be/],
      [short, /PAYLOAD_KEYS\[0\]: key 'short' must be 32 bytes in base64 .* got 16 bytes/],
      [`${entry},${entry}`, /PAYLOAD_KEYS\[1\]: key id 'fresh' is listed twice/],
      ['x:not base64 at all!!', /key 'x' must be 32 bytes/],
    ];
    for (const [input, message] of cases) {
      let error: unknown;
      try {
        parsePayloadKeys(input, 'PAYLOAD_KEYS');
      } catch (err) {
        error = err;
      }
      expect(error, input).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(short.slice(6));
    }
  });

  it('loadPayloadKeyring: off is null; both variables, or production without keys, are ConfigErrors', () => {
    expect(loadPayloadKeyring({ PAYLOAD_ENCRYPTION: 'off', PAYLOAD_KEYS: undefined, PAYLOAD_KEYS_FILE: undefined, NODE_ENV: 'production' })).toBeNull();
    expect(() => loadPayloadKeyring({ PAYLOAD_ENCRYPTION: 'on', PAYLOAD_KEYS: entry, PAYLOAD_KEYS_FILE: '/x', NODE_ENV: undefined })).toThrow(/not both/);
    expect(() => loadPayloadKeyring({ PAYLOAD_ENCRYPTION: 'on', PAYLOAD_KEYS: undefined, PAYLOAD_KEYS_FILE: undefined, NODE_ENV: 'production' })).toThrow(/no key is configured: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE/);
    expect(() => loadPayloadKeyring({ PAYLOAD_ENCRYPTION: 'on', PAYLOAD_KEYS: undefined, PAYLOAD_KEYS_FILE: join(dir, 'missing'), NODE_ENV: undefined })).toThrow(/cannot read PAYLOAD_KEYS_FILE .*missing: ENOENT/);
    const file = join(dir, 'keys');
    writeFileSync(file, `# mounted secret\n${entry}\n`);
    expect(loadPayloadKeyring({ PAYLOAD_ENCRYPTION: 'on', PAYLOAD_KEYS: undefined, PAYLOAD_KEYS_FILE: file, NODE_ENV: 'production' })).toMatchObject({ source: `file:${file}`, keys: [{ id: 'fresh' }] });
    expect(loadPayloadKeyring({ PAYLOAD_ENCRYPTION: 'on', PAYLOAD_KEYS: entry, PAYLOAD_KEYS_FILE: undefined, NODE_ENV: 'production' })?.source).toBe('PAYLOAD_KEYS');
  });

  it('the local key file is created once, private, and several processes starting together share it', async () => {
    const file = join(dir, 'local', 'payload-keys');
    // Six processes race to create it (link-into-place): all must end up with the same key.
    const script = `require('tsx/cjs'); const { ensureLocalKeyFile } = require(${JSON.stringify(join(PROJECT_ROOT, 'src/privacy/payload-keys.ts'))}); process.stdout.write(ensureLocalKeyFile(${JSON.stringify(file)})[0].key.toString('base64'));`;
    const outputs = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<string>((resolve, reject) => {
            const child = spawn(process.execPath, ['-e', script], { cwd: PROJECT_ROOT });
            let out = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.on('error', reject);
            child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
          }),
      ),
    );
    expect(new Set(outputs).size).toBe(1);
    expect(outputs[0]).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(ensureLocalKeyFile(file)[0]!.key.toString('base64')).toBe(outputs[0]);
    expect(readFileSync(file, 'utf8')).toMatch(/^# Development payload key/);
  }, 60_000);
});
