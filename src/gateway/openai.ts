/**
 * OpenAI chat-completions shapes at the gateway: the request body's JSON schema (Fastify validates
 * it before the handler runs), the `model` selectors, the mapping to an OrchestrateRequest, and the
 * response built from an OrchestrationResult.
 *
 *   model: "<provider>[:<model>]"  that configured provider (and model) alone: providers: [selector]
 *          "route:<task type>"     routing decides, for that task type (a configured one)
 *          "auto"                  routing decides, for orchestration.task_type or "general"
 *   orchestration (extension key): require_consensus, min_providers, consensus_strategy,
 *          request_id (also from the Idempotency-Key header), task_type, conversation_id
 */
import type { Config } from '../config/schema';
import { InvalidRequest, ModelProviderNotFound } from '../errors';
import type { ChatMessage, OrchestrateRequest, OrchestrationResult } from '../types';

/** The task type of `auto` (and of a provider selector) when orchestration.task_type is not given. */
export const DEFAULT_GATEWAY_TASK_TYPE = 'general';
export const ROUTE_PREFIX = 'route:';
export const AUTO_MODEL = 'auto';

const TEXT_PART = { type: 'object', required: ['type', 'text'], additionalProperties: false, properties: { type: { const: 'text' }, text: { type: 'string' } } } as const;

/**
 * The body of POST /v1/chat/completions. Fields the gateway cannot honour are refused by name
 * (additionalProperties: false), never accepted and ignored.
 */
export const chatCompletionBodySchema = {
  type: 'object',
  required: ['model', 'messages'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 200 },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role', 'content'],
        additionalProperties: false,
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array', items: TEXT_PART }] },
          name: { type: 'string' },
        },
      },
    },
    temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
    max_tokens: { type: ['integer', 'null'], minimum: 1 },
    max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
    n: { type: ['integer', 'null'], minimum: 1 },
    user: { type: 'string', minLength: 1, maxLength: 128 },
    stream: { type: ['boolean', 'null'] },
    stream_options: { type: ['object', 'null'], additionalProperties: false, properties: { include_usage: { type: 'boolean' } } },
    orchestration: {
      type: 'object',
      additionalProperties: false,
      properties: {
        require_consensus: { type: 'boolean' },
        min_providers: { type: 'integer', minimum: 1, maximum: 16 },
        consensus_strategy: { type: 'string', minLength: 1 },
        request_id: { type: 'string', minLength: 1 },
        task_type: { type: 'string', minLength: 1 },
        conversation_id: { type: 'string', minLength: 1 },
      },
    },
  },
} as const;

export interface ChatCompletionBody {
  model: string;
  messages: { role: 'system' | 'developer' | 'user' | 'assistant'; content: string | { type: 'text'; text: string }[]; name?: string }[];
  temperature?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  n?: number | null;
  user?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  orchestration?: {
    require_consensus?: boolean;
    min_providers?: number;
    consensus_strategy?: string;
    request_id?: string;
    task_type?: string;
    conversation_id?: string;
  };
}

/** The task types `route:<task type>` accepts: those routing rules or consensus settings name, and the default. */
export function configuredTaskTypes(config: Config): string[] {
  const types = new Set<string>([DEFAULT_GATEWAY_TASK_TYPE]);
  for (const rule of config.routing.rules) types.add(rule.task_type);
  for (const t of Object.keys(config.consensus.task_types)) types.add(t);
  return [...types].sort();
}

/** The ids GET /v1/models lists: every enabled provider's models, each configured task type's route, and auto. */
export function modelIds(config: Config): string[] {
  const ids: string[] = [];
  for (const [name, provider] of Object.entries(config.models)) {
    if (provider.enabled === false) continue;
    for (const model of new Set([provider.default_model, ...(provider.models ?? [])])) ids.push(`${name}:${model}`);
  }
  for (const t of configuredTaskTypes(config)) ids.push(`${ROUTE_PREFIX}${t}`);
  ids.push(AUTO_MODEL);
  return ids;
}

export type ModelSelection = { kind: 'provider'; selector: string } | { kind: 'route'; taskType: string } | { kind: 'auto' };

/** Parse `model`; a route naming an unconfigured task type is ModelProviderNotFound (404), like an unknown provider. */
export function parseModel(config: Config, model: string): ModelSelection {
  if (model === AUTO_MODEL) return { kind: 'auto' };
  if (model.startsWith(ROUTE_PREFIX)) {
    const taskType = model.slice(ROUTE_PREFIX.length);
    const known = configuredTaskTypes(config);
    if (!known.includes(taskType)) {
      throw new ModelProviderNotFound(`model "${model}": no route for task type "${taskType}" (configured: ${known.join(', ')}); GET /v1/models lists what can be asked for`, { model });
    }
    return { kind: 'route', taskType };
  }
  return { kind: 'provider', selector: model };
}

function messageText(content: ChatCompletionBody['messages'][number]['content']): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

export interface MapOptions {
  /** The authenticated key's user: the request's user, whatever the body says. */
  userId: string;
  /** The Idempotency-Key header, when given. */
  idempotencyKey?: string | undefined;
  /** Ask the workflow for the streaming side channel (single-provider live streams). */
  stream: boolean;
}

/** The OpenAI body as an OrchestrateRequest (validated later by OrchestratorClient). Throws InvalidRequest naming the OpenAI field. */
export function toOrchestrateRequest(config: Config, body: ChatCompletionBody, options: MapOptions): { request: OrchestrateRequest; selection: ModelSelection } {
  if (body.n != null && body.n > 1) throw new InvalidRequest('n: only n = 1 is supported (one orchestrated answer per request)', [{ path: 'n', message: 'must be 1' }]);
  const o = body.orchestration ?? {};
  const headerKey = options.idempotencyKey;
  if (headerKey !== undefined && o.request_id !== undefined && headerKey !== o.request_id) {
    throw new InvalidRequest('orchestration.request_id and the Idempotency-Key header differ: give one, or the same value in both', [{ path: 'orchestration.request_id', message: 'differs from Idempotency-Key' }]);
  }
  const selection = parseModel(config, body.model);
  const messages: ChatMessage[] = body.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: messageText(m.content) }));
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const requestId = o.request_id ?? headerKey;
  const taskType = selection.kind === 'route' ? selection.taskType : (o.task_type ?? DEFAULT_GATEWAY_TASK_TYPE);
  if (selection.kind === 'route' && o.task_type !== undefined && o.task_type !== selection.taskType) {
    throw new InvalidRequest(`orchestration.task_type "${o.task_type}" contradicts model "${body.model}"`, [{ path: 'orchestration.task_type', message: 'differs from the route in model' }]);
  }
  const request: OrchestrateRequest = {
    messages,
    taskType,
    userId: options.userId,
    ...(selection.kind === 'provider' && { providers: [selection.selector] }),
    ...(body.temperature != null && { temperature: body.temperature }),
    ...(maxTokens !== undefined && { maxTokens }),
    ...(o.require_consensus !== undefined && { requireConsensus: o.require_consensus }),
    ...(o.min_providers !== undefined && { minProviders: o.min_providers }),
    ...(o.consensus_strategy !== undefined && { consensusStrategy: o.consensus_strategy }),
    ...(requestId !== undefined && { requestId }),
    ...(o.conversation_id !== undefined && { conversationId: o.conversation_id }),
    ...(options.stream && { stream: true }),
  };
  return { request, selection };
}

/** OrchestrateRequest field paths (zod issues) back to the OpenAI body's names. */
export function openAiParam(path: string): string {
  const [head, ...rest] = path.split('.');
  const mapped: Record<string, string> = {
    prompt: 'messages',
    messages: 'messages',
    temperature: 'temperature',
    maxTokens: 'max_tokens',
    userId: 'user',
    taskType: 'orchestration.task_type',
    requireConsensus: 'orchestration.require_consensus',
    minProviders: 'orchestration.min_providers',
    consensusStrategy: 'orchestration.consensus_strategy',
    requestId: 'orchestration.request_id',
    conversationId: 'orchestration.conversation_id',
    providers: 'model',
  };
  const name = mapped[head ?? ''];
  if (!name) return path;
  return name === 'messages' && rest.length > 0 ? `messages[${rest[0]}]${rest.length > 1 ? `.${rest.slice(1).join('.')}` : ''}` : name;
}

/** The `orchestration` object of a response (and of the streams' metadata chunks). */
export function orchestrationMetadata(result: OrchestrationResult, webUiUrl: string) {
  const m = result.metadata;
  return {
    workflow_id: m.workflowId,
    web_ui_url: webUiUrl,
    providers_used: m.providersUsed,
    consensus: {
      applied: m.consensusApplied,
      strategy: m.consensusStrategy,
      confidence: m.confidence,
      agreement: m.agreement,
      threshold_met: m.thresholdMet,
      low_confidence: m.lowConfidence,
    },
    cost_usd: m.costUsd,
    processing_time_ms: m.processingTimeMs,
    queued_ms: m.queuedMs ?? null,
    cache_hit: m.cacheHit,
  };
}

export function completionId(workflowId: string): string {
  return `chatcmpl-${workflowId}`;
}

export function usageOf(result: OrchestrationResult) {
  const { tokensIn, tokensOut } = result.metadata;
  return { prompt_tokens: tokensIn, completion_tokens: tokensOut, total_tokens: tokensIn + tokensOut };
}

/** The chat.completion object for a finished request. `model` echoes what the client asked for. */
export function chatCompletion(result: OrchestrationResult, model: string, created: number, webUiUrl: string) {
  return {
    id: completionId(result.metadata.workflowId),
    object: 'chat.completion' as const,
    created,
    model,
    choices: [{ index: 0, message: { role: 'assistant' as const, content: result.response, refusal: null }, logprobs: null, finish_reason: 'stop' as const }],
    usage: usageOf(result),
    orchestration: orchestrationMetadata(result, webUiUrl),
  };
}

/** The x-orchestration-* headers of a finished request. */
export function orchestrationHeaders(result: OrchestrationResult): Record<string, string> {
  const m = result.metadata;
  return {
    'x-orchestration-workflow-id': m.workflowId,
    'x-orchestration-providers': m.providersUsed.join(','),
    'x-orchestration-confidence': m.confidence === null ? 'null' : String(m.confidence),
    'x-orchestration-cost-usd': String(m.costUsd),
  };
}
