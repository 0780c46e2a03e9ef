/**
 * Who may use the codec server, and from which browser origins.
 *
 * A caller shows a token, as `Authorization: Bearer <token>` (the CLI's `--codec-auth`) or in the
 * path of a personal endpoint URL `/ui/<token>` (the Web UI cannot send a header of its own). The
 * token is either
 *   - a codec key: one of CODEC_SERVER_KEYS (comma-separated secrets, compared in constant time), or
 *   - a gateway API key with admin rights (src/auth/keys.ts), checked against DATABASE_URL's keys.
 * Tokens are never logged; a log line says which kind of token was accepted (and an admin key's
 * display prefix).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthenticationResult } from '../auth/keys';
import { ConfigError } from '../errors';

/** At least this many characters: a codec key is a secret, not a password to remember. */
export const MIN_CODEC_KEY_CHARS = 24;
/** URL-safe, so a codec key can sit in the Web UI's endpoint URL unescaped. */
const CODEC_KEY = /^[A-Za-z0-9._~-]+$/;

/** CODEC_SERVER_KEYS: comma-separated secrets. Errors name the entry, never its value. */
export function parseCodecKeys(text: string | undefined, variable = 'CODEC_SERVER_KEYS'): string[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((raw, i) => {
    const key = raw.trim();
    const where = `${variable}[${i}]`;
    if (key.length < MIN_CODEC_KEY_CHARS) {
      throw new ConfigError(`${where} is ${key.length} characters: a codec key needs at least ${MIN_CODEC_KEY_CHARS} (e.g. openssl rand -hex 32)`, [{ path: where, message: 'too short' }]);
    }
    if (!CODEC_KEY.test(key)) throw new ConfigError(`${where} may hold only A-Z a-z 0-9 . _ ~ - (it goes into a URL)`, [{ path: where, message: 'characters outside A-Za-z0-9._~-' }]);
    return key;
  });
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A constant-time membership test over the codec keys (every key compared, no early exit). */
export function codecKeyMatcher(keys: readonly string[]): (token: string) => boolean {
  const digests = keys.map(digest);
  return (token) => {
    const candidate = digest(token);
    let found = false;
    for (const d of digests) if (timingSafeEqual(d, candidate)) found = true;
    return found;
  };
}

/**
 * The browser origins the Web UI is served from: CODEC_SERVER_CORS_ORIGINS when set
 * (comma-separated origins), else the origin of TEMPORAL_UI_URL and its localhost/127.0.0.1 twin
 * (the UI's origin is whichever of the two a person typed).
 */
export function corsOrigins(env: { CODEC_SERVER_CORS_ORIGINS?: string | undefined; TEMPORAL_UI_URL: string }): string[] {
  if (env.CODEC_SERVER_CORS_ORIGINS !== undefined && env.CODEC_SERVER_CORS_ORIGINS.trim() !== '') {
    return env.CODEC_SERVER_CORS_ORIGINS.split(',').map((raw, i) => originOf(raw.trim(), `CODEC_SERVER_CORS_ORIGINS[${i}]`, true));
  }
  const origin = originOf(env.TEMPORAL_UI_URL, 'TEMPORAL_UI_URL', false);
  const url = new URL(origin);
  const twin = url.hostname === '127.0.0.1' ? 'localhost' : url.hostname === 'localhost' ? '127.0.0.1' : null;
  if (twin === null) return [origin];
  url.hostname = twin;
  return [origin, url.origin];
}

function originOf(text: string, variable: string, exact: boolean): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${variable} '${text}' is not a URL (expected e.g. http://127.0.0.1:8233)`, [{ path: variable, message: 'not a URL' }]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${variable} '${text}' must be http:// or https://`, [{ path: variable, message: 'not http(s)' }]);
  if (exact && text.replace(/\/$/, '') !== url.origin) {
    throw new ConfigError(`${variable} '${text}' must be an origin (scheme://host[:port], no path; '*' is not accepted)`, [{ path: variable, message: 'not an origin' }]);
  }
  return url.origin;
}

export type AccessResult = { ok: true; who: string } | { ok: false; status: 401 | 403 | 503; code: string; message: string };

export interface AccessCheckOptions {
  codecKeys: readonly string[];
  /** Gateway API keys (src/auth/keys.ts authenticate); without it only codec keys are accepted. */
  authenticateApiKey?: (rawKey: string) => Promise<AuthenticationResult>;
}

const REFUSALS = {
  missing: 'no token: send Authorization: Bearer <codec key or admin API key>, or use the endpoint /ui/<token>',
  invalid: 'invalid token: not a codec key of this server, nor an active gateway admin API key',
} as const;

/** Checks one token (undefined: none was sent). */
export function accessChecker(options: AccessCheckOptions): (token: string | undefined) => Promise<AccessResult> {
  const isCodecKey = codecKeyMatcher(options.codecKeys);
  return async (token) => {
    if (token === undefined || token.trim() === '') return { ok: false, status: 401, code: 'missing_token', message: REFUSALS.missing };
    const t = token.trim();
    if (isCodecKey(t)) return { ok: true, who: 'codec-key' };
    if (!options.authenticateApiKey) return { ok: false, status: 401, code: 'invalid_token', message: REFUSALS.invalid };
    let result: AuthenticationResult;
    try {
      result = await options.authenticateApiKey(t);
    } catch (err) {
      return { ok: false, status: 503, code: 'key_store_unavailable', message: `cannot check gateway API keys: ${(err as Error).message}` };
    }
    if (!result.ok) return { ok: false, status: 401, code: 'invalid_token', message: result.reason === 'revoked' || result.reason === 'expired' ? `this API key is ${result.reason}` : REFUSALS.invalid };
    if (!result.key.admin) return { ok: false, status: 403, code: 'not_admin', message: 'this API key is not an admin key: the codec server decodes for admin keys (created with --admin) and codec keys only' };
    return { ok: true, who: `admin-key:${result.key.prefix}` };
  };
}
