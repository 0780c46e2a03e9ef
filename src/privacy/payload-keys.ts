/**
 * The keys that encrypt Temporal payloads (prompts, answers, every workflow and activity input and
 * result). They come from the environment or a key file, never from config.yaml, and are never
 * logged: only their ids are.
 *
 *   PAYLOAD_KEYS=<id>:<base64 of 32 bytes>[,<id>:<base64>...]   newest first
 *   PAYLOAD_KEYS_FILE=/run/secrets/payload-keys                 the same entries, one per line
 *   PAYLOAD_ENCRYPTION=on (default) | off
 *
 * New payloads are encrypted with the first (newest) key; every listed key still decrypts, so a
 * rotation is "prepend the new key, restart the processes, drop the old key once no history that
 * needs it is kept". With neither variable set, a development checkout generates one local key in
 * `.data/payload-keys` (mode 0600, git-ignored) and every process of the checkout shares it; with
 * NODE_ENV=production that is an error instead: production keys are provisioned, not invented.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Env } from '../config/env';
import { ConfigError } from '../errors';
import { PROJECT_ROOT } from '../project-root';

export const PAYLOAD_KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The development key file a checkout generates when no keys are configured. */
export const LOCAL_PAYLOAD_KEYS_FILE = path.join(PROJECT_ROOT, '.data', 'payload-keys');

export interface PayloadKey {
  id: string;
  key: Buffer;
}

export interface PayloadKeyring {
  /** Newest first: `keys[0]` encrypts. */
  keys: PayloadKey[];
  /** Where they came from, for logs (never the keys): 'PAYLOAD_KEYS', 'file:<path>' or 'generated:<path>'. */
  source: string;
}

export type PayloadKeyEnv = Pick<Env, 'PAYLOAD_KEYS' | 'PAYLOAD_KEYS_FILE' | 'PAYLOAD_ENCRYPTION' | 'NODE_ENV'>;

/** `<id>:<base64>` entries (comma- or newline-separated; `#` starts a comment line in a file). */
export function parsePayloadKeys(text: string, variable: string): PayloadKey[] {
  const entries = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new ConfigError(`${variable} holds no key`, [{ path: variable, message: 'no <id>:<base64 key> entry' }]);
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const where = `${variable}[${i}]`;
    const colon = entry.indexOf(':');
    // The messages name the entry and its id, never the key material.
    if (colon <= 0) throw new ConfigError(`${where} must be <id>:<base64 of ${PAYLOAD_KEY_BYTES} bytes>`, [{ path: where, message: 'expected <id>:<base64 key>' }]);
    const id = entry.slice(0, colon);
    if (!KEY_ID.test(id)) throw new ConfigError(`${where}: key id '${id.slice(0, 64)}' must be 1-64 characters of [A-Za-z0-9._-]`, [{ path: where, message: 'bad key id' }]);
    if (seen.has(id)) throw new ConfigError(`${where}: key id '${id}' is listed twice`, [{ path: where, message: 'duplicate key id' }]);
    seen.add(id);
    const encoded = entry.slice(colon + 1);
    const key = Buffer.from(encoded, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || key.length !== PAYLOAD_KEY_BYTES) {
      throw new ConfigError(`${where}: key '${id}' must be ${PAYLOAD_KEY_BYTES} bytes in base64 (e.g. openssl rand -base64 32), got ${key.length} bytes`, [{ path: where, message: `not ${PAYLOAD_KEY_BYTES} bytes of base64` }]);
    }
    return { id, key };
  });
}

/** A fresh `<id>:<base64>` entry (the CLI's `keys` helpers and the local key file use it). */
export function newPayloadKeyEntry(id = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`): string {
  return `${id}:${randomBytes(PAYLOAD_KEY_BYTES).toString('base64')}`;
}

function readKeyFile(file: string): PayloadKey[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read PAYLOAD_KEYS_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, [{ path: 'PAYLOAD_KEYS_FILE', message: 'unreadable' }], { cause: err });
  }
  return parsePayloadKeys(text, `PAYLOAD_KEYS_FILE (${file})`);
}

/**
 * The checkout's local key: read it, or create it once. Several processes may start at the same
 * moment (a worker, a client, the test suite): the file is written aside and hard-linked into
 * place, which fails for all but the first, so everyone ends up with the same key.
 */
export function ensureLocalKeyFile(file = LOCAL_PAYLOAD_KEYS_FILE): PayloadKey[] {
  try {
    return parsePayloadKeys(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const text = `# Development payload key of this checkout (generated ${new Date().toISOString()}). Never use it in production.\n${newPayloadKeyEntry('local-dev')}\n`;
  writeFileSync(aside, text, { mode: 0o600 });
  try {
    linkSync(aside, file);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  } finally {
    unlinkSync(aside);
  }
  chmodSync(file, 0o600);
  return parsePayloadKeys(readFileSync(file, 'utf8'), file);
}

/**
 * The keyring the environment asks for, or null when PAYLOAD_ENCRYPTION=off. Throws ConfigError
 * naming the variable for a malformed key, an unreadable file, or production without keys.
 */
export function loadPayloadKeyring(env: PayloadKeyEnv): PayloadKeyring | null {
  if (env.PAYLOAD_ENCRYPTION === 'off') return null;
  if (env.PAYLOAD_KEYS && env.PAYLOAD_KEYS_FILE) {
    throw new ConfigError('set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both', [{ path: 'PAYLOAD_KEYS', message: 'set together with PAYLOAD_KEYS_FILE' }]);
  }
  if (env.PAYLOAD_KEYS) return { keys: parsePayloadKeys(env.PAYLOAD_KEYS, 'PAYLOAD_KEYS'), source: 'PAYLOAD_KEYS' };
  if (env.PAYLOAD_KEYS_FILE) return { keys: readKeyFile(env.PAYLOAD_KEYS_FILE), source: `file:${env.PAYLOAD_KEYS_FILE}` };
  if (env.NODE_ENV === 'production') {
    throw new ConfigError('payload encryption is on and no key is configured: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE (generate one with `npm run cli -- payload-keys new`), or PAYLOAD_ENCRYPTION=off to store prompts in plain text', [
      { path: 'PAYLOAD_KEYS', message: 'required when NODE_ENV=production' },
    ]);
  }
  return { keys: ensureLocalKeyFile(), source: `generated:${path.relative(process.cwd(), LOCAL_PAYLOAD_KEYS_FILE) || LOCAL_PAYLOAD_KEYS_FILE}` };
}
