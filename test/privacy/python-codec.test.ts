/**
 * The Python payload codec (clients/python/orchestrator_codec.py, run by the venv's python from
 * scripts/python-env.sh) and the TypeScript AesGcmPayloadCodec speak one wire format: what one
 * encrypts the other decrypts, compressed or not; the metadata is bound to the ciphertext; a key
 * that is not configured is named; both read the same PAYLOAD_KEYS syntax and refuse the same
 * malformed entries.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { AesGcmPayloadCodec, COMPRESSION_METADATA, DEFAULT_COMPRESS_ABOVE, KEY_ID_METADATA, PayloadDecryptionError } from '../../src/privacy/payload-codec';
import { newPayloadKeyEntry, parsePayloadKeys } from '../../src/privacy/payload-keys';
import { requiredService } from '../helpers/services';

const exec = promisify(execFile);
const CODEC = join(__dirname, '..', '..', 'clients', 'python', 'orchestrator_codec.py');

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});
const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: new Uint8Array(Buffer.from(p.data, 'base64')),
});
/** Byte-level view of a payload, for comparisons (Buffer vs Uint8Array does not matter). */
const bytesOf = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('hex')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('hex'),
});
const meta = (p: Payload, key: string): string | undefined => (p.metadata?.[key] ? Buffer.from(p.metadata[key]).toString('utf8') : undefined);

let python: string;
let dir: string;
const A = newPayloadKeyEntry('key-a');
const B = newPayloadKeyEntry('key-b');

async function py(op: 'encode' | 'decode', payloads: Payload[], env: NodeJS.ProcessEnv): Promise<Payload[]> {
  const child = exec(python, [CODEC, op], { env: { PATH: process.env['PATH'], ...env }, timeout: 30_000 });
  child.child.stdin?.end(JSON.stringify(payloads.map(toJson)));
  const { stdout } = await child;
  return (JSON.parse(stdout) as JsonPayload[]).map(fromJson);
}

/** The Python tool's failure: exit code and stderr. */
async function pyFails(op: 'encode' | 'decode', payloads: Payload[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  try {
    await py(op, payloads, env);
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
  throw new Error(`python ${op} succeeded where it should have failed`);
}

const small = defaultPayloadConverter.toPayload({ prompt: 'What is 17 * 23? ünïcödé ✓', userId: 'u1' });
const large = defaultPayloadConverter.toPayload({ prompt: 'Summarize this log line. '.repeat(200), taskType: 'summarization' });
const empty = defaultPayloadConverter.toPayload(undefined);
/** Over 1 KiB but under the 4 KiB threshold: neither side compresses it. */
const medium = defaultPayloadConverter.toPayload({ prompt: 'Translate this sentence into French. '.repeat(60) });
const originals = [small, large, empty, medium];

beforeAll(() => {
  python = requiredService('TEST_PYTHON');
  dir = mkdtempSync(join(tmpdir(), 'py-codec-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Python and TypeScript payload codecs', () => {
  it('payloads Python encrypts decode in TypeScript, the one over the 4 KiB threshold compressed, under the newest key', async () => {
    expect(temporal.api.common.v1.Payload.encode(large).finish().length).toBeGreaterThan(DEFAULT_COMPRESS_ABOVE);
    const mediumBytes = temporal.api.common.v1.Payload.encode(medium).finish().length;
    expect(mediumBytes).toBeGreaterThan(1024);
    expect(mediumBytes).toBeLessThan(DEFAULT_COMPRESS_ABOVE);
    const encoded = await py('encode', originals, { PAYLOAD_KEYS: `${B},${A}` });
    expect(encoded).toHaveLength(4);
    for (const p of encoded) {
      expect(meta(p, 'encoding')).toBe('binary/encrypted');
      expect(meta(p, KEY_ID_METADATA)).toBe('key-b');
      expect(meta(p, 'encryption-cipher')).toBe('AES-256-GCM');
      expect(Buffer.from(p.data!).toString('utf8')).not.toContain('17 * 23');
    }
    expect(meta(encoded[0]!, COMPRESSION_METADATA)).toBeUndefined();
    expect(meta(encoded[1]!, COMPRESSION_METADATA)).toBe('zlib');
    expect(meta(encoded[3]!, COMPRESSION_METADATA)).toBeUndefined();
    expect(encoded[1]!.data!.length).toBeLessThan(temporal.api.common.v1.Payload.encode(large).finish().length / 4);

    const ts = new AesGcmPayloadCodec({ keys: parsePayloadKeys(`${A},${B}`, 'test'), source: 'test' });
    const decoded = await ts.decode(encoded);
    expect(decoded.map(bytesOf)).toEqual(originals.map(bytesOf));
    expect(defaultPayloadConverter.fromPayload(decoded[1]!)).toEqual({ prompt: 'Summarize this log line. '.repeat(200), taskType: 'summarization' });
  });

  it('payloads TypeScript encrypts decode in Python (file keys with a comment line), compressed and not', async () => {
    const ts = new AesGcmPayloadCodec({ keys: parsePayloadKeys(A, 'test'), source: 'test' });
    const encoded = await ts.encode(originals);
    expect(encoded.map((p) => meta(p, COMPRESSION_METADATA) ?? null)).toEqual([null, 'zlib', null, null]);
    const file = join(dir, 'keys');
    writeFileSync(file, `# rotated in 2026\n${B}\n${A}\n`);
    const decoded = await py('decode', encoded, { PAYLOAD_KEYS_FILE: file });
    expect(decoded.map(bytesOf)).toEqual(originals.map(bytesOf));
  });

  it('plain payloads pass through Python decoding unchanged (histories from before encryption)', async () => {
    expect((await py('decode', [small], { PAYLOAD_KEYS: A })).map(bytesOf)).toEqual([bytesOf(small)]);
  });

  it('Python refuses swapped metadata and names a key it does not have; TypeScript does the same for Python payloads', async () => {
    const [encrypted] = await py('encode', [large], { PAYLOAD_KEYS: A });
    // Claiming "no compression" for a compressed payload: the associated data no longer matches.
    const stripped: Payload = { ...encrypted!, metadata: { ...encrypted!.metadata } };
    delete stripped.metadata![COMPRESSION_METADATA];
    const altered = await pyFails('decode', [stripped], { PAYLOAD_KEYS: A });
    expect(altered.code).toBe(1);
    expect(altered.stderr).toMatch(/PayloadDecryptionError: payload encrypted with key 'key-a' failed authentication/);
    const ts = new AesGcmPayloadCodec({ keys: parsePayloadKeys(A, 'test'), source: 'test' });
    await expect(ts.decode([stripped])).rejects.toThrow(/failed authentication/);

    const missing = await pyFails('decode', [encrypted!], { PAYLOAD_KEYS: B });
    expect(missing.stderr).toMatch(/payload is encrypted with key 'key-a', which is not among the configured keys \(key-b\)/);
    const onlyB = new AesGcmPayloadCodec({ keys: parsePayloadKeys(B, 'test'), source: 'test' });
    await expect(onlyB.decode([encrypted!])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it.each([
    ['no colon', 'justtext', /PAYLOAD_KEYS\[0\] must be <id>:<base64 of 32 bytes>/],
    ['a bad id', `bad id!:${A.split(':')[1]}`, /PAYLOAD_KEYS\[0\]: key id 'bad id!' must be 1-64 characters/],
    ['a short key', `${A},k2:${Buffer.alloc(16).toString('base64')}`, /PAYLOAD_KEYS\[1\]: key 'k2' must be 32 bytes in base64 .* got 16 bytes/],
    ['a duplicate id', `${A},${A}`, /PAYLOAD_KEYS\[1\]: key id 'key-a' is listed twice/],
    ['nothing', ' , ', /PAYLOAD_KEYS holds no key/],
  ])('both refuse PAYLOAD_KEYS with %s, naming the entry and never the key', async (_name, value, message) => {
    expect(() => parsePayloadKeys(value, 'PAYLOAD_KEYS')).toThrow(ConfigError);
    expect(() => parsePayloadKeys(value, 'PAYLOAD_KEYS')).toThrow(message);
    const failed = await pyFails('encode', [small], { PAYLOAD_KEYS: value });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`PayloadKeyError: ${message.source}`));
    expect(failed.stderr).not.toContain(A.split(':')[1]);
  });

  it('Python with neither PAYLOAD_KEYS nor PAYLOAD_KEYS_FILE says what to set', async () => {
    const failed = await pyFails('encode', [small], {});
    expect(failed.stderr).toMatch(/PayloadKeyError: no payload key configured: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE/);
  });
});
