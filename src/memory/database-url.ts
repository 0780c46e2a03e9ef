/**
 * DATABASE_URL parsing shared by the client, the migrator and the error mapper.
 * `file:<path>` is SQLite (path relative to the working directory); `postgres://` or
 * `postgresql://` is PostgreSQL. Nothing here opens a connection.
 */
import path from 'node:path';
import { ConfigError, DatabaseConnectionError } from '../errors';

export type DatabaseProvider = 'sqlite' | 'postgresql';

export type DatabaseTarget =
  | { provider: 'sqlite'; url: string; redactedUrl: string; /** Absolute file path, or ':memory:'. */ filePath: string }
  | { provider: 'postgresql'; url: string; redactedUrl: string };

export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith('file:')) {
    // file:./a.db, file:/abs/a.db, file:///abs/a.db; query parameters (Prisma's old connection options) are ignored.
    let rest = url.slice('file:'.length).split('?')[0] ?? '';
    if (rest.startsWith('//')) rest = rest.slice(2);
    if (rest === '') throw new ConfigError('DATABASE_URL "file:" names no file', [{ path: 'DATABASE_URL', message: 'empty SQLite path' }]);
    const filePath = rest === ':memory:' ? rest : path.resolve(decodeURIComponent(rest));
    return { provider: 'sqlite', url, redactedUrl: url, filePath };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`DATABASE_URL is not a valid PostgreSQL URL: ${redactDatabaseUrl(url)}`, [
        { path: 'DATABASE_URL', message: 'invalid URL' },
      ]);
    }
    // Prisma's `?schema=` convention: pg ignores it, so anything but the default would silently
    // read and write `public`. Use a separate database instead.
    const schema = parsed.searchParams.get('schema');
    if (schema !== null && schema !== 'public') {
      throw new ConfigError(`DATABASE_URL: ?schema=${schema} is not supported (tables live in "public"); use a separate database`, [
        { path: 'DATABASE_URL', message: 'unsupported schema parameter' },
      ]);
    }
    return { provider: 'postgresql', url, redactedUrl: redactDatabaseUrl(url) };
  }
  throw new ConfigError(`DATABASE_URL must start with file: (SQLite) or postgresql:// (got ${JSON.stringify(redactDatabaseUrl(url).slice(0, 40))})`, [
    { path: 'DATABASE_URL', message: 'unsupported scheme' },
  ]);
}

/** The URL with its password (and any `password=` parameter) replaced by `***`. */
export function redactDatabaseUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  let out = url;
  if (scheme) {
    const rest = url.slice(scheme.length);
    // The last '@' ends the user info (an unencoded '@' in a password is common). When a query
    // parameter holds an '@' this over-redacts, which is the safe direction.
    const at = rest.lastIndexOf('@');
    const colon = at >= 0 ? rest.slice(0, at).indexOf(':') : -1;
    if (colon >= 0) out = `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`;
  }
  return out.replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/** Every spelling of the URL's password that could leak into a driver message. */
function secretsOf(url: string): string[] {
  const secrets: string[] = [];
  try {
    const parsed = new URL(url);
    if (parsed.password) secrets.push(parsed.password, decodeURIComponent(parsed.password));
    const param = parsed.searchParams.get('password');
    if (param) secrets.push(param);
  } catch {
    // Not a URL: nothing structured to redact beyond redactDatabaseUrl.
  }
  return [...new Set(secrets.filter((s) => s.length > 0))];
}

/** Remove the URL (in any form) and its password from a message. */
export function redactSecrets(text: string, url: string): string {
  let out = text.split(url).join(redactDatabaseUrl(url));
  for (const secret of secretsOf(url)) out = out.split(secret).join('***');
  return out;
}

const CONNECTION_ERROR_CODES = new Set([
  // Node / pg socket errors
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  // PostgreSQL SQLSTATEs: connection exceptions, auth, unknown database, too many connections, shutting down
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '28000',
  '28P01',
  '3D000',
  '53300',
  '57P01',
  '57P02',
  '57P03',
  // Prisma: can't reach / auth failed / timed out / database missing / connection closed / pool timeout
  'P1000',
  'P1001',
  'P1002',
  'P1003',
  'P1010',
  'P1011',
  'P1017',
  'P2024',
  // SQLite: cannot open the file
  'SQLITE_CANTOPEN',
  'SQLITE_NOTADB',
  'SQLITE_PERM',
  'SQLITE_READONLY',
]);

const CONNECTION_ERROR_KINDS = new Set([
  // @prisma/driver-adapter-utils MappedError kinds
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
  'AuthenticationFailed',
  'SocketTimeout',
  'DatabaseNotReachable',
  'ConnectionClosed',
  'TlsConnectionError',
  'TooManyConnections',
  'SqliteCantOpen',
]);

const CONNECTION_MESSAGE = new RegExp(
  [
    "can't reach database server",
    'connection refused',
    'connection terminated',
    'authentication failed',
    'password authentication',
    'database .* does not exist',
    'cannot open database',
    'unable to open database',
    'directory does not exist',
    'getaddrinfo',
    'timeout exceeded when trying to connect',
  ].join('|'),
  'i',
);

/** Walk an error and its causes looking for a sign that the database could not be reached. */
export function isConnectionError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object' && !seen.has(current); depth++) {
    seen.add(current);
    const record = current as Record<string, unknown>;
    for (const key of ['code', 'errorCode', 'originalCode']) {
      const v = record[key];
      if (typeof v === 'string' && CONNECTION_ERROR_CODES.has(v)) return true;
    }
    if (typeof record['kind'] === 'string' && CONNECTION_ERROR_KINDS.has(record['kind'])) return true;
    if (current instanceof AggregateError && current.errors.some((e) => isConnectionError(e))) return true;
    if (typeof record['message'] === 'string' && CONNECTION_MESSAGE.test(record['message'])) return true;
    current = record['cause'] ?? record['meta'];
  }
  return false;
}

export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map((e) => errorMessage(e)).join('; ');
  }
  const raw = error instanceof Error ? error.message || error.name : String(error);
  // Prisma client errors open with "Invalid `prisma.x.y()` invocation in <file>" and a code
  // frame; keep only what the database said, on one line.
  return raw
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^Invalid `.*` invocation/.test(line) && !/^\S+:\d+:\d+$/.test(line) && !/^(→\s*)?\d+(\s|$)/.test(line))
    .join(' ');
}

/** A DatabaseConnectionError naming the (redacted) URL; the driver's message is kept, minus secrets. */
export function databaseConnectionError(url: string, error: unknown, action: string): DatabaseConnectionError {
  const target = redactDatabaseUrl(url);
  const reason = redactSecrets(errorMessage(error).trim(), url);
  return new DatabaseConnectionError(`cannot ${action}: database ${target} is unreachable: ${reason}`, {
    databaseUrl: target,
    code: codeOf(error) ?? null,
  });
}

function codeOf(error: unknown): string | undefined {
  if (error !== null && typeof error === 'object') {
    const code = (error as Record<string, unknown>)['code'];
    if (typeof code === 'string') return code;
    return codeOf((error as Record<string, unknown>)['cause']);
  }
  return undefined;
}
