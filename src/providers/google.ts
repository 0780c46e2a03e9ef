/** Gemini API connector (@google/genai, Gemini Developer API backend). */
import { GoogleGenAI } from '@google/genai';
import { z } from 'zod';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';
import type { GenerateOptions, ModelConnector } from './types';
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

  async function generate(request: GenerateRequest, call: GenerateOptions = {}): Promise<GenerateResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const maxOutputTokens = request.maxTokens ?? options.maxTokens;
    const temperature = request.temperature ?? options.temperature;
    const { systemInstruction, contents } = geminiContents(request);
    const { value, latencyMs } = await timedCall(ctx, () =>
      client.models.generateContent({
        model: request.model,
        contents,
        config: {
          ...(systemInstruction === null ? {} : { systemInstruction }),
          ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }),
          ...(temperature === undefined ? {} : { temperature }),
          ...(call.signal === undefined ? {} : { abortSignal: call.signal }),
          httpOptions: { timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS },
          automaticContinuation: false, // one HTTP call per attempt
        },
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

  return {
    provider: options.provider,
    kind: 'google',
    generate,
    validateConnection: () => probe((abortSignal) => client.models.list({ config: { pageSize: 1, abortSignal } })),
    getSupportedModels: () => supportedModelList(options),
  };
}
