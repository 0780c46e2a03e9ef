/**
 * The payload codec: every payload the client, the worker and the gateway send to Temporal
 * (workflow and activity inputs and results, signals, queries, updates, memo) leaves the process
 * as AES-256-GCM ciphertext, so histories, the Web UI and exports show no prompt or answer
 * without the key (the codec server decodes for people allowed to read them).
 *
 * Wire format (the same as Temporal's encryption samples, so other SDKs can implement it; see
 * clients/python/orchestrator_codec.py):
 *   metadata.encoding             = "binary/encrypted"
 *   metadata.encryption-key-id    = the key's id (decoding picks the key by it)
 *   metadata.encryption-cipher    = "AES-256-GCM"
 *   metadata.encryption-compression = "zlib" when the plaintext was deflated first (absent otherwise)
 *   data = 12-byte nonce || ciphertext || 16-byte tag, of the protobuf-serialized original Payload
 *          (zlib-deflated first when it is at least `compressAbove` bytes and deflating shrinks it)
 *   associated data = "<key id>\n<compression or empty>", so the metadata cannot be swapped.
 *
 * Payloads without `binary/encrypted` decode unchanged: histories recorded before encryption (or
 * started by a client without the codec) still replay and still run.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { PayloadKey, PayloadKeyring } from './payload-keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
export const COMPRESSION_METADATA = 'encryption-compression';
const CIPHER = 'AES-256-GCM';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/**
 * Payloads at least this large (serialized) are deflated before encryption: the large ones (a
 * request's stored record, several answers together) shrink the history; below it deflating
 * costs more time (~25 µs a payload, encode and decode) than the few bytes it saves are worth.
 */
export const DEFAULT_COMPRESS_ABOVE = 4096;

/** A payload could not be decrypted: its key is not configured, or it was altered. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('utf8') : '');

export interface PayloadCodecOptions {
  /** Default DEFAULT_COMPRESS_ABOVE; Infinity turns compression off. */
  compressAbove?: number;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly encryptWith: PayloadKey;
  private readonly byId: Map<string, Buffer>;
  private readonly compressAbove: number;

  constructor(
    readonly keyring: PayloadKeyring,
    options: PayloadCodecOptions = {},
  ) {
    const [newest] = keyring.keys;
    if (!newest) throw new Error('AesGcmPayloadCodec needs at least one key');
    this.encryptWith = newest;
    this.byId = new Map(keyring.keys.map((k) => [k.id, k.key]));
    this.compressAbove = options.compressAbove ?? DEFAULT_COMPRESS_ABOVE;
  }

  /** The id new payloads are encrypted with. */
  get keyId(): string {
    return this.encryptWith.id;
  }

  // A failure is a rejected promise, as the SDK expects of a codec, never a synchronous throw.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return settle(() => {
      // One call to the random source for the batch's nonces.
      const nonces = randomBytes(NONCE_BYTES * payloads.length);
      return payloads.map((p, i) => this.encryptOne(p, nonces.subarray(i * NONCE_BYTES, (i + 1) * NONCE_BYTES)));
    });
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return settle(() => payloads.map((p) => this.decryptOne(p)));
  }

  /** `nonce`: 12 bytes never used before with this key (default: fresh random bytes). */
  encryptOne(payload: Payload, nonce: Buffer = randomBytes(NONCE_BYTES)): Payload {
    let plain: Uint8Array = temporal.api.common.v1.Payload.encode(payload).finish();
    let compression = '';
    if (plain.length >= this.compressAbove) {
      const deflated = deflateSync(plain, { level: 1 });
      if (deflated.length < plain.length) {
        plain = deflated;
        compression = 'zlib';
      }
    }
    const { id, key } = this.encryptWith;
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(associatedData(id, compression));
    const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8(id),
        [CIPHER_METADATA]: utf8(CIPHER),
        ...(compression && { [COMPRESSION_METADATA]: utf8(compression) }),
      },
      data,
    };
  }

  decryptOne(payload: Payload): Payload {
    const metadata = payload.metadata ?? {};
    if (text(metadata[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const id = text(metadata[KEY_ID_METADATA]);
    const key = this.byId.get(id);
    if (!key) {
      throw new PayloadDecryptionError(`payload is encrypted with key '${id}', which is not among the configured keys (${[...this.byId.keys()].join(', ')}): add it to PAYLOAD_KEYS`);
    }
    const compression = text(metadata[COMPRESSION_METADATA]);
    if (compression !== '' && compression !== 'zlib') throw new PayloadDecryptionError(`payload uses unknown compression '${compression}'`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload is ${data.length} bytes, shorter than nonce and tag`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
    decipher.setAAD(associatedData(id, compression));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch (err) {
      throw new PayloadDecryptionError(`payload encrypted with key '${id}' failed authentication (altered, or a different key under the same id)`, { cause: err });
    }
    if (compression === 'zlib') plain = inflateSync(plain);
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function associatedData(keyId: string, compression: string): Buffer {
  return Buffer.from(`${keyId}\n${compression}`, 'utf8');
}

/** True when a payload is this codec's ciphertext (exports, tests, the codec server's report). */
export function isEncryptedPayload(payload: Payload): boolean {
  return text(payload.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING;
}

/** The key id an encrypted payload names, or null. */
export function payloadKeyId(payload: Payload): string | null {
  return isEncryptedPayload(payload) ? text(payload.metadata?.[KEY_ID_METADATA]) || null : null;
}
