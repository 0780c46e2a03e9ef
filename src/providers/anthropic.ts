/** Anthropic Messages API connector. */
import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';
import type { GenerateOptions, ModelConnector, StreamedResponse, StreamOptions } from './types';
import { malformedResponse } from './errors';
import { anthropicMessages } from './turns';
import {
  assertSupportedModel,
  contentFiltered,
  DEFAULT_MAX_TOKENS,
  DEFAULT_TIMEOUT_MS,
  errorContext,
  parseResponse,
  probe,
  supportedModelList,
  timedCall,
  type ConnectorSettings,
} from './shared';

const MessageSchema = z.object({
  id: z.string().optional(),
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  stop_reason: z.string().nullish(),
  usage: z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() }).nullish(),
});

/** The parts of the Messages stream events the connector reads. */
const StreamEventSchema = z.object({
  type: z.string(),
  message: z.object({ id: z.string().optional(), usage: z.object({ input_tokens: z.number().int().nullish(), output_tokens: z.number().int().nullish() }).nullish() }).optional(),
  delta: z.object({ type: z.string().optional(), text: z.string().optional(), stop_reason: z.string().nullish() }).optional(),
  usage: z.object({ output_tokens: z.number().int().nullish() }).nullish(),
});

export function mapAnthropicStopReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'other';
  }
}

export function createAnthropicConnector(options: ConnectorSettings): ModelConnector {
  const client = new Anthropic({
    apiKey: options.apiKey ?? null,
    ...(options.baseUrl === undefined ? {} : { baseURL: options.baseUrl }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    maxRetries: 0, // Temporal owns retries
    timeout: DEFAULT_TIMEOUT_MS,
  });

  /** The Messages API body both calls send (the streaming one adds `stream`). */
  function messageBody(request: GenerateRequest) {
    const temperature = request.temperature ?? options.temperature;
    const { system, messages } = anthropicMessages(request);
    return {
      model: request.model,
      max_tokens: request.maxTokens ?? options.maxTokens ?? DEFAULT_MAX_TOKENS,
      messages,
      ...(system === null ? {} : { system }),
      ...(temperature === undefined ? {} : { temperature }),
    };
  }

  async function generate(request: GenerateRequest, call: GenerateOptions = {}): Promise<GenerateResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const { value, latencyMs } = await timedCall(ctx, () =>
      client.messages.create(messageBody(request), { signal: call.signal ?? null, timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS }).withResponse(),
    );
    const requestId = value.request_id ?? null;
    const body = parseResponse(MessageSchema, value.data, ctx, requestId);
    const content = body.content.flatMap((block) => (block.type === 'text' && block.text !== undefined ? [block.text] : [])).join('');
    const finishReason = mapAnthropicStopReason(body.stop_reason);
    if (finishReason === 'content_filter' && content === '') throw contentFiltered(ctx, 'the model refused to answer', requestId);
    return {
      content,
      provider: options.provider,
      model: request.model,
      tokensIn: body.usage?.input_tokens ?? 0,
      tokensOut: body.usage?.output_tokens ?? 0,
      latencyMs,
      finishReason,
      providerRequestId: requestId ?? body.id ?? null,
      confidence: null, // the Messages API exposes no log-probabilities
    };
  }

  /** `generate` through the streaming API (`stream: true`: message_start, content_block_delta..., message_delta, message_stop). */
  async function generateStream(request: GenerateRequest, call: StreamOptions): Promise<StreamedResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    let requestId: string | null = null;
    const { value, latencyMs } = await timedCall(ctx, async () => {
      const start = performance.now();
      const { data: stream, request_id } = await client.messages
        .create({ ...messageBody(request), stream: true }, { signal: call.signal ?? null, timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS })
        .withResponse();
      requestId = request_id ?? null;
      const acc = { id: null as string | null, content: '', stop: null as string | null, stopped: false, tokensIn: 0, tokensOut: 0, firstTokenMs: null as number | null };
      for await (const raw of stream) {
        const event = parseResponse(StreamEventSchema, raw, ctx, requestId);
        if (event.type === 'message_start' && event.message) {
          acc.id = event.message.id ?? null;
          acc.tokensIn = event.message.usage?.input_tokens ?? 0;
          acc.tokensOut = event.message.usage?.output_tokens ?? 0;
        } else if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta' && event.delta.text) {
          acc.firstTokenMs ??= Math.round(performance.now() - start);
          acc.content += event.delta.text;
          call.onDelta(event.delta.text);
        } else if (event.type === 'message_delta') {
          acc.stop = event.delta?.stop_reason ?? acc.stop;
          acc.tokensOut = event.usage?.output_tokens ?? acc.tokensOut;
        } else if (event.type === 'message_stop') {
          acc.stopped = true;
        }
      }
      // The SDK ends an aborted stream quietly: an abort is not a short answer.
      call.signal?.throwIfAborted();
      return acc;
    });
    if (!value.stopped) throw malformedResponse(ctx, 'the stream ended before message_stop', requestId);
    const finishReason = mapAnthropicStopReason(value.stop);
    if (finishReason === 'content_filter' && value.content === '') throw contentFiltered(ctx, 'the model refused to answer', requestId);
    return {
      content: value.content,
      provider: options.provider,
      model: request.model,
      tokensIn: value.tokensIn,
      tokensOut: value.tokensOut,
      latencyMs,
      finishReason,
      providerRequestId: requestId ?? value.id,
      confidence: null,
      firstTokenMs: value.firstTokenMs,
    };
  }

  return {
    provider: options.provider,
    kind: 'anthropic',
    generate,
    generateStream,
    validateConnection: () => probe((signal) => client.models.list({ limit: 1 }, { signal })),
    getSupportedModels: () => supportedModelList(options),
  };
}
