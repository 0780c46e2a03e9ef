/**
 * MockModelConnector on its own: which scripted step answers which call (index, matcher, order,
 * default), typed failures with their real retryability, latency bounded by the attempt's timeout,
 * cancellation, and clear errors for a bad script.
 */
import { describe, expect, it } from 'vitest';
import { MockModelConnector, MockScriptError } from '../../src/testing';
import { expectProviderFailure } from '../helpers/expect-provider-failure';

const ask = (prompt: string, model = 'gpt-4o-mini') => ({ model, prompt });


describe('MockModelConnector', () => {
  it('answers by call index first, then matchers, then the in-order script, then the default', async () => {
    const mock = new MockModelConnector('openai')
      .reply('first in order')
      .reply('second in order')
      .when(/capital of France/, 'Paris')
      .onCall(3, 'third call by index');
    const answers = [];
    for (const prompt of ['a', 'What is the capital of France?', 'b', 'c', 'd']) answers.push((await mock.generate(ask(prompt))).content);
    expect(answers).toEqual(['first in order', 'Paris', 'second in order', 'third call by index', 'Mock answer from openai:gpt-4o-mini.']);
    expect(mock.calls.map((c) => [c.index, c.prompt, c.outcome])).toEqual([
      [0, 'a', 'answered'],
      [1, 'What is the capital of France?', 'answered'],
      [2, 'b', 'answered'],
      [3, 'c', 'answered'],
      [4, 'd', 'answered'],
    ]);
    expect(mock.callsMatching('France')).toHaveLength(1);
  });

  it('a matcher with times answers that many matching calls, then the rest of the script takes over', async () => {
    const mock = new MockModelConnector('anthropic').when('code', 'function f() {}', { times: 1 }).setDefault('default');
    expect((await mock.generate(ask('write code'))).content).toBe('function f() {}');
    expect((await mock.generate(ask('write code'))).content).toBe('default');
  });

  it('failures are typed provider errors with the real retryability, Retry-After and status', async () => {
    const mock = new MockModelConnector('openai').fail('ProviderRateLimited', { status: 429, retryAfterMs: 30_000 }).fail('ProviderBadRequest', { status: 400 });
    const limited = await expectProviderFailure(mock.generate(ask('x')));
    expect(limited).toMatchObject({ type: 'ProviderRateLimited', retryable: true, status: 429, retryAfterMs: 30_000, provider: 'openai', model: 'gpt-4o-mini' });
    const bad = await expectProviderFailure(mock.generate(ask('x')));
    expect(bad).toMatchObject({ type: 'ProviderBadRequest', retryable: false, status: 400 });
    expect(mock.calls.map((c) => c.outcome)).toEqual(['ProviderRateLimited', 'ProviderBadRequest']);
  });

  it('latency is bounded by the attempt timeout (ProviderTimeout) and ends on abort (ProviderAborted)', async () => {
    const mock = new MockModelConnector('google', { latencyMs: 5_000 });
    expect(await expectProviderFailure(mock.generate(ask('slow'), { timeoutMs: 20 }))).toMatchObject({ type: 'ProviderTimeout', retryable: true });
    const controller = new AbortController();
    const pending = mock.generate(ask('slow'), { signal: controller.signal });
    controller.abort();
    expect(await expectProviderFailure(pending)).toMatchObject({ type: 'ProviderAborted', retryable: false });
    mock.hang();
    expect(await expectProviderFailure(mock.generate(ask('hangs'), { timeoutMs: 20 }))).toMatchObject({ type: 'ProviderTimeout' });
  });

  it('answers carry usage, confidence and a finish reason; a function step sees the call', async () => {
    const mock = new MockModelConnector('openai').reply({ content: 'yes', tokensIn: 7, tokensOut: 1, confidence: 0.9, finishReason: 'length' }).reply((call) => `you asked ${call.prompt} of ${call.model}`);
    expect(await mock.generate(ask('q'))).toMatchObject({ content: 'yes', tokensIn: 7, tokensOut: 1, confidence: 0.9, finishReason: 'length', provider: 'openai', model: 'gpt-4o-mini' });
    expect((await mock.generate(ask('q2', 'gpt-4o'))).content).toBe('you asked q2 of gpt-4o');
  });

  it('refuses a bad script at once, naming what is wrong', () => {
    const mock = new MockModelConnector('openai');
    // @ts-expect-error not a provider error type
    expect(() => mock.fail('Teapot')).toThrow(/unknown error type "Teapot"/);
    expect(() => mock.onCall(-1, 'x')).toThrow(MockScriptError);
    expect(() => mock.reply('x', { times: 0 })).toThrow(/times must be an integer >= 1/);
    expect(() => mock.setLatency(-5)).toThrow(/must be a number of milliseconds >= 0/);
    // @ts-expect-error not a step
    expect(() => mock.reply(42)).toThrow(/a step is a string/);
  });
});
