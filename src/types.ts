/**
 * Boundary types. Zod schemas are the source of truth; TypeScript types are inferred.
 * Workflow code imports only the *types* from here.
 */
import { z } from 'zod';
import { MAX_MESSAGES, MAX_PROMPT_CHARS } from './constants';
import type { RoutingDecision } from './routing/bandit';

export const ComplexitySchema = z.enum(['simple', 'medium', 'complex']);
export type Complexity = z.infer<typeof ComplexitySchema>;

/** A provider name from config (`models.<name>`), optionally pinned to a model: `openai` or `openai:gpt-4o-mini`. */
export const ProviderSelectorSchema = z
  .string()
  .regex(/^[a-z0-9_-]+(:[A-Za-z0-9._\-/]+)?$/, 'expected "<provider>" or "<provider>:<model>"');

/** One turn of a conversation: what `messages` holds. */
export const ChatMessageSchema = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string(),
  })
  .strict();
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const OrchestrateRequestSchema = z
  .object({
    /** The question, as one text. Exactly one of `prompt` and `messages`. */
    prompt: z
      .string()
      .refine((p) => p.trim().length > 0, 'prompt is empty')
      .refine((p) => p.length <= MAX_PROMPT_CHARS, `prompt is longer than ${MAX_PROMPT_CHARS} characters`)
      .optional(),
    /**
     * The question as a conversation (system, user and assistant turns, oldest first; the last one
     * is the user's). Exactly one of `prompt` and `messages`; the same character limit applies to
     * all turns together.
     */
    messages: z
      .array(ChatMessageSchema)
      .min(1, 'messages is empty')
      .max(MAX_MESSAGES, `more than ${MAX_MESSAGES} messages`)
      .superRefine((messages, ctx) => {
        const last = messages[messages.length - 1];
        if (last && last.role !== 'user') ctx.addIssue({ code: 'custom', path: [messages.length - 1, 'role'], message: `the last message must be the user's (got "${last.role}")` });
        if (last && last.role === 'user' && last.content.trim().length === 0) ctx.addIssue({ code: 'custom', path: [messages.length - 1, 'content'], message: 'the last user message is empty' });
        const total = messages.reduce((n, m) => n + m.content.length, 0);
        if (total > MAX_PROMPT_CHARS) ctx.addIssue({ code: 'custom', message: `messages total ${total} characters, more than ${MAX_PROMPT_CHARS}` });
      })
      .optional(),
    /** Groups the interactions of one conversation (`conversations show <id>`); not part of the answer. */
    conversationId: z.string().min(1, 'conversationId is empty').max(200, 'conversationId is longer than 200 characters').optional(),
    /** Ask for the streaming side channel (absent = false). The workflow's result is the same either way. */
    stream: z.boolean().optional(),
    taskType: z.string().regex(/^[a-z0-9_.-]{1,64}$/, 'taskType must be 1-64 chars of [a-z0-9_.-]'),
    userId: z.string().min(1, 'userId is empty').max(128),
    requireConsensus: z.boolean().optional(),
    minProviders: z.number().int().min(1).max(16).optional(),
    complexityOverride: ComplexitySchema.optional(),
    providers: z.array(ProviderSelectorSchema).min(1).max(16).optional(),
    systemPrompt: z.string().max(MAX_PROMPT_CHARS).optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().min(1).max(200_000).optional(),
    /** A registered consensus strategy (built in: similarity, voting, confidence, lexical; judge when configured). */
    consensusStrategy: z
      .string()
      .regex(/^[a-z0-9_-]{1,64}$/, 'consensusStrategy must be 1-64 chars of [a-z0-9_-]')
      .optional(),
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'requestId must be 1-128 chars of [A-Za-z0-9_.:-]')
      .optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    if (request.prompt === undefined && request.messages === undefined) ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'one of prompt or messages is required' });
    if (request.prompt !== undefined && request.messages !== undefined) ctx.addIssue({ code: 'custom', path: ['messages'], message: 'give prompt or messages, not both' });
  });
export type OrchestrateRequest = z.infer<typeof OrchestrateRequestSchema>;

/** One call to one model: what a connector receives. Never carries credentials. */
export const GenerateRequestSchema = z.object({
  model: z.string().min(1),
  /** The question; for a conversation, its last user turn. */
  prompt: z.string(),
  /**
   * A conversation's turns, oldest first, ending with the user turn `prompt` holds; system turns
   * among them are joined after `systemPrompt`. Absent: `prompt` alone. See src/conversation.ts.
   */
  messages: z.array(ChatMessageSchema).optional(),
  systemPrompt: z.string().optional(),
  temperature: z.number().optional(),
  maxTokens: z.number().int().optional(),
});
export type GenerateRequest = z.infer<typeof GenerateRequestSchema>;

export const FinishReasonSchema = z.enum(['stop', 'length', 'content_filter', 'tool_calls', 'error', 'other']);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

/** What a connector returns. */
export const GenerateResponseSchema = z.object({
  content: z.string(),
  provider: z.string(),
  model: z.string(),
  tokensIn: z.number().int().nonnegative(),
  tokensOut: z.number().int().nonnegative(),
  latencyMs: z.number().nonnegative(),
  finishReason: FinishReasonSchema,
  providerRequestId: z.string().nullable(),
  /** Provider-reported confidence in [0,1] when the API offers one (log-probabilities). */
  confidence: z.number().min(0).max(1).nullable(),
  /** A streamed call (request `stream: true`): ms from the call's start to its first token, measured by the activity. */
  firstTokenMs: z.number().nonnegative().optional(),
});
export type GenerateResponse = z.infer<typeof GenerateResponseSchema>;

export interface ProviderTarget {
  provider: string;
  model: string;
  /** Per-attempt timeout (`performance.models.<provider>.timeout`). */
  timeoutMs: number;
  maxAttempts: number;
  initialBackoffMs: number;
  /** Context window in tokens (`models.<provider>.context_windows`); absent when not configured. */
  contextWindow?: number | undefined;
  /** Latency this provider/model has shown for such requests (routing statistics); absent when unknown. */
  observedLatencyMs?: { p50: number; p95: number } | undefined;
}

/** What the workflow does around the calls: cache, admission (quotas, budgets), deadline, hedging. */
export interface ResiliencePlan {
  /** Response cache key (null: cache off or not applicable). */
  cacheKey: string | null;
  /** Reserve the estimated cost against quotas and budgets before the fan-out, settle after. */
  admission: boolean;
  promptTokens: number;
  /** Most output tokens per call. */
  maxTokens: number;
  /** `performance.request_timeout`: waiting for cooling-down or rate-limited providers stops here. */
  deadlineMs: number;
  /** Start the next candidate when a call is slower than this (p95 when observed, else the fixed delay); null: off. */
  hedging: { useP95: boolean; delayMs: number | null } | null;
}

/** What the workflow does about agreement: early stop, escalation when agreement is low. */
export interface ConsensusPlan {
  strategy: string;
  /** Cancel outstanding calls once the outcome cannot change. */
  earlyStop: boolean;
  /**
   * Embed each response as it arrives while other calls still run (similarity strategy), so only
   * the last one is left to embed when consensus runs. Absent in plans recorded before it existed.
   */
  embedAsTheyArrive?: boolean | undefined;
  /**
   * `consensus.confidence_threshold`: when consensus is required and the decision's confidence (the
   * support of the chosen answer) is below it, or the strategy says its threshold was not met, the
   * workflow escalates.
   */
  agreementThreshold: number;
  /** Providers added, in order, while agreement stays below the threshold. */
  escalation: ProviderTarget[];
  /** Most successful responses escalation may gather. */
  maxProviders: number;
  /** Still below after escalating: answer flagged low-confidence, or fail with ConsensusNotReached. */
  onLowConfidence: 'flag' | 'fail';
}

/** The route chosen for a request. Produced by the planner, recorded in history. */
export interface RoutePlan {
  complexity: Complexity;
  complexityScore: number;
  complexitySource: 'override' | 'evaluator';
  complexityFeatures: Record<string, number>;
  /** Called in parallel first. */
  targets: ProviderTarget[];
  /** Tried in order when fewer than minProviders answers came back. */
  fallbacks: ProviderTarget[];
  minProviders: number;
  requireConsensus: boolean;
  consensusStrategy: string;
  consensus: ConsensusPlan;
  resilience: ResiliencePlan;
  ruleId: string | null;
  routingPolicyVersion: number;
  /** Why the targets are in this order (performance_based routing); null for static routes. */
  routingDecision: RoutingDecision | null;
  /**
   * The A/B experiment variant this request runs (recorded on the interaction); for a prompt
   * experiment, the system prompt the providers get. Absent in plans recorded before experiments.
   */
  experiment?: { id: string; variant: string; kind: string; systemPrompt?: string | null | undefined } | null | undefined;
  /**
   * How the provider calls run (`performance.provider_calls`, or the route's `provider_calls`):
   * `local` as local activities in this worker, `activity` (and absent, in plans recorded before
   * the mode existed) as activities.
   */
  providerCalls?: 'activity' | 'local' | undefined;
}

/** The outcome of one provider-call activity, success or failure, as the workflow saw it. */
export interface ProviderCallOutcome {
  callIndex: number;
  provider: string;
  model: string;
  /** 'cancelled': stopped by early stop (or a hedge that lost) before it answered. */
  status: 'succeeded' | 'failed' | 'cancelled';
  attempts: number;
  errorType: string | null;
  errorMessage: string | null;
  response: (GenerateResponse & { costUsd: number }) | null;
  /** Started by hedging a slow call. */
  hedged?: boolean | undefined;
  /** A circuit open or a shared rate limit reached: the time the provider can be called again. */
  availableAtMs?: number | undefined;
  /** Workflow time from scheduling the call to its outcome, every attempt and backoff included. */
  elapsedMs?: number | undefined;
  /** The provider's own error on an earlier attempt of this call, when a later attempt was refused (open circuit, rate limit). */
  earlierError?: { type: string; message: string } | undefined;
}

export interface ProviderUsage {
  provider: string;
  model: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  costUsd: number;
  status: 'succeeded' | 'failed' | 'cancelled';
  errorType: string | null;
  /** A streamed call that produced text: ms from the call's start to its first token. */
  firstTokenMs?: number | undefined;
}

export interface OrchestrationMetadata {
  workflowId: string;
  requestId: string | null;
  taskType: string;
  userId: string;
  providersUsed: string[];
  confidence: number | null;
  consensusApplied: boolean;
  consensusStrategy: string;
  agreement: number | null;
  dissenting: string[];
  /**
   * The decision met both the strategy's own agreement rule (`similarity`: a strict majority gives
   * the chosen short answer, or lies within `consensus.similarity_threshold` of it; `voting`: the
   * vote share reaches its threshold) and `confidence >= consensus.confidence_threshold`
   * (`src/consensus/criteria.ts`). Null when no consensus ran (one answer).
   */
  thresholdMet: boolean | null;
  /**
   * Consensus was required and, after escalation, `thresholdMet` is false. Never true together
   * with `thresholdMet: true`; false with `thresholdMet: false` only when consensus was not required.
   */
  lowConfidence: boolean;
  /** Providers added because agreement was low. */
  escalated: number;
  /** What the strategy saw (similarity matrix, vote tally, ...). */
  consensusDetails: unknown;
  /** Calls cancelled by early stop (or hedges that lost), and the latency early stop saved by the calls' observed p50 (null when unknown). */
  cancelledCalls: number;
  latencySavedMs: number | null;
  /** Calls started by hedging a slow call. */
  hedgedCalls: number;
  /** Answered from the response cache (no provider called); the workflow that produced the answer. */
  cacheHit: boolean;
  cachedFrom: string | null;
  /** Time spent waiting (durable timers) for cooling-down or rate-limited providers. */
  waitedMs: number;
  complexity: Complexity;
  complexityScore: number;
  /**
   * From the workflow's start (Temporal's start time, when the client asked) to the answer:
   * the time the client waited, queue wait included. Histories recorded before queuedMs existed
   * count from the first workflow task.
   */
  processingTimeMs: number;
  /**
   * From the workflow's start to its first workflow task: time the request waited for a worker
   * (none polling, all busy). Absent in results of runs recorded before it existed.
   */
  queuedMs?: number | undefined;
  providers: ProviderUsage[];
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  routingPolicyVersion: number;
  routingRule: string | null;
  /** Candidates, their statistics and scores, and the choice (performance_based routing); null for static routes. */
  routingDecision: RoutingDecision | null;
}

export interface OrchestrationResult {
  response: string;
  metadata: OrchestrationMetadata;
}
