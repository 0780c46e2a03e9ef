/**
 * A conversation reaches each provider in its SDK's native shape, over real HTTP to the emulator:
 * OpenAI (and compatible servers) chat messages with the system text first, Anthropic `system`
 * beside user/assistant messages, Gemini `systemInstruction` beside contents with roles user and
 * model. The emulator answers the last user turn (its arithmetic is computed from that turn alone).
 * The bodies asserted on are the ones the emulator received (captured on the wire by the fetch the
 * SDK uses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server';
import { createAnthropicConnector } from '../../src/providers/anthropic';
import { createGoogleConnector } from '../../src/providers/google';
import { createOpenAIConnector } from '../../src/providers/openai';
import type { ConnectorOptions, ModelConnector } from '../../src/providers/types';
import type { ChatMessage } from '../../src/types';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: ConfigSchema.shape.emulator.parse({ latency_ms: 1, models: Object.fromEntries(['gpt-4o-mini', 'llama3.1', 'claude-haiku-4-5', 'gemini-2.0-flash'].map((m) => [m, { accuracy: 1 }])) }) });
});
afterAll(async () => {
  await emulator.close();
});

/** The JSON bodies the SDK posted, in order. */
function recorder(): { fetch: typeof fetch; bodies: unknown[] } {
  const bodies: unknown[] = [];
  const recording: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') bodies.push(JSON.parse(init.body));
    return fetch(input, init);
  };
  return { fetch: recording, bodies };
}

const conversation: ChatMessage[] = [
  { role: 'system', content: 'Answer with the number.' },
  { role: 'user', content: 'What is 2 + 3?' },
  { role: 'assistant', content: '5' },
  { role: 'user', content: 'What is 17 * 23?' },
];
const request = { prompt: 'What is 17 * 23?', messages: conversation, systemPrompt: 'House rules.' };
const SYSTEM = 'House rules.\n\nAnswer with the number.';

interface Case {
  kind: string;
  model: string;
  make: (url: string, fetch: ConnectorOptions['fetch']) => ModelConnector;
  expected: Record<string, unknown>;
  /** A prompt request's body (prompt 'What is 6 * 7?', system prompt 'Be brief.'). */
  single: Record<string, unknown>;
}

const cases: Case[] = [
  {
    kind: 'openai',
    model: 'gpt-4o-mini',
    make: (url, f) => createOpenAIConnector({ provider: 'openai', kind: 'openai', apiKey: 'emulator', baseUrl: `${url}/v1`, defaultModel: 'gpt-4o-mini', models: [], ...(f && { fetch: f }) }),
    single: { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 6 * 7?' }] },
    expected: {
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'What is 2 + 3?' },
        { role: 'assistant', content: '5' },
        { role: 'user', content: 'What is 17 * 23?' },
      ],
    },
  },
  {
    kind: 'openai_compatible',
    model: 'llama3.1',
    make: (url, f) => createOpenAIConnector({ provider: 'local', kind: 'openai_compatible', baseUrl: `${url}/v1`, defaultModel: 'llama3.1', models: [], ...(f && { fetch: f }) }),
    single: { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 6 * 7?' }] },
    expected: {
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'What is 2 + 3?' },
        { role: 'assistant', content: '5' },
        { role: 'user', content: 'What is 17 * 23?' },
      ],
    },
  },
  {
    kind: 'anthropic',
    model: 'claude-haiku-4-5',
    make: (url, f) => createAnthropicConnector({ provider: 'anthropic', apiKey: 'emulator', baseUrl: url, defaultModel: 'claude-haiku-4-5', models: [], ...(f && { fetch: f }) }),
    single: { system: 'Be brief.', messages: [{ role: 'user', content: 'What is 6 * 7?' }] },
    expected: {
      system: SYSTEM,
      messages: [
        { role: 'user', content: 'What is 2 + 3?' },
        { role: 'assistant', content: '5' },
        { role: 'user', content: 'What is 17 * 23?' },
      ],
    },
  },
  {
    kind: 'google',
    model: 'gemini-2.0-flash',
    make: (url, f) => createGoogleConnector({ provider: 'google', apiKey: 'emulator', baseUrl: url, defaultModel: 'gemini-2.0-flash', models: [], ...(f && { fetch: f }) }),
    single: { systemInstruction: { parts: [{ text: 'Be brief.' }] }, contents: [{ role: 'user', parts: [{ text: 'What is 6 * 7?' }] }] },
    expected: {
      systemInstruction: { parts: [{ text: SYSTEM }] },
      contents: [
        { role: 'user', parts: [{ text: 'What is 2 + 3?' }] },
        { role: 'model', parts: [{ text: '5' }] },
        { role: 'user', parts: [{ text: 'What is 17 * 23?' }] },
      ],
    },
  },
];

describe.each(cases)('$kind connector with a conversation', ({ model, make, expected, single }) => {
  it('sends the turns in the API\'s native shape and gets the answer to the last user turn', async () => {
    const rec = recorder();
    const connector = make(emulator.url, rec.fetch);
    const response = await connector.generate({ model, ...request });
    expect(rec.bodies).toHaveLength(1);
    expect(rec.bodies[0]).toMatchObject(expected);
    // The emulator computes the arithmetic of the last user turn, not of the earlier one.
    expect(response.content).toContain('391');
    expect(response.content.replace(/^\[emulator:[^\]]*\]/, '')).not.toMatch(/\b5\b/);
  });

  it('counts the whole conversation as input, more than the last turn alone', async () => {
    const connector = make(emulator.url, undefined);
    const whole = await connector.generate({ model, ...request });
    const last = await connector.generate({ model, prompt: 'What is 17 * 23?' });
    expect(whole.tokensIn).toBeGreaterThan(last.tokensIn);
  });

  it('sends a prompt request as one user turn with the system prompt, as before', async () => {
    const rec = recorder();
    await make(emulator.url, rec.fetch).generate({ model, prompt: 'What is 6 * 7?', systemPrompt: 'Be brief.' });
    expect(rec.bodies[0]).toMatchObject(single);
  });
});

describe('the emulator takes each API\'s own turn roles only, as the real APIs do', () => {
  async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${emulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'emulator', 'x-goog-api-key': 'emulator', authorization: 'Bearer emulator' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  }
  const turns = [
    { role: 'user', content: 'What is 2 + 3?' },
    { role: 'assistant', content: '5' },
    { role: 'user', content: 'What is 17 * 23?' },
  ];

  it('Anthropic: a system turn among the messages is a 400 naming it; user/assistant turns are answered from the last user turn', async () => {
    const refused = await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'system', content: 'x' }, ...turns] });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('messages.0.role');
    const ok = await post('/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 50, system: 'Answer with the number.', messages: turns });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('391');
  });

  it('Gemini: an assistant turn must say model; OpenAI: an unknown role is refused', async () => {
    const contents = turns.map((t) => ({ role: t.role, parts: [{ text: t.content }] }));
    const refused = await post('/v1beta/models/gemini-2.0-flash:generateContent', { contents });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('contents.1.role');
    const ok = await post('/v1beta/models/gemini-2.0-flash:generateContent', { contents: contents.map((c) => (c.role === 'assistant' ? { ...c, role: 'model' } : c)) });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('391');
    const openai = await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'robot', content: 'x' }, ...turns] });
    expect(openai.status).toBe(400);
    expect(openai.text).toContain('messages.0.role');
  });
});
