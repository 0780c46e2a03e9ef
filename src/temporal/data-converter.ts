/**
 * The data converter every Temporal Client and Worker of the project is built with, so that a
 * payload encrypted by one process (the CLI, the gateway, a worker) decodes in every other:
 *
 *   new Client({ connection, namespace, dataConverter: dataConverterFor(env) })
 *   Worker.create({ ..., dataConverter: dataConverterFor(env) })
 *
 * The keyring is read once per process and key source (a key file is not re-read per client).
 */
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../privacy/payload-codec';
import { loadPayloadKeyring, type PayloadKeyEnv } from '../privacy/payload-keys';
import { PROJECT_ROOT } from '../project-root';

/** Failure messages and stack traces travel as (encrypted) encoded attributes: see the file. */
export const FAILURE_CONVERTER_PATH = path.join(PROJECT_ROOT, 'src', 'temporal', 'failure-converter.js');

const codecs = new Map<string, AesGcmPayloadCodec | null>();

/** The codec the environment asks for (null when PAYLOAD_ENCRYPTION=off). ConfigError on bad keys. */
export function payloadCodecFor(env: PayloadKeyEnv): AesGcmPayloadCodec | null {
  const cacheKey = JSON.stringify([env.PAYLOAD_ENCRYPTION, env.PAYLOAD_KEYS, env.PAYLOAD_KEYS_FILE, env.NODE_ENV]);
  let codec = codecs.get(cacheKey);
  if (codec === undefined) {
    const keyring = loadPayloadKeyring(env);
    codec = keyring ? new AesGcmPayloadCodec(keyring) : null;
    codecs.set(cacheKey, codec);
  }
  return codec;
}

export function dataConverterFor(env: PayloadKeyEnv): DataConverter {
  const codec = payloadCodecFor(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH } : {};
}

/** What a start-up log line says about encryption (key ids and their source, never keys). */
export function payloadEncryptionSummary(env: PayloadKeyEnv): { payloadEncryption: 'on' | 'off'; keyId?: string; keyIds?: string[]; keySource?: string } {
  const codec = payloadCodecFor(env);
  if (!codec) return { payloadEncryption: 'off' };
  return { payloadEncryption: 'on', keyId: codec.keyId, keyIds: codec.keyring.keys.map((k) => k.id), keySource: codec.keyring.source };
}
