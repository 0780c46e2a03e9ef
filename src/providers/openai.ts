/** OpenAI Chat Completions connector; also serves `openai_compatible` servers (Ollama, vLLM, llama.cpp). */
import OpenAI from 'openai';
import { z } from 'zod';
import type { FinishReason, GenerateRequest, GenerateResponse } from '../types';
import type { GenerateOptions, ModelConnector } from './types';
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

  async function generate(request: GenerateRequest, call: GenerateOptions = {}): Promise<GenerateResponse> {
    assertSupportedModel(options, request);
    const ctx = errorContext(options, request.model, call);
    const maxTokens = request.maxTokens ?? options.maxTokens;
    const temperature = request.temperature ?? options.temperature;
    const { value, latencyMs } = await timedCall(ctx, () =>
      client.chat.completions
        .create(
          {
            model: request.model,
            messages: openAIMessages(request),
            ...(temperature === undefined ? {} : { temperature }),
            // OpenAI deprecated max_tokens; compatible servers mostly still only know it.
            ...(maxTokens === undefined ? {} : kind === 'openai' ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens }),
          },
          { signal: call.signal ?? null, timeout: call.timeoutMs ?? DEFAULT_TIMEOUT_MS },
        )
        .withResponse(),
    );
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

  return {
    provider: options.provider,
    kind,
    generate,
    validateConnection: () => probe((signal) => client.models.list({ signal })),
    getSupportedModels: () => supportedModelList(options),
  };
}
