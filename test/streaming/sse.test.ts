import { describe, expect, it } from 'vitest';
import { createLocalStreamBus, type StreamEvent } from '../../src/streaming/bus';
import { openAiChunk, SSE_DONE, sseData, sseError, streamSelectedCall } from '../../src/streaming/sse';

const delta = (callIndex: number, text: string, provider = 'openai'): StreamEvent => ({ type: 'delta', callIndex, provider, model: `${provider}-model`, text });

/** The chunks written, parsed back. */
function parse(written: string[]): { content: string; chunks: Record<string, unknown>[] } {
  const chunks = written.map((w) => {
    expect(w).toMatch(/^data: .*\n\n$/s);
    return JSON.parse(w.slice('data: '.length)) as Record<string, unknown>;
  });
  const content = chunks.map((c) => ((c['choices'] as { delta: { content?: string } }[])[0]?.delta.content ?? '')).join('');
  return { content, chunks };
}

describe('openAiChunk / sse formatting', () => {
  it('formats a chat.completion.chunk the OpenAI SDK parses', () => {
    const chunk = openAiChunk({ id: 'chatcmpl-1', created: 1, model: 'm', delta: { content: 'hi' }, extra: { orchestrator: { consensus: true } } });
    expect(chunk).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: { content: 'hi' }, logprobs: null, finish_reason: null }],
      orchestrator: { consensus: true },
    });
    expect(sseData(chunk)).toBe(`data: ${JSON.stringify(chunk)}\n\n`);
    expect(SSE_DONE).toBe('data: [DONE]\n\n');
    expect(JSON.parse(sseError('boom', 'server_error').slice(6))).toEqual({ error: { message: 'boom', type: 'server_error', param: null, code: null } });
  });
});

describe('streamSelectedCall', () => {
  it('forwards the first call that produces a delta, ignores failures before it and other calls after it', async () => {
    const bus = createLocalStreamBus();
    const written: string[] = [];
    const done = streamSelectedCall(bus, 'wf', (s) => void written.push(s), { id: 'chatcmpl-x', created: 5, firstChunkExtra: { orchestrator: { streamed: 'single' } } });
    // Call 0 fails before its first token: it publishes nothing the client sees (not even an error event would matter).
    bus.publish('wf', { type: 'error', callIndex: 0, errorType: 'ProviderServerError', message: 'down' });
    bus.publish('wf', delta(1, 'The ', 'anthropic'));
    bus.publish('wf', delta(2, 'NOT THIS', 'google'));
    bus.publish('wf', delta(1, 'answer', 'anthropic'));
    bus.publish('wf', { type: 'done', callIndex: 2, finishReason: 'stop' });
    bus.publish('wf', { type: 'done', callIndex: 1, finishReason: 'length' });
    bus.publish('wf', delta(1, ' late'));
    const result = await done;
    expect(result).toEqual({ outcome: 'done', callIndex: 1, provider: 'anthropic', model: 'anthropic-model', text: 'The answer', finishReason: 'length' });
    const { content, chunks } = parse(written);
    expect(content).toBe('The answer');
    expect(chunks[0]).toMatchObject({ id: 'chatcmpl-x', created: 5, model: 'anthropic-model', orchestrator: { streamed: 'single' }, choices: [{ delta: { role: 'assistant' } }] });
    expect(chunks.slice(1).some((c) => 'orchestrator' in c)).toBe(false);
    expect(chunks.at(-1)).toMatchObject({ choices: [{ delta: {}, finish_reason: 'length' }] });
  });

  it('ends with an error after the selected call failed mid-stream, never splicing in the retry or a fallback', async () => {
    const bus = createLocalStreamBus();
    const written: string[] = [];
    const done = streamSelectedCall(bus, 'wf', (s) => void written.push(s), { id: 'c', model: 'gateway-model' });
    bus.publish('wf', delta(0, 'Partial '));
    bus.publish('wf', { type: 'error', callIndex: 0, errorType: 'ProviderServerError', message: 'mid-stream failure' });
    bus.publish('wf', delta(0, 'Retry answer'));
    bus.publish('wf', delta(1, 'Fallback answer'));
    const result = await done;
    expect(result).toMatchObject({ outcome: 'error', callIndex: 0, text: 'Partial ', errorType: 'ProviderServerError', message: 'mid-stream failure' });
    const { content, chunks } = parse(written);
    expect(content).toBe('Partial ');
    expect(chunks.every((c) => c['model'] === 'gateway-model')).toBe(true);
    expect(chunks.some((c) => (c['choices'] as { finish_reason: unknown }[])[0]?.finish_reason !== null)).toBe(false);
  });

  it('replays what was published before it subscribed', async () => {
    const bus = createLocalStreamBus();
    bus.publish('wf', delta(0, 'early '));
    bus.publish('wf', delta(0, 'bird'));
    bus.publish('wf', { type: 'done', callIndex: 0, finishReason: 'stop' });
    const written: string[] = [];
    const result = await streamSelectedCall(bus, 'wf', (s) => void written.push(s), { id: 'c' });
    expect(result).toMatchObject({ outcome: 'done', text: 'early bird' });
    expect(parse(written).content).toBe('early bird');
    expect(bus.size()).toBe(1); // the buffer stays for other subscribers until it expires
  });

  it('stops when the signal fires (no call streamed) and waits for slow writes', async () => {
    const bus = createLocalStreamBus();
    const controller = new AbortController();
    const written: string[] = [];
    const slowWrite = (s: string) => new Promise<void>((r) => setTimeout(() => r(void written.push(s)), 20));
    const done = streamSelectedCall(bus, 'wf', slowWrite, { id: 'c', signal: controller.signal });
    bus.publish('wf', delta(0, 'x'));
    controller.abort();
    const result = await done;
    expect(result).toEqual({ outcome: 'aborted', callIndex: 0, provider: 'openai', model: 'openai-model', text: 'x' });
    expect(parse(written).content).toBe('x'); // both writes settled before it resolved
  });

  it('rejects when a write fails', async () => {
    const bus = createLocalStreamBus();
    const done = streamSelectedCall(bus, 'wf', () => Promise.reject(new Error('client gone')), { id: 'c' });
    bus.publish('wf', delta(0, 'x'));
    await expect(done).rejects.toThrow('client gone');
  });
});
