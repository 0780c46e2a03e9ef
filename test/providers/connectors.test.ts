/**
 * Every connector against the local emulator on an ephemeral port: the real SDKs over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server';
import { createAnthropicConnector } from '../../src/providers/anthropic';
import { createGoogleConnector } from '../../src/providers/google';
import { createOpenAIConnector } from '../../src/providers/openai';
import type { ProviderErrorType } from '../../src/providers/errors';
import type { ModelConnector } from '../../src/providers/types';
import { expectProviderFailure } from '../helpers/expect-provider-failure';

const LATENCY_MS = 5;
let emulator: RunningEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: ConfigSchema.shape.emulator.parse({ latency_ms: LATENCY_MS }) });
});
afterAll(async () => {
  await emulator.close();
});

interface Case {
  kind: string;
  model: string;
  other: string;
  make: (url: string) => ModelConnector;
}

const cases: Case[] = [
  {
    kind: 'openai',
    model: 'gpt-4o-mini',
    other: 'gpt-4o',
    make: (url) => createOpenAIConnector({ provider: 'openai', kind: 'openai', apiKey: 'emulator', baseUrl: `${url}/v1`, defaultModel: 'gpt-4o-mini', models: ['gpt-4o'] }),
  },
  {
    kind: 'openai_compatible',
    model: 'llama3.1',
    other: 'qwen2.5',
    // No key at all: the connector sends a placeholder.
    make: (url) => createOpenAIConnector({ provider: 'local', kind: 'openai_compatible', baseUrl: `${url}/v1`, defaultModel: 'llama3.1', models: ['qwen2.5'] }),
  },
  {
    kind: 'anthropic',
    model: 'claude-haiku-4-5',
    other: 'claude-opus-4-7',
    make: (url) => createAnthropicConnector({ provider: 'anthropic', apiKey: 'emulator', baseUrl: url, defaultModel: 'claude-haiku-4-5', models: ['claude-opus-4-7'] }),
  },
  {
    kind: 'google',
    model: 'gemini-2.0-flash',
    other: 'gemini-2.5-pro',
    make: (url) => createGoogleConnector({ provider: 'google', apiKey: 'emulator', baseUrl: url, defaultModel: 'gemini-2.0-flash', models: ['gemini-2.5-pro'] }),
  },
];


describe.each(cases)('$kind connector against the emulator', ({ kind, model, other, make }) => {
  let connector: ModelConnector;
  const prompt = (text: string): string => `${text} (${kind})`;
  beforeAll(() => {
    connector = make(emulator.url);
  });

  it('answers with content, tokens, model, request id and finish reason', async () => {
    const res = await connector.generate({ model, prompt: prompt('What is 17 * 23? [[emulate:answer=correct]]') });
    expect(res.content.startsWith(`[emulator:${model}] `)).toBe(true);
    expect(res.content).toContain('391');
    expect(res.provider).toBe(connector.provider);
    expect(res.model).toBe(model);
    expect(res.tokensIn).toBeGreaterThan(0);
    expect(res.tokensOut).toBe(Math.ceil(res.content.length / 4));
    expect(res.finishReason).toBe('stop');
    expect(res.providerRequestId).toMatch(/^\S{8,}$/);
    expect(res.latencyMs).toBeGreaterThanOrEqual(LATENCY_MS - 1);
    expect(connector.kind).toBe(kind);
  });

  it('reports a truncated answer as finishReason length', async () => {
    const res = await connector.generate({ model, prompt: prompt('Explain consensus algorithms in distributed databases'), maxTokens: 3 });
    expect(res.finishReason).toBe('length');
    expect(res.tokensOut).toBeLessThanOrEqual(3);
  });

  it('is deterministic per model and prompt, and models can disagree in substance', async () => {
    const p = prompt('What is 123 + 456?');
    const a = await connector.generate({ model, prompt: p });
    const b = await connector.generate({ model, prompt: p });
    expect(b.content).toBe(a.content);
    emulator.setModelSettings(model, { accuracy: 1 });
    emulator.setModelSettings(other, { accuracy: 0 });
    const right = await connector.generate({ model, prompt: p });
    const wrong = await connector.generate({ model: other, prompt: p });
    expect(right.content).toContain('579');
    expect(wrong.content).not.toContain('579');
    expect(wrong.content.startsWith(`[emulator:${other}] `)).toBe(true);
  });

  it.each<[string, ProviderErrorType, boolean, number | null, number | null]>([
    ['429:retry=2', 'ProviderRateLimited', true, 429, 2000],
    ['529', 'ProviderOverloaded', true, 529, null],
    ['503', 'ProviderOverloaded', true, 503, null],
    ['500', 'ProviderServerError', true, 500, null],
    ['409', 'ProviderConflict', true, 409, null],
    ['401', 'ProviderAuthError', false, 401, null],
    ['403', 'ProviderAuthError', false, 403, null],
    ['400', 'ProviderBadRequest', false, 400, null],
    ['404', 'ProviderBadRequest', false, 404, null],
    ['malformed', 'ProviderMalformedResponse', true, null, null],
  ])('maps [[emulate:%s]] to %s (retryable %s)', async (directive, type, retryable, status, retryAfterMs) => {
    const before = emulator.stats()[model]?.calls ?? 0;
    const err = await expectProviderFailure(connector.generate({ model, prompt: prompt(`fault ${directive} [[emulate:${directive}]]`) }));
    expect({ type: err.type, retryable: err.retryable, status: err.status, retryAfterMs: err.retryAfterMs }).toEqual({ type, retryable, status, retryAfterMs });
    expect(err.provider).toBe(connector.provider);
    expect(err.model).toBe(model);
    // maxRetries 0: exactly one HTTP call per attempt.
    expect(emulator.stats()[model]?.calls).toBe(before + 1);
  });

  it('times out a hung call as a retryable ProviderTimeout', async () => {
    const started = Date.now();
    const err = await expectProviderFailure(connector.generate({ model, prompt: prompt('[[emulate:hang]] hang') }, { timeoutMs: 250 }));
    expect(err.type).toBe('ProviderTimeout');
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a caller abort as ProviderAborted, not a timeout', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await expectProviderFailure(connector.generate({ model, prompt: prompt('[[emulate:hang]] abort') }, { signal: controller.signal, timeoutMs: 10_000 }));
    expect(err.type).toBe('ProviderAborted');
    expect(err.retryable).toBe(false);
  });

  it('fails the first attempt and succeeds on the retry with times', async () => {
    const p = prompt('[[emulate:500x1]] retry me');
    expect((await expectProviderFailure(connector.generate({ model, prompt: p }))).type).toBe('ProviderServerError');
    await expect(connector.generate({ model, prompt: p })).resolves.toMatchObject({ finishReason: 'stop' });

    emulator.setModelSettings(model, { faults: [{ kind: 503, times: 1 }] });
    const q = prompt('configured fault');
    expect((await expectProviderFailure(connector.generate({ model, prompt: q }))).type).toBe('ProviderOverloaded');
    await expect(connector.generate({ model, prompt: q })).resolves.toMatchObject({ finishReason: 'stop' });
    emulator.resetFaults();
  });

  it('refuses a model the provider is not configured for, without calling it', async () => {
    const before = emulator.stats()['not-a-model']?.calls ?? 0;
    const err = await expectProviderFailure(connector.generate({ model: 'not-a-model', prompt: 'hi' }));
    expect(err.type).toBe('ProviderBadRequest');
    expect(emulator.stats()['not-a-model']?.calls ?? 0).toBe(before);
  });

  it('validates the connection and lists its models', async () => {
    await expect(connector.validateConnection()).resolves.toBe(true);
    expect(connector.getSupportedModels()).toEqual([model, other]);
  });

  it('reports an unreachable endpoint as a retryable connection error and validateConnection false', async () => {
    const dead = make('http://127.0.0.1:9'); // discard port: nothing listens
    const err = await expectProviderFailure(dead.generate({ model, prompt: 'hi' }, { timeoutMs: 5_000 }));
    expect(err.type).toBe('ProviderConnectionError');
    expect(err.retryable).toBe(true);
    await expect(dead.validateConnection()).resolves.toBe(false);
  });
});
