/**
 * A plugin's connector, made to behave like a built-in one at the boundary: `provider` and `kind`
 * come from config.yaml, the answer is checked and completed (a malformed one is a retryable
 * ProviderMalformedResponse), and every failure is a ProviderCallError classified once here, so
 * retries, Retry-After, circuit breakers, failover, pricing and metrics treat it like any other.
 */
import { z } from 'zod';
import { classifyProviderError, httpProviderError, malformedResponse, PROVIDER_ERROR_TYPES, ProviderCallError, type ClassifyContext, type ProviderErrorType } from '../providers/errors';
import { assertSupportedModel } from '../providers/shared';
import type { GenerateOptions, ModelConnector, StreamOptions, StreamedResponse } from '../providers/types';
import type { GenerateRequest, GenerateResponse } from '../types';
import type { ConnectorTools, PluginConnectorFactory, PluginConnectorSettings, PluginModelConnector } from './types';

const PluginAnswerSchema = z.object({
  content: z.string(),
  tokensIn: z.number().int().nonnegative(),
  tokensOut: z.number().int().nonnegative(),
  model: z.string().min(1).optional(),
  latencyMs: z.number().nonnegative().optional(),
  finishReason: z.enum(['stop', 'length', 'content_filter', 'tool_calls', 'error', 'other']).optional(),
  providerRequestId: z.string().nullable().optional(),
  confidence: z.number().min(0).max(1).nullable().optional(),
});

/**
 * A ProviderCallError from another copy of this code (a plugin that bundled or installed its own)
 * is not `instanceof` ours: recognised by name and type and rebuilt, keeping its classification.
 */
function foreignProviderError(err: unknown, ctx: ClassifyContext): ProviderCallError | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as Record<string, unknown>;
  if (e['name'] !== 'ProviderCallError' || !(PROVIDER_ERROR_TYPES as readonly unknown[]).includes(e['type'])) return null;
  return new ProviderCallError({
    type: e['type'] as ProviderErrorType,
    provider: ctx.provider,
    model: typeof e['model'] === 'string' ? e['model'] : ctx.model,
    detail: typeof e['message'] === 'string' ? e['message'] : '',
    status: typeof e['status'] === 'number' ? e['status'] : null,
    retryAfterMs: typeof e['retryAfterMs'] === 'number' ? e['retryAfterMs'] : null,
    ...(typeof e['retryable'] === 'boolean' && { retryable: e['retryable'] }),
  });
}

function classify(err: unknown, ctx: ClassifyContext): ProviderCallError {
  return foreignProviderError(err, ctx) ?? classifyProviderError(err, ctx);
}

export function connectorTools(settings: PluginConnectorSettings): ConnectorTools {
  const ctx = (model: string): ClassifyContext => ({ provider: settings.provider, model, secrets: settings.apiKey ? [settings.apiKey] : [] });
  return {
    httpError: ({ model, ...f }) => httpProviderError(ctx(model), f),
    providerError: ({ model, type, detail, status, retryAfterMs }) =>
      new ProviderCallError({ type, provider: settings.provider, model, detail, ...(status !== undefined && { status }), ...(retryAfterMs !== undefined && { retryAfterMs }) }),
    malformed: (model, detail) => malformedResponse(ctx(model), detail),
    assertSupportedModel: (request) => assertSupportedModel(settings, request),
  };
}

/** Build a plugin connector for one provider and wrap it. A factory that throws or returns no connector fails the worker's start. */
export function createPluginConnector(factory: PluginConnectorFactory, settings: PluginConnectorSettings, plugin: string): ModelConnector {
  let inner: PluginModelConnector;
  try {
    inner = factory(settings, connectorTools(settings));
  } catch (err) {
    throw new Error(`plugin "${plugin}": its "${settings.kind}" connector for provider "${settings.provider}" could not be created: ${(err as Error).message}`, { cause: err });
  }
  if (typeof inner !== 'object' || inner === null || typeof inner.generate !== 'function' || typeof inner.validateConnection !== 'function' || typeof inner.getSupportedModels !== 'function') {
    throw new Error(`plugin "${plugin}": its "${settings.kind}" connector factory returned no connector (an object with generate, validateConnection, getSupportedModels)`);
  }
  const secrets = settings.apiKey ? [settings.apiKey] : [];
  const ctxFor = (request: GenerateRequest, call?: GenerateOptions): ClassifyContext => ({ provider: settings.provider, model: request.model, signal: call?.signal, secrets });
  const complete = (request: GenerateRequest, raw: unknown, started: number): GenerateResponse => {
    const parsed = PluginAnswerSchema.safeParse(raw);
    if (!parsed.success) {
      const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
      throw malformedResponse(ctxFor(request), `the "${settings.kind}" connector returned an answer of the wrong shape (${where.join('; ')})`);
    }
    const a = parsed.data;
    return {
      content: a.content,
      provider: settings.provider,
      model: a.model ?? request.model,
      tokensIn: a.tokensIn,
      tokensOut: a.tokensOut,
      latencyMs: a.latencyMs ?? Math.round(performance.now() - started),
      finishReason: a.finishReason ?? 'stop',
      providerRequestId: a.providerRequestId ?? null,
      confidence: a.confidence ?? null,
    };
  };
  const streaming = inner.generateStream;
  return {
    provider: settings.provider,
    kind: settings.kind,
    async generate(request, options) {
      const started = performance.now();
      let raw: unknown;
      try {
        raw = await inner.generate(request, options);
      } catch (err) {
        throw classify(err, ctxFor(request, options));
      }
      return complete(request, raw, started);
    },
    ...(streaming && {
      async generateStream(request: GenerateRequest, options: StreamOptions): Promise<StreamedResponse> {
        const started = performance.now();
        let raw: StreamedResponse;
        try {
          raw = await streaming.call(inner, request, options);
        } catch (err) {
          throw classify(err, ctxFor(request, options));
        }
        return { ...complete(request, raw, started), firstTokenMs: typeof raw.firstTokenMs === 'number' ? raw.firstTokenMs : null };
      },
    }),
    async validateConnection() {
      try {
        return (await inner.validateConnection()) === true;
      } catch {
        return false;
      }
    },
    getSupportedModels: () => inner.getSupportedModels(),
  };
}
