/** How the gateway's routes read an API key from a request and word a refusal (one place for /v1 and /admin). */
import type { FastifyRequest } from 'fastify';
import type { AuthenticationResult } from '../auth/keys';

export const AUTH_FAILURES: Record<Exclude<AuthenticationResult, { ok: true }>['reason'], string> = {
  missing: 'no API key: send Authorization: Bearer <key>',
  unknown: 'invalid API key',
  revoked: 'this API key was revoked',
  expired: 'this API key has expired',
};

/** The key of an `Authorization: Bearer <key>` header; '' (read as missing) for any other header. */
export function bearerKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : '';
}
