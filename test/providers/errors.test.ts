import { describe, expect, it } from 'vitest';
import * as OpenAI from 'openai';
import * as Anthropic from '@anthropic-ai/sdk';
import { ApiError as GoogleApiError } from '@google/genai';
import { classifyProviderError, parseDuration, redactSecrets, retryAfterMsFromHeaders } from '../../src/providers/errors';

const ctx = { provider: 'p', model: 'm' };
const NOW = Date.parse('2025-01-01T00:00:00Z');

describe('retryAfterMsFromHeaders', () => {
  it('reads Retry-After seconds and HTTP-dates, preferring retry-after-ms', () => {
    expect(retryAfterMsFromHeaders(new Headers({ 'retry-after': '2' }), 429)).toBe(2000);
    expect(retryAfterMsFromHeaders(new Headers({ 'retry-after': '1.5' }), 503)).toBe(1500);
    expect(retryAfterMsFromHeaders(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), 429, NOW)).toBe(7000);
    expect(retryAfterMsFromHeaders(new Headers({ 'retry-after': 'Tue, 31 Dec 2024 23:00:00 GMT' }), 429, NOW)).toBe(0);
    expect(retryAfterMsFromHeaders(new Headers({ 'retry-after': '2', 'retry-after-ms': '250' }), 429)).toBe(250);
    expect(retryAfterMsFromHeaders(new Headers(), 429)).toBeNull();
    expect(retryAfterMsFromHeaders(undefined, 429)).toBeNull();
  });

  it('falls back to the exhausted rate limit reset on a 429 only', () => {
    const anthropic = new Headers({
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2025-01-01T00:00:03Z',
      'anthropic-ratelimit-tokens-remaining': '5000',
      'anthropic-ratelimit-tokens-reset': '2025-01-01T00:01:00Z',
    });
    expect(retryAfterMsFromHeaders(anthropic, 429, NOW)).toBe(3000);
    const openai = new Headers({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-reset-requests': '20ms', 'x-ratelimit-remaining-requests': '10' });
    expect(retryAfterMsFromHeaders(openai, 429, NOW)).toBe(360_000);
    expect(retryAfterMsFromHeaders(openai, 500, NOW)).toBeNull();
  });

  it('parses Go-style durations', () => {
    expect(parseDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseDuration('20ms')).toBe(20);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('soon')).toBeNull();
  });
});

describe('redactSecrets', () => {
  it('removes given secrets and key-shaped strings', () => {
    const key = ['sk', 'live', 'abcdefghijklmnopqrstuvwxyz'].join('-'); // fake, built at run time
    expect(redactSecrets(`bad key ${key}`, [key])).not.toContain(key);
    expect(redactSecrets(`key ${['sk', 'ant', 'api03', 'AAAAAAAAAAAAAAAA'].join('-')}`)).toBe('key [redacted]');
    expect(redactSecrets(`${'AIza'}SyA1234567890abcdefghijklmnopqrstu is invalid`)).toBe('[redacted] is invalid');
    expect(redactSecrets('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(redactSecrets('{"x-goog-api-key":"whatever123"}')).toBe('{"x-goog-api-key":"[redacted]"}');
    // Short placeholders such as the emulator's key are not scrubbed out of ordinary words.
    expect(redactSecrets('emulator: boom', ['emulator'])).toBe('emulator: boom');
  });
});

describe('classifyProviderError', () => {
  it('maps OpenAI status errors, including exhausted quota and context length', () => {
    const quota = OpenAI.APIError.generate(429, { error: { message: 'You exceeded your current quota', code: 'insufficient_quota' } }, undefined, new Headers());
    expect(classifyProviderError(quota, ctx)).toMatchObject({ type: 'ProviderRateLimited', retryable: false, status: 429 });
    const limited = OpenAI.APIError.generate(429, { error: { message: 'slow down', code: 'rate_limit_exceeded' } }, undefined, new Headers({ 'retry-after': '3' }));
    expect(classifyProviderError(limited, ctx)).toMatchObject({ type: 'ProviderRateLimited', retryable: true, retryAfterMs: 3000 });
    const long = OpenAI.APIError.generate(400, { error: { message: 'too long', code: 'context_length_exceeded' } }, undefined, new Headers());
    expect(classifyProviderError(long, ctx)).toMatchObject({ type: 'ProviderContextLengthExceeded', retryable: false });
    const filtered = OpenAI.APIError.generate(400, { error: { message: 'no', code: 'content_policy_violation' } }, undefined, new Headers());
    expect(classifyProviderError(filtered, ctx)).toMatchObject({ type: 'ProviderContentFiltered', retryable: false });
    expect(classifyProviderError(OpenAI.APIError.generate(408, undefined, 'slow', new Headers()), ctx)).toMatchObject({ type: 'ProviderTimeout', retryable: true });
    expect(classifyProviderError(OpenAI.APIError.generate(422, undefined, 'bad', new Headers()), ctx)).toMatchObject({ type: 'ProviderBadRequest', retryable: false });
    expect(classifyProviderError(new OpenAI.APIConnectionTimeoutError(), ctx)).toMatchObject({ type: 'ProviderTimeout', retryable: true });
    expect(classifyProviderError(new OpenAI.APIUserAbortError(), ctx)).toMatchObject({ type: 'ProviderAborted', retryable: false });
  });

  it('maps Anthropic errors by status and body type', () => {
    const overloaded = Anthropic.APIError.generate(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, new Headers({ 'request-id': 'req_1' }));
    expect(classifyProviderError(overloaded, ctx)).toMatchObject({ type: 'ProviderOverloaded', retryable: true, status: 529, requestId: 'req_1' });
    const tooLong = Anthropic.APIError.generate(400, { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 250000 tokens > 200000 maximum' } }, undefined, new Headers());
    expect(classifyProviderError(tooLong, ctx)).toMatchObject({ type: 'ProviderContextLengthExceeded', retryable: false });
    const conn = new Anthropic.APIConnectionError({ cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(classifyProviderError(conn, ctx)).toMatchObject({ type: 'ProviderConnectionError', retryable: true });
    expect(classifyProviderError(conn, ctx).message).toContain('ECONNREFUSED');
  });

  it('maps @google/genai ApiError and reads RetryInfo from the body', () => {
    const body = { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }] } };
    const err = new GoogleApiError({ message: JSON.stringify(body), status: 429 });
    expect(classifyProviderError(err, ctx)).toMatchObject({ type: 'ProviderRateLimited', retryable: true, retryAfterMs: 1500, status: 429 });
    expect(classifyProviderError(err, ctx).message).toContain('Resource exhausted');
    expect(classifyProviderError(new GoogleApiError({ message: 'not json', status: 503 }), ctx)).toMatchObject({ type: 'ProviderOverloaded', retryable: true });
  });

  it('tells a caller abort from a timeout for plain fetch aborts', () => {
    const abortError = new DOMException('This operation was aborted', 'AbortError');
    expect(classifyProviderError(abortError, ctx).type).toBe('ProviderTimeout');
    expect(classifyProviderError(abortError, { ...ctx, signal: AbortSignal.abort() }).type).toBe('ProviderAborted');
  });

  it('classifies JSON failures as malformed and unknown errors as retryable server errors', () => {
    expect(classifyProviderError(new SyntaxError('Unexpected end of JSON input'), ctx)).toMatchObject({ type: 'ProviderMalformedResponse', retryable: true });
    expect(classifyProviderError(new Error('weird'), ctx)).toMatchObject({ type: 'ProviderServerError', retryable: true, status: null });
  });

  it('never puts the API key in the message', () => {
    const key = ['sk', 'proj', 'SECRETSECRETSECRET0123456789'].join('-'); // fake, built at run time
    const err = OpenAI.APIError.generate(401, { error: { message: `Incorrect API key provided: ${key}`, code: 'invalid_api_key' } }, undefined, new Headers());
    const classified = classifyProviderError(err, { ...ctx, secrets: [key] });
    expect(classified).toMatchObject({ type: 'ProviderAuthError', retryable: false });
    expect(JSON.stringify({ ...classified, message: classified.message })).not.toContain(key);
  });
});
