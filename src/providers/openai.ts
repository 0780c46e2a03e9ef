/** OpenAI Chat Completions connector; also serves `openai_compatible` servers (Ollama, vLLM, llama.cpp). */
import OpenAI from 'openai';
import { z } from 'zod';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';
import type { GenerateOptions, ModelConnector, StreamedResponse, StreamOptions } from './types';
import { malformedResponse } from './errors';
import { openAIMessages } from './turns';
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

export interface OpenAIConnectorOptions extends ConnectorSettings {
  kind?: 'openai' | 'openai_compatible';
}

/** Local OpenAI-compatible servers usually need no key, but the SDK insists on one. */
const NO_KEY_PLACEHOLDER = 'not-needed';

const ChatCompletionSchema = z.object({
  id: z.string().optional(),
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }),
        finish_reason: z.string().nullish(),
        logprobs: z.object({ content: z.array(z.object({ logprob: z.number() })).nullish() }).nullish(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).nullish(),
});

/** One `chat.completion.chunk` of a stream (the usage chunk has no choices). */
const ChatCompletionChunkSchema = z.object({
  id: z.string().optional(),
  choices: z.array(
    z.object({
      delta: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }).nullish(),
      finish_reason: z.string().nullish(),
      logprobs: z.object({ content: z.array(z.object({ logprob: z.number() })).nullish() }).nullish(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).nullish(),
});

interface StreamAccumulator {
  id: string | null;
  content: string;
  finish: string | null;
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  logprobs: number[];
  firstTokenMs: number | null;
}

export function mapOpenAIFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'stop':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    default:
      return 'other';
  }
}

export function createOpenAIConnector(options: OpenAIConnectorOptions): ModelConnector {
  const kind = options.kind ?? 'openai';
  const client = new OpenAI({
    apiKey: options.apiKey ?? NO_KEY_PLACEHOLDER,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    maxRetries: 0, // Temporal owns retries
    timeout: DEFAULT_TIMEOUT_MS,
  });

  /** Per-call SDK options: the abort signal and the attempt's timeout. */
  function requestOptions(call: GenerateOptions) {
    return { signal: call.signal ?? null, timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS };
  }

  /** The chat completion body both calls send (the streaming one adds `stream`). */
  function completionBody(request: GenerateRequest) {
    const maxTokens = request.maxTokens ?? options.maxTokens;
    const temperature = request.temperature ?? options.temperature;
    return {
      model: request.model,
      messages: openAIMessages(request),
      ...(temperature === undefined ? {} : { temperature }),
      // OpenAI deprecated max_tokens; compatible servers mostly still only know it.
      ...(maxTokens === undefined ? {} : kind === 'openai' ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens }),
    };
  }

  async function generate(request: GenerateRequest, call: GenerateOptions = {}): Promise<GenerateResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const { value, latencyMs } = await timedCall(ctx, () => client.chat.completions.create(completionBody(request), requestOptions(call)).withResponse());
    const requestId = value.request_id ?? null;
    const body = parseResponse(ChatCompletionSchema, value.data, ctx, requestId);
    const [choice] = body.choices;
    const finishReason = mapOpenAIFinishReason(choice?.finish_reason);
    const content = choice?.message.content ?? choice?.message.refusal ?? '';
    if (finishReason === 'content_filter' && content === '') throw contentFiltered(ctx, 'the provider filtered the completion', requestId);
    const logprobs = choice?.logprobs?.content ?? [];
    return {
      content,
      provider: options.provider,
      model: request.model,
      tokensIn: body.usage?.prompt_tokens ?? 0,
      tokensOut: body.usage?.completion_tokens ?? 0,
      latencyMs,
      finishReason,
      providerRequestId: requestId ?? body.id ?? null,
      confidence: logprobs.length === 0 ? null : confidenceFromLogprob(logprobs.reduce((s, t) => s + t.logprob, 0) / logprobs.length),
    };
  }

  /** `generate` through the streaming API (`stream: true`, usage in the last chunk). */
  async function generateStream(request: GenerateRequest, call: StreamOptions): Promise<StreamedResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    let requestId: string | null = null;
    const { value, latencyMs } = await timedCall(ctx, async () => {
      const start = performance.now();
      const { data: stream, request_id } = await client.chat.completions
        .create({ ...completionBody(request), stream: true, stream_options: { include_usage: true } }, requestOptions(call))
        .withResponse();
      requestId = request_id ?? null;
      const acc: StreamAccumulator = { id: null, content: '', finish: null, usage: null, logprobs: [], firstTokenMs: null };
      for await (const raw of stream) {
        const chunk = parseResponse(ChatCompletionChunkSchema, raw, ctx, requestId);
        acc.id ??= chunk.id ?? null;
        if (chunk.usage) acc.usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        const text = choice.delta?.content ?? choice.delta?.refusal ?? '';
        if (text !== '') {
          acc.firstTokenMs ??= Math.round(performance.now() - start);
          acc.content += text;
          call.onDelta(text);
        }
        for (const t of choice.logprobs?.content ?? []) acc.logprobs.push(t.logprob);
        if (choice.finish_reason) acc.finish = choice.finish_reason;
      }
      // The SDK ends an aborted stream quietly: an abort is not a short answer.
      call.signal?.throwIfAborted();
      return acc;
    });
    if (value.finish === null) throw malformedResponse(ctx, 'the stream ended before a finish reason', requestId);
    const finishReason = mapOpenAIFinishReason(value.finish);
    if (finishReason === 'content_filter' && value.content === '') throw contentFiltered(ctx, 'the provider filtered the completion', requestId);
    return {
      content: value.content,
      provider: options.provider,
      model: request.model,
      tokensIn: value.usage?.prompt_tokens ?? 0,
      tokensOut: value.usage?.completion_tokens ?? 0,
      latencyMs,
      finishReason,
      providerRequestId: requestId ?? value.id,
      confidence: value.logprobs.length === 0 ? null : confidenceFromLogprob(value.logprobs.reduce((sum, l) => sum + l, 0) / value.logprobs.length),
      firstTokenMs: value.firstTokenMs,
    };
  }

  return {
    provider: options.provider,
    kind,
    generate,
    generateStream,
    validateConnection: () => probe((signal) => client.models.list({ signal })),
    getSupportedModels: () => supportedModelList(options),
  };
}
