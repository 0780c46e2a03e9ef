/** Pieces every connector shares: options, timing + classification around the SDK call, response parsing. */
import type { z } from 'zod';
import type { GenerateRequest } from '../types';
import type { ConnectorOptions, GenerateOptions } from './types';
import { classifyProviderError, malformedResponse, ProviderCallError, type ClassifyContext } from './errors';

/** What the registry passes to a connector factory: the common options plus the provider's generation defaults. */
export interface ConnectorSettings extends ConnectorOptions {
  /** Used when a request does not set maxTokens (config `max_tokens`). */
  maxTokens?: number;
  /** Used when a request does not set temperature (config `temperature`). */
  temperature?: number;
}

/** Per-attempt timeout when the caller gives none (activities always give one). */
export const DEFAULT_TIMEOUT_MS = 120_000;
export const VALIDATE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_TOKENS = 1024;

export function supportedModelList(options: ConnectorOptions): string[] {
  return [...new Set([options.defaultModel, ...options.models])];
}

export function errorContext(options: ConnectorSettings, model: string, call: GenerateOptions = {}): ClassifyContext {
  return { provider: options.provider, model, signal: call.signal, secrets: options.apiKey ? [options.apiKey] : [] };
}

/** A model this provider is not configured for is a bad request, refused before any HTTP call. */
export function assertSupportedModel(options: ConnectorSettings, request: GenerateRequest): void {
  const models = supportedModelList(options);
  if (!models.includes(request.model)) {
    throw new ProviderCallError({
      type: 'ProviderBadRequest',
      provider: options.provider,
      model: request.model,
      detail: `model "${request.model}" is not configured for provider "${options.provider}" (configured: ${models.join(', ')})`,
    });
  }
}

/** Run one SDK call, measure it, and classify any failure once. */
export async function timedCall<T>(ctx: ClassifyContext, call: () => Promise<T>): Promise<{ value: T; latencyMs: number }> {
  const start = performance.now();
  try {
    const value = await call();
    return { value, latencyMs: Math.round(performance.now() - start) };
  } catch (err) {
    throw classifyProviderError(err, ctx);
  }
}

/** Validate the part of an SDK response the connector reads; a mismatch is a malformed response. */
export function parseResponse<S extends z.ZodType>(schema: S, value: unknown, ctx: ClassifyContext, requestId: string | null): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw malformedResponse(ctx, `unexpected response shape (${where.join('; ')})`, requestId);
  }
  return parsed.data;
}

/** An average token log-probability as a confidence in [0,1]. */
export function confidenceFromLogprob(avgLogprob: number | null | undefined): number | null {
  if (avgLogprob === null || avgLogprob === undefined || !Number.isFinite(avgLogprob)) return null;
  return Math.min(1, Math.max(0, Math.exp(avgLogprob)));
}

export function contentFiltered(ctx: ClassifyContext, detail: string, requestId: string | null): ProviderCallError {
  return new ProviderCallError({ type: 'ProviderContentFiltered', provider: ctx.provider, model: ctx.model, detail, requestId });
}

/** Never throws: a connection check reports false on any failure. */
export async function probe(call: (signal: AbortSignal) => Promise<unknown>): Promise<boolean> {
  try {
    await call(AbortSignal.timeout(VALIDATE_TIMEOUT_MS));
    return true;
  } catch {
    return false;
  }
}
