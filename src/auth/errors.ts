/**
 * Typed errors of API key management (src/auth/keys.ts). A bad input to `create` is an
 * `InvalidRequest` (src/errors.ts) naming the field; these are the operations' own refusals.
 */
export type ApiKeyErrorCode = 'ApiKeyNotFound' | 'AmbiguousKeyPrefix';

export class ApiKeyError extends Error {
  readonly code: ApiKeyErrorCode;
  /** Structured details (ids and prefixes only, never a key or its hash). */
  readonly details: Record<string, unknown>;
  constructor(code: ApiKeyErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
  override get name(): string {
    return this.code;
  }
}
