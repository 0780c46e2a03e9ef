/**
 * A provider call's question in each SDK's native shape (src/conversation.ts `requestTurns`
 * gives one view of `prompt` or `messages`): OpenAI chat messages with the system text first,
 * Anthropic's `system` beside user/assistant `messages`, Gemini's `systemInstruction` beside
 * `contents` with roles `user` and `model`. The streaming and non-streaming calls both build here.
 */
import { requestTurns } from '../conversation';
import type { GenerateRequest } from '../types';

type Question = Pick<GenerateRequest, 'prompt' | 'messages' | 'systemPrompt'>;

export interface OpenAIChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** OpenAI Chat Completions (and compatible servers): one system message, then the turns. */
export function openAIMessages(request: Question): OpenAIChatMessage[] {
  const { system, turns } = requestTurns(request);
  return [...(system === null ? [] : [{ role: 'system' as const, content: system }]), ...turns.map((t) => ({ role: t.role, content: t.content }))];
}

/** Anthropic Messages: the system text apart, user and assistant turns in order. */
export function anthropicMessages(request: Question): { system: string | null; messages: { role: 'user' | 'assistant'; content: string }[] } {
  const { system, turns } = requestTurns(request);
  return { system, messages: turns.map((t) => ({ role: t.role, content: t.content })) };
}

/** Gemini generateContent: `systemInstruction` apart, `contents` with roles user and model. */
export function geminiContents(request: Question): { systemInstruction: string | null; contents: { role: 'user' | 'model'; parts: { text: string }[] }[] } {
  const { system, turns } = requestTurns(request);
  return { systemInstruction: system, contents: turns.map((t) => ({ role: t.role === 'assistant' ? 'model' : 'user', parts: [{ text: t.content }] })) };
}
