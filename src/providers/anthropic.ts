/** Anthropic Messages API connector. */
import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';
import type { GenerateOptions, ModelConnector } from './types';
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

  async function generate(request: GenerateRequest, call: GenerateOptions = {}): Promise<GenerateResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const temperature = request.temperature ?? options.temperature;
    const { system, messages } = anthropicMessages(request);
    const { value, latencyMs } = await timedCall(ctx, () =>
      client.messages
        .create(
          {
            model: request.model,
            max_tokens: request.maxTokens ?? options.maxTokens ?? DEFAULT_MAX_TOKENS,
            messages,
            ...(system === null ? {} : { system }),
            ...(temperature === undefined ? {} : { temperature }),
          },
          { signal: call.signal ?? null, timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS },
        )
        .withResponse(),
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

  return {
    provider: options.provider,
    kind: 'anthropic',
    generate,
    validateConnection: () => probe((signal) => client.models.list({ limit: 1 }, { signal })),
    getSupportedModels: () => supportedModelList(options),
  };
}
