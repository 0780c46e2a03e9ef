/** Gemini API connector (@google/genai, Gemini Developer API backend). */
import { GoogleGenAI } from '@google/genai';
import { z } from 'zod';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';
import type { GenerateOptions, ModelConnector, StreamedResponse, StreamOptions } from './types';
import { malformedResponse } from './errors';
import { geminiContents } from './turns';
import {
  assertSupportedModel,
  confidenceFromLogprob,
  contentFiltered,
  DEFAULT_TIMEOUT_MS,
  errorContext,
  parseResponse,
  probe,
  supportedModelList,
  timedCall,
  type ConnectorSettings,
} from './shared';

const GenerateContentSchema = z.object({
  responseId: z.string().optional(),
  candidates: z
    .array(
      z.object({
        content: z.object({ parts: z.array(z.object({ text: z.string().optional(), thought: z.boolean().optional() })).optional() }).optional(),
        finishReason: z.string().optional(),
        avgLogprobs: z.number().optional(),
      }),
    )
    .optional(),
  promptFeedback: z.object({ blockReason: z.string().optional() }).optional(),
  usageMetadata: z
    .object({
      promptTokenCount: z.number().int().optional(),
      candidatesTokenCount: z.number().int().optional(),
      thoughtsTokenCount: z.number().int().optional(),
    })
    .optional(),
  sdkHttpResponse: z.object({ headers: z.record(z.string(), z.string()).optional() }).optional(),
});

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE']);

export function mapGoogleFinishReason(reason: string | undefined): FinishReason {
  if (reason === 'STOP') return 'stop';
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && FILTERED.has(reason)) return 'content_filter';
  if (reason === 'MALFORMED_FUNCTION_CALL' || reason === 'UNEXPECTED_TOOL_CALL') return 'error';
  return 'other';
}

export function createGoogleConnector(options: ConnectorSettings): ModelConnector {
  const client = new GoogleGenAI({
    vertexai: false,
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    httpOptions: {
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      timeout: DEFAULT_TIMEOUT_MS,
      retryOptions: { attempts: 1 }, // Temporal owns retries
    },
  });

  /** The request as `generateContent` and `generateContentStream` take it. */
  function contentParams(request: GenerateRequest, call: GenerateOptions) {
    const maxOutputTokens = request.maxTokens ?? options.maxTokens;
    const temperature = request.temperature ?? options.temperature;
    const { systemInstruction, contents } = geminiContents(request);
    return {
      model: request.model,
      contents,
      config: {
        ...(systemInstruction === null ? {} : { systemInstruction }),
        ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }),
        ...(temperature === undefined ? {} : { temperature }),
        ...(call.signal === undefined ? {} : { abortSignal: call.signal }),
        httpOptions: { timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS },
      },
    };
  }

  async function generate(request: GenerateRequest, call: GenerateOptions = {}): Promise<GenerateResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const params = contentParams(request, call);
    const { value, latencyMs } = await timedCall(ctx, () =>
      client.models.generateContent({
        ...params,
        config: { ...params.config, automaticContinuation: false }, // one HTTP call per attempt
      }),
    );
    const body = parseResponse(GenerateContentSchema, value, ctx, null);
    const headers = body.sdkHttpResponse?.headers ?? {};
    const requestId = body.responseId ?? headers['x-request-id'] ?? null;
    const candidate = body.candidates?.[0];
    if (!candidate) {
      const blocked = body.promptFeedback?.blockReason;
      if (blocked) throw contentFiltered(ctx, `prompt blocked (${blocked})`, requestId);
      throw malformedResponse(ctx, 'response has no candidates', requestId);
    }
    const content = (candidate.content?.parts ?? []).flatMap((p) => (p.text !== undefined && !p.thought ? [p.text] : [])).join('');
    const finishReason = mapGoogleFinishReason(candidate.finishReason);
    if (finishReason === 'content_filter' && content === '') throw contentFiltered(ctx, `candidate blocked (${candidate.finishReason})`, requestId);
    const usage = body.usageMetadata;
    return {
      content,
      provider: options.provider,
      model: request.model,
      tokensIn: usage?.promptTokenCount ?? 0,
      // Thinking tokens are billed as output.
      tokensOut: (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0),
      latencyMs,
      finishReason,
      providerRequestId: requestId,
      confidence: confidenceFromLogprob(candidate.avgLogprobs),
    };
  }

  /** `generate` through the streaming API (`generateContentStream`: `:streamGenerateContent?alt=sse`). */
  async function generateStream(request: GenerateRequest, call: StreamOptions): Promise<StreamedResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const { value, latencyMs } = await timedCall(ctx, async () => {
      const start = performance.now();
      const stream = await client.models.generateContentStream(contentParams(request, call));
      const acc = { requestId: null as string | null, content: '', finish: undefined as string | undefined, avgLogprobs: undefined as number | undefined, usage: undefined as z.infer<typeof GenerateContentSchema>['usageMetadata'], blocked: undefined as string | undefined, candidates: 0, firstTokenMs: null as number | null };
      for await (const raw of stream) {
        const body = parseResponse(GenerateContentSchema, raw, ctx, acc.requestId);
        acc.requestId ??= body.responseId ?? body.sdkHttpResponse?.headers?.['x-request-id'] ?? null;
        if (body.usageMetadata) acc.usage = body.usageMetadata;
        acc.blocked ??= body.promptFeedback?.blockReason;
        const candidate = body.candidates?.[0];
        if (!candidate) continue;
        acc.candidates++;
        const text = (candidate.content?.parts ?? []).flatMap((p) => (p.text !== undefined && !p.thought ? [p.text] : [])).join('');
        if (text !== '') {
          acc.firstTokenMs ??= Math.round(performance.now() - start);
          acc.content += text;
          call.onDelta(text);
        }
        acc.finish = candidate.finishReason ?? acc.finish;
        acc.avgLogprobs = candidate.avgLogprobs ?? acc.avgLogprobs;
      }
      // The SDK ends an aborted stream quietly: an abort is not a short answer.
      call.signal?.throwIfAborted();
      return acc;
    });
    const requestId = value.requestId;
    if (value.candidates === 0) {
      if (value.blocked) throw contentFiltered(ctx, `prompt blocked (${value.blocked})`, requestId);
      throw malformedResponse(ctx, 'the stream has no candidates', requestId);
    }
    if (value.finish === undefined) throw malformedResponse(ctx, 'the stream ended before a finish reason', requestId);
    const finishReason = mapGoogleFinishReason(value.finish);
    if (finishReason === 'content_filter' && value.content === '') throw contentFiltered(ctx, `candidate blocked (${value.finish})`, requestId);
    return {
      content: value.content,
      provider: options.provider,
      model: request.model,
      tokensIn: value.usage?.promptTokenCount ?? 0,
      tokensOut: (value.usage?.candidatesTokenCount ?? 0) + (value.usage?.thoughtsTokenCount ?? 0),
      latencyMs,
      finishReason,
      providerRequestId: requestId,
      confidence: confidenceFromLogprob(value.avgLogprobs),
      firstTokenMs: value.firstTokenMs,
    };
  }

  return {
    provider: options.provider,
    kind: 'google',
    generate,
    generateStream,
    validateConnection: () => probe((abortSignal) => client.models.list({ config: { pageSize: 1, abortSignal } })),
    getSupportedModels: () => supportedModelList(options),
  };
}
