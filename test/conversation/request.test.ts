/**
 * Conversations as request input: exactly one of prompt and messages, the last turn the user's,
 * the same limits as a prompt; one view of either shape (requestTurns) for every reader; the
 * response cache key, token estimates and the request fingerprint read the whole conversation.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGES, MAX_PROMPT_CHARS } from '../../src/constants';
import { COMPLEXITY_CONTEXT_CHARS, complexityText, conversationText, lastUserTurn, requestTurns } from '../../src/conversation';
import { InvalidRequest } from '../../src/errors';
import { fingerprintDifferences, parseFingerprint, requestFingerprint } from '../../src/request-fingerprint';
import { estimatePromptTokens, estimateRequestTokens } from '../../src/resilience/estimate';
import { responseCacheKey } from '../../src/resilience/response-cache';
import { DefaultComplexityEvaluator } from '../../src/routing/complexity';
import { validateRequest } from '../../src/routing/planner';
import type { ChatMessage } from '../../src/types';
import { testConfig } from '../helpers/config';

const config = testConfig();
const base = { taskType: 'qa', userId: 'u1' };
const conversation: ChatMessage[] = [
  { role: 'system', content: 'Answer briefly.' },
  { role: 'user', content: 'What is 2 + 3?' },
  { role: 'assistant', content: '5' },
  { role: 'user', content: 'And 17 * 23?' },
];

function refusal(input: unknown): InvalidRequest {
  try {
    validateRequest(config, input);
  } catch (err) {
    if (err instanceof InvalidRequest) return err;
    throw err;
  }
  throw new Error('expected InvalidRequest');
}

describe('OrchestrateRequest messages', () => {
  it('takes a conversation with a conversation id and the stream hint', () => {
    const valid = validateRequest(config, { ...base, messages: conversation, conversationId: 'conv-1', stream: true });
    expect(valid.messages).toEqual(conversation);
    expect(valid.conversationId).toBe('conv-1');
    expect(valid.stream).toBe(true);
    expect(valid.prompt).toBeUndefined();
  });

  it('refuses a request with neither prompt nor messages, naming prompt', () => {
    const err = refusal(base);
    expect(err.issues).toEqual([{ path: 'prompt', message: 'one of prompt or messages is required' }]);
    expect(err.message).toContain('prompt: one of prompt or messages is required');
  });

  it('refuses a request with both, naming messages', () => {
    const err = refusal({ ...base, prompt: 'hi', messages: [{ role: 'user', content: 'hi' }] });
    expect(err.issues).toEqual([{ path: 'messages', message: 'give prompt or messages, not both' }]);
  });

  it('refuses a conversation whose last turn is not the user\'s, naming that turn', () => {
    const err = refusal({ ...base, messages: conversation.slice(0, 3) });
    expect(err.issues.map((i) => i.path)).toEqual(['messages.2.role']);
    expect(err.message).toContain('the last message must be the user\'s (got "assistant")');
  });

  it('refuses an empty list, an unknown role, an empty last question and an extra field on a turn', () => {
    expect(refusal({ ...base, messages: [] }).issues.map((i) => i.path)).toEqual(['messages']);
    expect(refusal({ ...base, messages: [{ role: 'tool', content: 'x' }] }).issues.map((i) => i.path)).toEqual(['messages.0.role']);
    expect(refusal({ ...base, messages: [{ role: 'user', content: '  ' }] }).issues.map((i) => i.path)).toEqual(['messages.0.content']);
    expect(refusal({ ...base, messages: [{ role: 'user', content: 'x', name: 'bob' }] }).issues.map((i) => i.path)).toEqual(['messages.0']);
  });

  it('applies the prompt limits to the whole conversation: characters in all and number of turns', () => {
    const half = 'x'.repeat(MAX_PROMPT_CHARS / 2);
    expect(() => validateRequest(config, { ...base, messages: [{ role: 'user', content: half }, { role: 'assistant', content: 'ok' }, { role: 'user', content: half.slice(2) }] })).not.toThrow();
    const over = refusal({ ...base, messages: [{ role: 'user', content: half }, { role: 'assistant', content: 'ok' }, { role: 'user', content: half }] });
    expect(over.issues).toEqual([{ path: 'messages', message: `messages total ${MAX_PROMPT_CHARS + 2} characters, more than ${MAX_PROMPT_CHARS}` }]);
    const many = Array.from({ length: MAX_MESSAGES + 1 }, (_, i): ChatMessage => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'x' }));
    expect(refusal({ ...base, messages: many }).issues).toEqual([{ path: 'messages', message: `more than ${MAX_MESSAGES} messages` }]);
  });

  it('bounds conversationId to 1-200 characters', () => {
    expect(refusal({ ...base, prompt: 'hi', conversationId: '' }).issues.map((i) => i.path)).toEqual(['conversationId']);
    expect(refusal({ ...base, prompt: 'hi', conversationId: 'c'.repeat(201) }).issues.map((i) => i.path)).toEqual(['conversationId']);
  });
});

describe('requestTurns', () => {
  it('gives a prompt request one user turn and its system prompt', () => {
    expect(requestTurns({ prompt: 'hi', systemPrompt: 'be kind' })).toEqual({ system: 'be kind', turns: [{ role: 'user', content: 'hi' }] });
    expect(requestTurns({ prompt: 'hi' })).toEqual({ system: null, turns: [{ role: 'user', content: 'hi' }] });
  });

  it('gathers system turns after systemPrompt and keeps user and assistant turns in order', () => {
    const mixed: ChatMessage[] = [...conversation.slice(0, 3), { role: 'system', content: 'Now in French.' }, conversation[3]!];
    expect(requestTurns({ messages: mixed, systemPrompt: 'House rules.' })).toEqual({
      system: 'House rules.\n\nAnswer briefly.\n\nNow in French.',
      turns: [
        { role: 'user', content: 'What is 2 + 3?' },
        { role: 'assistant', content: '5' },
        { role: 'user', content: 'And 17 * 23?' },
      ],
    });
  });

  it('reads the last user turn, and the conversation as labelled text for consensus and complexity', () => {
    expect(lastUserTurn({ messages: conversation })).toBe('And 17 * 23?');
    expect(lastUserTurn({ prompt: 'hi' })).toBe('hi');
    expect(conversationText({ messages: conversation })).toBe('User: What is 2 + 3?\n\nAssistant: 5\n\nUser: And 17 * 23?');
    expect(conversationText({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'only' }] })).toBe('only');
    expect(conversationText({ prompt: 'as is' })).toBe('as is');
  });
});

describe('the response cache key over a conversation', () => {
  const key = { taskType: 'qa', route: ['openai:gpt-4o-mini'], consensusStrategy: 'lexical' };
  const ask = (messages: ChatMessage[] | undefined, prompt = 'And 17 * 23?') => responseCacheKey({ ...key, prompt, messages });

  it('differs for different histories that end with the same question', () => {
    const other: ChatMessage[] = [{ role: 'user', content: 'What is 4 + 4?' }, { role: 'assistant', content: '8' }, { role: 'user', content: 'And 17 * 23?' }];
    const swappedRoles: ChatMessage[] = [{ role: 'assistant', content: 'What is 2 + 3?' }, { role: 'user', content: '5' }, { role: 'user', content: 'And 17 * 23?' }];
    const keys = [ask(conversation), ask(other), ask(swappedRoles), ask(undefined), ask(conversation.slice(1))];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is the same for the same conversation up to whitespace, and a one-question conversation keys as that prompt', () => {
    const spaced = conversation.map((m) => ({ ...m, content: `  ${m.content.replace(/ /g, '   ')} ` }));
    expect(ask(spaced)).toBe(ask(conversation));
    expect(ask([{ role: 'user', content: 'And 17 * 23?' }])).toBe(ask(undefined));
    expect(responseCacheKey({ ...key, prompt: 'q', messages: [{ role: 'system', content: 'be kind' }, { role: 'user', content: 'q' }] })).toBe(responseCacheKey({ ...key, prompt: 'q', systemPrompt: 'be kind' }));
  });

  it('keeps the key of a prompt request what it was before conversations (entries already cached stay valid)', () => {
    // The key the code before conversations computed for this request (git show b0fe448^:src/resilience/response-cache.ts).
    expect(responseCacheKey({ ...key, prompt: 'What is 17 * 23?' })).toBe(responseCacheKey({ ...key, prompt: 'What is 17 * 23?', messages: null }));
    expect(responseCacheKey({ ...key, prompt: 'What is 17 * 23?' })).toMatchInlineSnapshot(`"9e16a982a6967f7873658e52b8c3adb5fa21d042c835a1819970dcdd4f89ffdb"`);
  });
});

describe('token estimates over a conversation', () => {
  it('count every turn and the system text, plus a few tokens a turn', () => {
    const texts = conversation.map((m) => m.content);
    expect(estimateRequestTokens({ messages: conversation })).toBe(estimatePromptTokens(...texts) + 4 * conversation.length);
    expect(estimateRequestTokens({ prompt: 'abcdefgh', systemPrompt: 'abcd' })).toBe(3);
    expect(estimateRequestTokens({ messages: conversation })).toBeGreaterThan(estimateRequestTokens({ prompt: 'And 17 * 23?' }));
  });
});

describe('the request fingerprint', () => {
  it('tells conversations and conversation ids apart', () => {
    const a = requestFingerprint({ ...base, messages: conversation, conversationId: 'c1' });
    expect(fingerprintDifferences(a, requestFingerprint({ ...base, messages: conversation.slice(1), conversationId: 'c1' }))).toEqual(['messages']);
    expect(fingerprintDifferences(a, requestFingerprint({ ...base, messages: conversation, conversationId: 'c2' }))).toEqual(['conversationId']);
    expect(fingerprintDifferences(a, requestFingerprint({ ...base, prompt: 'And 17 * 23?' }))).toEqual(['prompt', 'messages', 'conversationId']);
  });

  it('reads a fingerprint stored before these fields as one without them', () => {
    const now = requestFingerprint({ ...base, prompt: 'hi' });
    const { messages: _m, conversationId: _c, ...older } = now.fields;
    const stored = parseFingerprint({ v: 1, fields: older });
    expect(stored).not.toBeNull();
    expect(fingerprintDifferences(stored!, now)).toEqual([]);
    expect(fingerprintDifferences(stored!, requestFingerprint({ ...base, prompt: 'hi', conversationId: 'c1' }))).toEqual(['conversationId']);
  });
});

describe('complexity over a conversation', () => {
  const long: ChatMessage[] = [
    ...Array.from({ length: 40 }, (_, i): ChatMessage => (i % 2 === 0 ? { role: 'user', content: `Why does the distributed database ${i} lose consistency under concurrent transactions? Analyze the trade-offs step by step.` } : { role: 'assistant', content: 'A long, detailed analysis. '.repeat(20) })),
    { role: 'user', content: 'Thanks. What is 2 + 2?' },
  ];

  it('judges the last user turn, whole and first, with a bounded tail of the earlier turns as context', () => {
    const text = complexityText({ messages: long });
    expect(text.startsWith('Thanks. What is 2 + 2?\n\n(Earlier in the conversation:)\n…')).toBe(true);
    expect(text.length).toBeLessThanOrEqual('Thanks. What is 2 + 2?'.length + COMPLEXITY_CONTEXT_CHARS + 40);
    // The context is the most recent part of the history.
    expect(text.endsWith(conversationText({ messages: long.slice(0, -1) }).slice(-50))).toBe(true);
    expect(complexityText({ prompt: 'as is' })).toBe('as is');
    expect(complexityText({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'only' }] })).toBe('only');
  });

  it('does not grow with the length of the history: forty earlier turns weigh as much as the last few', () => {
    const evaluator = new DefaultComplexityEvaluator();
    const context = { taskType: 'qa', threshold: 0.7 };
    const judged = evaluator.evaluate(complexityText({ messages: long }), context);
    const whole = evaluator.evaluate(conversationText({ messages: long }), context);
    expect(judged.score).toBeLessThan(whole.score);
    expect(complexityText({ messages: long })).toBe(complexityText({ messages: long.slice(-9) }));
    // The question alone is simple; its context counts (a follow-up inherits some of it) without deciding alone.
    expect(evaluator.evaluate(complexityText({ prompt: 'Thanks. What is 2 + 2?' }), context).complexity).toBe('simple');
  });
});
