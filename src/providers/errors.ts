/**
 * Provider call failures, classified once, at the adapter boundary. Whether a failure is
 * retryable is decided here and nowhere else; activities turn a `ProviderCallError` into an
 * `ApplicationFailure` of the same `type` (non-retryable when `retryable` is false, with
 * `nextRetryDelay` from `retryAfterMs`).
 */
import * as OpenAI from 'openai';
import * as Anthropic from '@anthropic-ai/sdk';
import { ApiError as GoogleApiError } from '@google/genai';
import { z } from 'zod';

export const PROVIDER_ERROR_TYPES = [
  'ProviderRateLimited',
  'ProviderOverloaded',
  'ProviderServerError',
  'ProviderTimeout',
  'ProviderConflict',
  'ProviderConnectionError',
  'ProviderMalformedResponse',
  'ProviderBadRequest',
  'ProviderAuthError',
  'ProviderContentFiltered',
  'ProviderContextLengthExceeded',
  /** The caller's AbortSignal fired (activity cancelled): not a provider fault. */
  'ProviderAborted',
] as const;
export type ProviderErrorType = (typeof PROVIDER_ERROR_TYPES)[number];

const RETRYABLE: Record<ProviderErrorType, boolean> = {
  ProviderRateLimited: true,
  ProviderOverloaded: true,
  ProviderServerError: true,
  ProviderTimeout: true,
  ProviderConflict: true,
  ProviderConnectionError: true,
  ProviderMalformedResponse: true,
  ProviderBadRequest: false,
  ProviderAuthError: false,
  ProviderContentFiltered: false,
  ProviderContextLengthExceeded: false,
  ProviderAborted: false,
};

export interface ProviderCallErrorInit {
  type: ProviderErrorType;
  provider: string;
  model: string;
  /** Already redacted. */
  detail: string;
  status?: number | null;
  retryAfterMs?: number | null;
  requestId?: string | null;
  /** Only for the few cases where the status alone misleads (e.g. a 429 for an exhausted quota). */
  retryable?: boolean;
}

export class ProviderCallError extends Error {
  override readonly name = 'ProviderCallError';
  readonly type: ProviderErrorType;
  readonly retryable: boolean;
  readonly status: number | null;
  readonly retryAfterMs: number | null;
  readonly provider: string;
  readonly model: string;
  readonly requestId: string | null;

  constructor(init: ProviderCallErrorInit) {
    const status = init.status ?? null;
    super(`${init.provider}:${init.model} ${init.type}${status === null ? '' : ` (HTTP ${status})`}: ${truncate(init.detail, 500)}`);
    this.type = init.type;
    this.retryable = init.retryable ?? RETRYABLE[init.type];
    this.status = status;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.provider = init.provider;
    this.model = init.model;
    this.requestId = init.requestId ?? null;
  }
}

export function isProviderCallError(err: unknown): err is ProviderCallError {
  return err instanceof ProviderCallError;
}

export interface ClassifyContext {
  provider: string;
  model: string;
  /** The caller's signal: when it fired, any failure is an abort, never a timeout. */
  signal?: AbortSignal | undefined;
  /** Values scrubbed from every message (the API key in use). */
  secrets?: readonly string[] | undefined;
}

/** Turn whatever an SDK threw into a `ProviderCallError`. Handles openai, @anthropic-ai/sdk and @google/genai errors. */
export function classifyProviderError(err: unknown, ctx: ClassifyContext): ProviderCallError {
  if (err instanceof ProviderCallError) return err;
  const make = (type: ProviderErrorType, detail: string, extra: Partial<ProviderCallErrorInit> = {}): ProviderCallError =>
    new ProviderCallError({ type, provider: ctx.provider, model: ctx.model, detail: redactSecrets(detail, ctx.secrets), ...extra });
  const message = err instanceof Error ? err.message : String(err);

  if (ctx.signal?.aborted || err instanceof OpenAI.APIUserAbortError || err instanceof Anthropic.APIUserAbortError) {
    return make('ProviderAborted', 'request aborted by caller');
  }
  if (err instanceof OpenAI.APIConnectionTimeoutError || err instanceof Anthropic.APIConnectionTimeoutError) {
    return make('ProviderTimeout', 'request timed out');
  }
  if (err instanceof OpenAI.APIConnectionError || err instanceof Anthropic.APIConnectionError) {
    return make('ProviderConnectionError', connectionDetail(err));
  }
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    return fromHttp(make, {
      status: err.status,
      headers: asHeaders(err.headers),
      code: err.code ?? err.type ?? null,
      message,
      requestId: err.requestID ?? null,
    });
  }
  if (err instanceof Anthropic.APIError && typeof err.status === 'number') {
    return fromHttp(make, {
      status: err.status,
      headers: asHeaders(err.headers),
      code: err.errorCode ?? err.type ?? null,
      message: err.apiMessage ?? message,
      requestId: err.requestID ?? null,
    });
  }
  if (err instanceof GoogleApiError) return fromGoogle(make, err);
  if (isNamed(err, 'AbortError') || isNamed(err, 'TimeoutError')) {
    // @google/genai reports its own timeout as a plain AbortError; the caller's abort was handled above.
    return make('ProviderTimeout', 'request timed out');
  }
  if (err instanceof SyntaxError) return make('ProviderMalformedResponse', `response is not valid JSON: ${message}`);
  const code = errorCode(err);
  if (code !== null && /TIMEDOUT|TIMEOUT/.test(code)) return make('ProviderTimeout', connectionDetail(err));
  if (code !== null || (err instanceof TypeError && /fetch failed|network|socket/i.test(message))) {
    return make('ProviderConnectionError', connectionDetail(err));
  }
  // Unknown failures are treated as transient: Temporal's bounded attempts cap the cost of being wrong.
  return make('ProviderServerError', `unexpected error: ${message}`);
}

/**
 * A failed HTTP response of a plain HTTP API (plugin connectors, src/plugins), classified like the
 * SDKs' failures: 429 with its Retry-After, 408/409/5xx retryable, other 4xx not.
 */
export function httpProviderError(ctx: ClassifyContext, f: { status: number; message: string; headers?: Headers | undefined; code?: string | null; requestId?: string | null }): ProviderCallError {
  const make: Make = (type, detail, extra = {}) => new ProviderCallError({ type, provider: ctx.provider, model: ctx.model, detail: redactSecrets(detail, ctx.secrets), ...extra });
  return fromHttp(make, { status: f.status, headers: f.headers, code: f.code ?? null, message: f.message, requestId: f.requestId ?? null });
}

/** A 2xx response whose body does not have the shape the connector needs. */
export function malformedResponse(ctx: ClassifyContext, detail: string, requestId: string | null = null): ProviderCallError {
  return new ProviderCallError({
    type: 'ProviderMalformedResponse',
    provider: ctx.provider,
    model: ctx.model,
    detail: redactSecrets(detail, ctx.secrets),
    requestId,
  });
}

interface HttpFailure {
  status: number;
  headers: Headers | undefined;
  code: string | null;
  message: string;
  requestId: string | null;
  /** Delay the body asked for (Google's RetryInfo), used when no header says otherwise. */
  bodyRetryAfterMs?: number | null;
}

type Make = (type: ProviderErrorType, detail: string, extra?: Partial<ProviderCallErrorInit>) => ProviderCallError;

function fromHttp(make: Make, f: HttpFailure): ProviderCallError {
  const type = typeForHttp(f);
  const retryAfterMs = retryAfterMsFromHeaders(f.headers, f.status) ?? f.bodyRetryAfterMs ?? null;
  // A 429 for an exhausted quota or billing problem will not clear by waiting.
  const retryable = type === 'ProviderRateLimited' && f.code !== null && /insufficient_quota|billing/i.test(f.code) ? false : undefined;
  return make(type, f.message, { status: f.status, retryAfterMs, requestId: f.requestId, ...(retryable === undefined ? {} : { retryable }) });
}

function typeForHttp({ status, code, message }: HttpFailure): ProviderErrorType {
  const hint = `${code ?? ''} ${message}`;
  if (status === 400 || status === 413 || status === 422) {
    if (/context_length_exceeded|context length|prompt is too long|too many tokens|exceeds the maximum number of tokens|maximum context/i.test(hint)) {
      return 'ProviderContextLengthExceeded';
    }
    if (/content_policy_violation|content_filter|content management policy|SAFETY/.test(hint)) return 'ProviderContentFiltered';
  }
  if (status === 401 || status === 403) return 'ProviderAuthError';
  if (status === 408) return 'ProviderTimeout';
  if (status === 409) return 'ProviderConflict';
  if (status === 429) return 'ProviderRateLimited';
  if (status === 503 || status === 529 || /overloaded_error|UNAVAILABLE/.test(hint)) return 'ProviderOverloaded';
  if (status >= 500) return 'ProviderServerError';
  return 'ProviderBadRequest';
}

const GoogleErrorBodySchema = z.object({
  error: z.object({
    message: z.string().optional(),
    status: z.string().optional(),
    details: z.array(z.looseObject({ '@type': z.string().optional(), retryDelay: z.string().optional() })).optional(),
  }),
});

/** @google/genai keeps only the status and the JSON body (as the message); headers are lost, so the delay comes from RetryInfo. */
function fromGoogle(make: Make, err: GoogleApiError): ProviderCallError {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(err.message);
  } catch {
    // not JSON: keep the raw message
  }
  const body = GoogleErrorBodySchema.safeParse(parsed);
  const info = body.success ? body.data.error : null;
  const retryDelay = info?.details?.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'))?.retryDelay;
  return fromHttp(make, {
    status: err.status,
    headers: undefined,
    code: info?.status ?? null,
    message: info?.message ?? err.message,
    requestId: null,
    bodyRetryAfterMs: retryDelay === undefined ? null : parseDuration(retryDelay),
  });
}

/**
 * How long the provider asked us to wait, in ms: `retry-after-ms`, then `Retry-After` (seconds
 * or HTTP-date), then, for a 429, the reset time of the exhausted rate limit
 * (`anthropic-ratelimit-*-reset` RFC 3339 times, `x-ratelimit-reset-*` durations like `6m0s`).
 */
export function retryAfterMsFromHeaders(headers: Headers | undefined, status: number, now: number = Date.now()): number | null {
  if (!headers) return null;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  if (status !== 429) return null;
  const waits: number[] = [];
  for (const limit of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
    const exhausted = (remaining: string | null): boolean => remaining === null || Number(remaining) <= 0;
    const anthropicReset = headers.get(`anthropic-ratelimit-${limit}-reset`);
    if (anthropicReset && exhausted(headers.get(`anthropic-ratelimit-${limit}-remaining`))) {
      const at = Date.parse(anthropicReset);
      if (!Number.isNaN(at)) waits.push(Math.max(0, at - now));
    }
    const openaiReset = headers.get(`x-ratelimit-reset-${limit}`);
    if (openaiReset && exhausted(headers.get(`x-ratelimit-remaining-${limit}`))) {
      const wait = parseDuration(openaiReset);
      if (wait !== null) waits.push(wait);
    }
  }
  return waits.length > 0 ? Math.max(...waits) : null;
}

/** `1.5s`, `6m0s`, `20ms`, `1h2m3s` -> ms; null when unparseable. */
export function parseDuration(text: string): number | null {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.trim()) return null;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return Math.round(parts.reduce((sum, [, n, u]) => sum + Number(n) * (unit[u ?? 's'] ?? 1000), 0));
}

const KEY_PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{8,}/g, // OpenAI, Anthropic (sk-ant-...)
  /\bAIza[0-9A-Za-z_-]{20,}/g, // Google
  /(bearer\s+)[^\s"',}]+/gi,
  /((?:x-api-key|x-goog-api-key|api[_-]?key)["']?\s*[:=]\s*["']?)[^\s"',}]+/gi,
];

/** Secrets shorter than this (placeholders like the emulator's key) are not worth scrubbing from every word. */
const MIN_SECRET_LENGTH = 12;

/** Remove the given secrets and anything shaped like an API key. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join('[redacted]');
  for (const pattern of KEY_PATTERNS) out = out.replace(pattern, (_m, prefix: unknown) => `${typeof prefix === 'string' ? prefix : ''}[redacted]`);
  return out;
}

function connectionDetail(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  const code = errorCode(cause) ?? errorCode(err);
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  return code === null ? `connection failed: ${message}` : `connection failed (${code}): ${message}`;
}

function errorCode(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
  }
  return null;
}

function asHeaders(value: unknown): Headers | undefined {
  return value instanceof Headers ? value : undefined;
}

function isNamed(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
