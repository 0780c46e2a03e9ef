/**
 * The question a request workflow passes on: `prompt`, or a conversation (`messages`). A
 * conversation's run is marked with the `request-v4-conversations` patch; a prompt request's
 * commands and inputs are the same as before conversations existed.
 */
import { patched } from '@temporalio/workflow';
import { conversationText, lastUserTurn } from '../../src/conversation';
import type { ChatMessage, OrchestrateRequest } from '../../src/types';

export const REQUEST_V4_CONVERSATIONS = 'request-v4-conversations';

export interface Question {
  /** The prompt; for a conversation, its last user turn. */
  prompt: string;
  /** The conversation's turns, when the request came as one. */
  messages?: ChatMessage[];
  /** What consensus strategies and the judge read: the prompt, or the whole conversation as text. */
  text: string;
}

export function questionOf(request: OrchestrateRequest): Question {
  if (request.messages !== undefined && patched(REQUEST_V4_CONVERSATIONS)) {
    return { prompt: lastUserTurn(request), messages: request.messages, text: conversationText(request) };
  }
  return { prompt: request.prompt ?? '', text: request.prompt ?? '' };
}
