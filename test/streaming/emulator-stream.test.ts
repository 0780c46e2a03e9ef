/** The emulator's streaming directives and its raw streams (what a non-SDK client such as curl sees). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema';
import { parseDirectives, startEmulator, streamPieces, type RunningEmulator } from '../../src/emulator/server';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: ConfigSchema.shape.emulator.parse({ latency_ms: 0 }) });
});
afterAll(async () => {
  await emulator.close();
});

describe('streaming directives', () => {
  it('parses midstream=K[xN] and chunkms=<ms> and removes them from the prompt', () => {
    const d = parseDirectives('Hi [[emulate:midstream=3x1,chunkms=20]] there', 'm');
    expect(d.midstream).toEqual({ afterChunks: 3, times: 1 });
    expect(d.chunkDelayMs).toBe(20);
    expect(d.prompt).toBe('Hi there');
    expect(parseDirectives('[[emulate@other:midstream=1]] x', 'm').midstream).toBeUndefined();
    expect(() => parseDirectives('[[emulate:midstream=abc]]', 'm')).toThrow(/unknown directive item "midstream=abc"/);
  });

  it('splits an answer into word pieces that join back to it', () => {
    const text = '[emulator:m] Short answer:  the answer is 42.';
    expect(streamPieces(text).join('')).toBe(text);
    expect(streamPieces(text)).toEqual(['[emulator:m]', ' Short', ' answer:', '  the', ' answer', ' is', ' 42.']);
    expect(streamPieces('a b \n').join('')).toBe('a b \n');
    expect(streamPieces('  ')).toEqual(['  ']);
    expect(streamPieces('')).toEqual([]);
  });
});

async function sse(path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; type: string | null; events: { event: string | null; data: string }[] }> {
  const res = await fetch(`${emulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const raw = await res.text();
  const events = raw
    .split('\n\n')
    .filter((b) => b.trim() !== '')
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)?.[1] ?? null, data: /^data: (.*)$/m.exec(b)?.[1] ?? '' }));
  return { status: res.status, type: res.headers.get('content-type'), events };
}

describe('raw streams', () => {
  it('OpenAI: chunks, a finish chunk, the usage chunk, then [DONE]', async () => {
    const r = await sse('/v1/chat/completions', { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'What is 2 + 2?' }] }, { authorization: 'Bearer x' });
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/event-stream');
    expect(r.events.at(-1)?.data).toBe('[DONE]');
    const chunks = r.events.slice(0, -1).map((e) => JSON.parse(e.data) as { object: string; choices: { finish_reason: string | null }[]; usage?: { completion_tokens: number } });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('Anthropic: message_start, deltas, message_delta, message_stop; midstream ends with an error event', async () => {
    const body = { model: 'claude-haiku-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'What is 2 + 2?' }] };
    const ok = await sse('/v1/messages', body, { 'x-api-key': 'x' });
    const names = ok.events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names).toContain('content_block_delta');
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    const failed = await sse('/v1/messages', { ...body, messages: [{ role: 'user', content: 'What is 2 + 2? [[emulate:midstream=2]]' }] }, { 'x-api-key': 'x' });
    expect(failed.events.filter((e) => e.event === 'content_block_delta')).toHaveLength(2);
    expect(failed.events.at(-1)?.event).toBe('error');
    expect(failed.events.map((e) => e.event)).not.toContain('message_stop');
  });

  it('Gemini: streamGenerateContent?alt=sse sends responses, the last with finishReason and usage; faults answer before any chunk', async () => {
    const body = { contents: [{ role: 'user', parts: [{ text: 'What is 2 + 2?' }] }] };
    const ok = await sse('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', body, { 'x-goog-api-key': 'x' });
    const chunks = ok.events.map((e) => JSON.parse(e.data) as { candidates: { finishReason?: string }[]; usageMetadata: { candidatesTokenCount?: number } });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.at(-1)?.candidates[0]?.finishReason).toBe('STOP');
    expect(chunks.at(-1)?.usageMetadata.candidatesTokenCount).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.candidates[0]?.finishReason === undefined)).toBe(true);
    const fault = await sse('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', { contents: [{ role: 'user', parts: [{ text: 'Hi [[emulate:503]]' }] }] }, { 'x-goog-api-key': 'x' });
    expect(fault.status).toBe(503);
  });
});
