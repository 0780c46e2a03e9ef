/**
 * One view of a request's question, whether it came as one `prompt` or as a conversation
 * (`messages`). Pure and deterministic (workflow code may use it): connectors, the fingerprint,
 * the response cache, consensus and the judge all read the question through here.
 */
import type { ChatMessage } from './types';

export interface ConversationTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface RequestTurns {
  /** `systemPrompt` and the conversation's system turns, joined by a blank line; null when none. */
  system: string | null;
  /** User and assistant turns, oldest first; the last is the user's. */
  turns: ConversationTurn[];
}

/** What every reader of the question needs from a request, an interaction or a provider call. */
export interface QuestionSource {
  prompt?: string | undefined;
  messages?: readonly ChatMessage[] | undefined;
  systemPrompt?: string | undefined;
}

/**
 * The request as a system text and a list of turns. A `prompt` request is one user turn. System
 * turns anywhere in `messages` are gathered (in order, after `systemPrompt`) into `system`: every
 * provider API takes the system text apart from the turns.
 */
export function requestTurns(request: QuestionSource): RequestTurns {
  const systems: string[] = request.systemPrompt !== undefined && request.systemPrompt.length > 0 ? [request.systemPrompt] : [];
  const turns: ConversationTurn[] = [];
  if (request.messages !== undefined && request.messages.length > 0) {
    for (const m of request.messages) {
      if (m.role === 'system') {
        if (m.content.length > 0) systems.push(m.content);
      } else {
        turns.push({ role: m.role, content: m.content });
      }
    }
  } else {
    turns.push({ role: 'user', content: request.prompt ?? '' });
  }
  return { system: systems.length > 0 ? systems.join('\n\n') : null, turns };
}

/** The question being answered now: `prompt`, or the conversation's last user turn. */
export function lastUserTurn(request: QuestionSource): string {
  if (request.messages === undefined || request.messages.length === 0) return request.prompt ?? '';
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i];
    if (m?.role === 'user') return m.content;
  }
  return '';
}

/**
 * The whole question as one text (system text left out: it is a setting, not the question):
 * `prompt` as it is; a conversation of one user turn, that turn; a longer conversation, its turns
 * labelled `User:` / `Assistant:`, oldest first, so the last user turn is read in its context.
 * Consensus strategies, the judge and the complexity evaluators read this.
 */
export function conversationText(request: QuestionSource): string {
  if (request.messages === undefined || request.messages.length === 0) return request.prompt ?? '';
  const { turns } = requestTurns({ messages: request.messages });
  if (turns.length === 1 && turns[0]) return turns[0].content;
  return turns.map((t) => `${t.role === 'user' ? 'User' : 'Assistant'}: ${t.content}`).join('\n\n');
}

/** True when the request is a conversation of more than its last user turn. */
export function hasHistory(request: QuestionSource): boolean {
  return request.messages !== undefined && requestTurns({ messages: request.messages }).turns.length > 1;
}

/** Characters of earlier turns the complexity evaluators see beside the last user turn. */
export const COMPLEXITY_CONTEXT_CHARS = 1000;

/**
 * What complexity is judged on: the last user turn whole and first (an evaluator that reads only
 * the start of its text, like the LLM classifier, still sees it), then the most recent part of
 * the earlier turns as context. A prompt request: its prompt, as before conversations.
 */
export function complexityText(request: QuestionSource, contextChars = COMPLEXITY_CONTEXT_CHARS): string {
  const last = lastUserTurn(request);
  if (!hasHistory(request) || request.messages === undefined) return last;
  const earlier = conversationText({ messages: request.messages.slice(0, request.messages.map((m) => m.role).lastIndexOf('user')) });
  if (earlier.length === 0) return last;
  const context = earlier.length > contextChars ? `…${earlier.slice(earlier.length - contextChars)}` : earlier;
  return `${last}\n\n(Earlier in the conversation:)\n${context}`;
}
