/**
 * Estimates made before a request runs: the tokens and the cost to reserve against quotas and
 * budgets. Pure functions (no I/O).
 */
import type { Config, ProviderKind, UsagePeriod } from '../config/schema';
import { requestTurns, type QuestionSource } from '../conversation';
import { callCostUsd } from '../providers/pricing';

export interface CostTarget {
  provider: string;
  model: string;
  /** openai_compatible models without a price cost 0; any other unpriced model is a ConfigError. */
  kind?: ProviderKind | undefined;
}

/**
 * Worst-case cost in USD of calling every target once: each reads `promptTokens` and writes up
 * to `maxTokens`. Pass the targets the request may call (the fan-out; add fallbacks to reserve
 * for them too).
 */
export function estimateCostUsd(pricing: Config['pricing'], targets: readonly CostTarget[], promptTokens: number, maxTokens: number): number {
  checkTokens(promptTokens, maxTokens);
  return targets.reduce((sum, t) => sum + callCostUsd(pricing, t.model, promptTokens, maxTokens, t.kind), 0);
}

/** Worst-case tokens of calling every target once. */
export function estimateTokens(targets: readonly unknown[], promptTokens: number, maxTokens: number): number {
  checkTokens(promptTokens, maxTokens);
  return targets.length * (promptTokens + maxTokens);
}

/**
 * A rough prompt token count (about four characters a token for English text, rounded up), for
 * reservations made before any provider has counted: settle with the real counts afterwards.
 */
export function estimatePromptTokens(...texts: (string | null | undefined)[]): number {
  const chars = texts.reduce((n, t) => n + (t?.length ?? 0), 0);
  return Math.ceil(chars / 4);
}

/** Tokens each turn of a conversation costs beyond its text (role markers; OpenAI counts about 4). */
const TOKENS_PER_TURN = 4;

/**
 * The prompt tokens of a request or a provider call: its system text and every turn of its
 * conversation (a `prompt` request: the prompt and the system prompt, as estimatePromptTokens).
 */
export function estimateRequestTokens(request: QuestionSource): number {
  if (request.messages === undefined) return estimatePromptTokens(request.prompt, request.systemPrompt);
  const { system, turns } = requestTurns(request);
  return estimatePromptTokens(system, ...turns.map((t) => t.content)) + TOKENS_PER_TURN * request.messages.length;
}

/** The UTC calendar period holding `now`: `2026-11-25` (day) or `2026-11` (month). */
export function periodKey(period: UsagePeriod, now: Date): string {
  const iso = now.toISOString();
  return period === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

function checkTokens(promptTokens: number, maxTokens: number): void {
  if (!Number.isInteger(promptTokens) || promptTokens < 0) throw new RangeError('promptTokens must be a non-negative integer');
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError('maxTokens must be a non-negative integer');
}
