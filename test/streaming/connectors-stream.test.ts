/**
 * Every connector's streaming call against the local emulator: the real SDKs' streaming APIs over
 * real HTTP (OpenAI and OpenAI-compatible chunks, Anthropic events, Gemini streamGenerateContent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server';
import { createAnthropicConnector } from '../../src/providers/anthropic';
import { createGoogleConnector } from '../../src/providers/google';
import { createOpenAIConnector } from '../../src/providers/openai';
import { ProviderCallError } from '../../src/providers/errors';
import type { ModelConnector } from '../../src/providers/types';

let emulator: RunningEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: ConfigSchema.shape.emulator.parse({ latency_ms: 5 }) });
});
afterAll(async () => {
  await emulator.close();
});

interface Case {
  kind: string;
  model: string;
  make: (url: string) => ModelConnector;
}

const cases: Case[] = [
  { kind: 'openai', model: 'gpt-4o-mini', make: (url) => createOpenAIConnector({ provider: 'openai', kind: 'openai', apiKey: 'emulator', baseUrl: `${url}/v1`, defaultModel: 'gpt-4o-mini', models: [] }) },
  { kind: 'openai_compatible', model: 'llama3.1', make: (url) => createOpenAIConnector({ provider: 'local', kind: 'openai_compatible', baseUrl: `${url}/v1`, defaultModel: 'llama3.1', models: [] }) },
  { kind: 'anthropic', model: 'claude-haiku-4-5', make: (url) => createAnthropicConnector({ provider: 'anthropic', apiKey: 'emulator', baseUrl: url, defaultModel: 'claude-haiku-4-5', models: [] }) },
  { kind: 'google', model: 'gemini-2.0-flash', make: (url) => createGoogleConnector({ provider: 'google', apiKey: 'emulator', baseUrl: url, defaultModel: 'gemini-2.0-flash', models: [] }) },
];

function stream(connector: ModelConnector) {
  const generateStream = connector.generateStream?.bind(connector);
  if (!generateStream) throw new Error(`${connector.kind} connector has no generateStream`);
  return generateStream;
}

describe.each(cases)('$kind connector streaming against the emulator', ({ kind, model, make }) => {
  let connector: ModelConnector;
  beforeAll(() => {
    connector = make(emulator.url);
  });

  it('delivers the answer incrementally and returns what the non-streamed call returns, with usage', async () => {
    const prompt = `Why do distributed systems need consensus protocols? (${kind}) [[emulate:chunkms=15]]`;
    const plain = await connector.generate({ model, prompt });
    const deltas: { text: string; at: number }[] = [];
    const started = performance.now();
    const streamed = await stream(connector)({ model, prompt }, { onDelta: (text) => deltas.push({ text, at: performance.now() - started }) });
    const ended = performance.now() - started;

    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.every((d) => d.text.length > 0)).toBe(true);
    expect(deltas.map((d) => d.text).join('')).toBe(streamed.content);
    // Incremental: the first piece arrived well before the last (15 ms between chunks).
    expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThan(15 * (deltas.length - 2));
    expect(streamed.content).toBe(plain.content);
    expect(streamed.finishReason).toBe('stop');
    expect(streamed.tokensIn).toBe(plain.tokensIn);
    expect(streamed.tokensOut).toBe(plain.tokensOut);
    expect(streamed.tokensOut).toBeGreaterThan(0);
    expect(streamed.model).toBe(model);
    expect(streamed.providerRequestId).toMatch(/^\S{8,}$/);
    expect(streamed.firstTokenMs).not.toBeNull();
    expect(streamed.firstTokenMs!).toBeLessThanOrEqual(streamed.latencyMs);
    expect(streamed.latencyMs).toBeLessThanOrEqual(Math.ceil(ended) + 1);
  });

  it('reports a truncated streamed answer as finishReason length', async () => {
    const res = await stream(connector)({ model, prompt: `Explain consensus algorithms in distributed databases (${kind})`, maxTokens: 3 }, { onDelta: () => undefined });
    expect(res.finishReason).toBe('length');
    expect(res.tokensOut).toBeLessThanOrEqual(3);
  });

  it('a failure mid-stream is a retryable ProviderCallError after the first deltas', async () => {
    const deltas: string[] = [];
    const err = await stream(connector)({ model, prompt: `Explain quorum reads and writes in detail (${kind}) [[emulate:midstream=3]]` }, { onDelta: (t) => deltas.push(t) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderCallError);
    expect((err as ProviderCallError).retryable).toBe(true);
    expect((err as ProviderCallError).message).toContain('mid-stream failure');
    expect(deltas).toHaveLength(3);
  });

  it('an HTTP fault before any chunk is classified as for a plain call, with no delta', async () => {
    const deltas: string[] = [];
    const err = await stream(connector)({ model, prompt: `What is 2 + 2? (${kind}) [[emulate:429:retry=2]]` }, { onDelta: (t) => deltas.push(t) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderCallError);
    expect((err as ProviderCallError).type).toBe('ProviderRateLimited');
    expect((err as ProviderCallError).retryAfterMs).toBe(2000);
    expect(deltas).toEqual([]);
  });

  it('a broken chunk is a malformed response', async () => {
    const err = await stream(connector)({ model, prompt: `Explain leader election in Raft clusters (${kind}) [[emulate:malformed]]` }, { onDelta: () => undefined }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderCallError);
    expect((err as ProviderCallError).type).toBe('ProviderMalformedResponse');
  });

  it('stops at the provider when the caller aborts mid-stream', async () => {
    const controller = new AbortController();
    const deltas: string[] = [];
    const err = await stream(connector)(
      { model, prompt: `Explain the CAP theorem at length (${kind}) [[emulate:chunkms=200]]` },
      { signal: controller.signal, onDelta: (t) => (deltas.push(t), controller.abort()) },
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderCallError);
    expect((err as ProviderCallError).type).toBe('ProviderAborted');
    expect(deltas).toHaveLength(1);
  });
});
