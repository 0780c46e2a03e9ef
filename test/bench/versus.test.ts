/**
 * The pieces of `bench:versus` that could be wrong without its figures showing it (bench/versus-parts.ts):
 * the LiteLLM config routes every model to the emulator in that provider's own API (checked by
 * calling the in-process emulator at the URL LiteLLM builds from each api_base); our bench config
 * is valid and routes one provider with the other two as failover; and the crash accounting counts
 * answered, lost and repeated calls right on a synthetic request log. Needs neither LiteLLM nor Temporal.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { callsPerRequest, crashAccounting, liteLLMConfig, ourVersusConfig, requestTag, VERSUS_MODELS, VERSUS_TASK_TYPE, type CrashOutcome } from '../../bench/versus-parts';
import { loadConfig } from '../../src/config/load';
import { startEmulator, type EmulatorCallRecord, type RunningEmulator } from '../../src/emulator/server';
import { planRoute, validateRequest } from '../../src/routing/planner';

const ROOT = join(__dirname, '..', '..');

interface Deployment {
  model_name: string;
  litellm_params: { model: string; api_base: string; api_key: string; timeout: number };
}

describe('the LiteLLM config the bench writes', () => {
  let emulator: RunningEmulator;
  const log: EmulatorCallRecord[] = [];
  beforeAll(async () => {
    const config = loadConfig(join(ROOT, 'config.yaml'));
    emulator = await startEmulator({ port: 0, settings: { ...config.emulator, latency_ms: 0 }, onCall: (c) => void log.push(c) });
  });
  afterAll(async () => {
    await emulator.close();
  });

  const written = (url: string) => parse(stringify(liteLLMConfig({ emulatorUrl: `${url}/`, masterKey: 'sk-test', maxAttempts: 3, allowedFails: 5, cooldownS: 10 }))) as Record<string, unknown>;

  it('routes each model to the emulator in its provider API, at the URL LiteLLM builds from api_base', async () => {
    const models = written(emulator.url)['model_list'] as Deployment[];
    expect(models.map((m) => m.model_name)).toEqual(VERSUS_MODELS.map((m) => m.model));
    for (const m of models) {
      const [provider, model] = m.litellm_params.model.split('/') as [string, string];
      const base = m.litellm_params.api_base;
      expect(base.startsWith(emulator.url), base).toBe(true);
      // How LiteLLM 1.106 extends api_base: openai `<base>/chat/completions`, anthropic `<base>/v1/messages`, gemini `<base>/models/<m>:generateContent`.
      const content = `What is 6 * 7? ${requestTag('test', 'route', models.indexOf(m))}`;
      const call =
        provider === 'openai'
          ? { url: `${base}/chat/completions`, headers: { authorization: 'Bearer x' }, body: { model, messages: [{ role: 'user', content }] } }
          : provider === 'anthropic'
            ? { url: `${base}/v1/messages`, headers: { 'x-api-key': 'x', 'anthropic-version': '2023-06-01' }, body: { model, max_tokens: 64, messages: [{ role: 'user', content }] } }
            : { url: `${base}/models/${model}:generateContent`, headers: { 'x-goog-api-key': 'x' }, body: { contents: [{ role: 'user', parts: [{ text: content }] }] } };
      expect(['openai', 'anthropic', 'gemini']).toContain(provider);
      const res = await fetch(call.url, { method: 'POST', headers: { 'content-type': 'application/json', ...call.headers }, body: JSON.stringify(call.body) });
      expect(res.status, `${m.model_name} at ${call.url}`).toBe(200);
      expect(JSON.stringify(await res.json())).toContain(`[emulator:${model}]`);
    }
    expect(log.map((c) => c.model)).toEqual(VERSUS_MODELS.map((m) => m.model));
  });

  it('retries and cools down as ours does, each model falling back to the other two, with the master key and no debug logging', () => {
    const config = written('http://127.0.0.1:9');
    expect(config['router_settings']).toMatchObject({ num_retries: 2, allowed_fails: 5, cooldown_time: 10 });
    const fallbacks = (config['router_settings'] as { fallbacks: Record<string, string[]>[] }).fallbacks;
    expect(fallbacks[0]).toEqual({ 'gpt-4o-mini': ['claude-haiku-4-5', 'gemini-2.0-flash'] });
    for (const entry of fallbacks) {
      const [[name, rest]] = Object.entries(entry) as [[string, string[]]];
      expect(new Set([name, ...rest])).toEqual(new Set(VERSUS_MODELS.map((m) => m.model)));
    }
    expect(config['general_settings']).toEqual({ master_key: 'sk-test' });
    expect(config['litellm_settings']).toMatchObject({ set_verbose: false });
  });
});

describe('our bench config', () => {
  it('is a valid config whose bench route calls gpt-4o-mini alone, the same two failovers behind it, all on the emulator', () => {
    const dir = mkdtempSync(join(tmpdir(), 'versus-config-'));
    try {
      const raw = parse(readFileSync(join(ROOT, 'config.yaml'), 'utf8')) as Record<string, unknown>;
      const path = join(dir, 'config.yaml');
      writeFileSync(path, stringify(ourVersusConfig(raw, { latencyMs: 50, cooldownS: 10 })));
      const config = loadConfig(path);
      expect(config.emulator).toMatchObject({ mode: 'always', latency_ms: 50 });
      expect(config.resilience.circuit_breaker.cooldown_s).toBe(10);
      const request = validateRequest(config, { prompt: 'What is 6 * 7?', taskType: VERSUS_TASK_TYPE, userId: 'bench' });
      const plan = planRoute({ config, request, assessment: { complexity: 'complex', score: 0.9, features: {} }, complexitySource: 'evaluator', routingPolicyVersion: 1 });
      expect(plan.requireConsensus).toBe(false);
      expect(plan.targets.map((t) => `${t.provider}:${t.model}`)).toEqual(['openai:gpt-4o-mini']);
      expect(plan.fallbacks.map((t) => `${t.provider}:${t.model}`)).toEqual(['anthropic:claude-haiku-4-5', 'google:gemini-2.0-flash']);
      expect(plan.targets[0]?.maxAttempts).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('accounting from the request log', () => {
  const call = (tag: string, startedAt: number, endedAt: number, completed: boolean, status: number | null = completed ? 200 : null): EmulatorCallRecord => ({
    model: 'gpt-4o-mini',
    prompt: `[[emulate:latency=1000]] What is 3 * 7? ${tag}`,
    attempt: 0,
    startedAt,
    endedAt,
    fault: null,
    status,
    completed,
    ids: [],
  });
  const t = (i: number) => requestTag('litellm', 'crash', i);

  it('counts answered, lost and repeated calls, and a repeat of a call the provider had answered', () => {
    const log = [
      call(t(1), 0, 1000, true), // answered through the kill
      call(t(2), 0, 500, false), // cut off by the kill...
      call(t(2), 2000, 3000, true), // ...made again by the resend, answered
      call(t(3), 0, 1000, true), // the provider answered, the proxy died (at 1500) before the client heard...
      call(t(3), 2000, 3000, true), // ...so the resend paid for it twice
      call(t(5), 2000, 3000, true), // answered after the restart...
      call(t(5), 3100, 3200, true), // ...and asked again by the side's own retry: a repeat, but not of an answer the kill lost
      call(t(4), 0, 500, false), // cut off; the resend failed too
      call(t(4), 2000, 2100, true, 503),
      call(t(10), 0, 1000, true), // not t(1): tags are matched whole
      call(requestTag('ours', 'crash', 1), 0, 500, false), // the other side's
    ];
    const outcomes: CrashOutcome[] = [
      { tag: t(1), firstAttemptOk: true, answered: true },
      { tag: t(2), firstAttemptOk: false, answered: true },
      { tag: t(3), firstAttemptOk: false, answered: true },
      { tag: t(4), firstAttemptOk: false, answered: false },
      { tag: t(10), firstAttemptOk: true, answered: true },
      { tag: t(11), firstAttemptOk: false, answered: false }, // never reached a provider
      { tag: t(5), firstAttemptOk: false, answered: true },
    ];
    expect(crashAccounting(outcomes, log, '<litellm:crash:', 1500)).toEqual({
      requests: 7,
      answeredFirstAttempt: 2,
      answered: 5,
      lost: 2,
      providerCalls: 10,
      callsRepeated: 4,
      repeatedAfterCompleted: 2,
      repeatedAnswerFromBeforeKill: 1,
    });
  });

  it('a failed call is not an answer: a call after a 503 is a repeat, not paid work done twice', () => {
    const log = [call(t(1), 0, 100, true, 503), call(t(1), 200, 300, true)];
    expect(crashAccounting([{ tag: t(1), firstAttemptOk: true, answered: true }], log, '<litellm:crash:', 1000)).toMatchObject({ providerCalls: 2, callsRepeated: 1, repeatedAfterCompleted: 0 });
  });

  it('calls per request divides by the requests sent, counting those that reached no provider', () => {
    const fault = (i: number) => requestTag('ours', 'fault-429', i);
    const log = [call(fault(0), 0, 1, true, 429), call(fault(0), 2, 3, true), call(fault(1), 0, 1, true), call(requestTag('litellm', 'fault-429', 0), 0, 1, true)];
    expect(callsPerRequest(log, '<ours:fault-429:', 4)).toBe(0.75);
    expect(callsPerRequest(log, '<ours:fault-429:', 0)).toBe(0);
  });
});
