/** The emulator over raw HTTP: wire formats, directives, faults, loopback binding, the standalone entry point. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type Config, type ConfigInput } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { chooseFault, isLoopbackHost, parseDirectives, startEmulator, type RunningEmulator } from '../../src/emulator/server';

const settings = (input: NonNullable<ConfigInput['emulator']> = {}): Config['emulator'] => ConfigSchema.shape.emulator.parse({ latency_ms: 0, ...input });

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: settings({ models: { 'slow-model': { latency_ms: 150 } } }) });
});
afterAll(async () => {
  await emulator.close();
});

const OPENAI = { authorization: 'Bearer emulator', 'content-type': 'application/json' };
const ANTHROPIC = { 'x-api-key': 'emulator', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
const GOOGLE = { 'x-goog-api-key': 'emulator', 'content-type': 'application/json' };

function openai(prompt: string, model = 'gpt-4o-mini', headers: Record<string, string> = OPENAI): Promise<Response> {
  return fetch(`${emulator.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }] }) });
}
function anthropic(prompt: string, model = 'claude-haiku-4-5'): Promise<Response> {
  return fetch(`${emulator.url}/v1/messages`, {
    method: 'POST',
    headers: ANTHROPIC,
    body: JSON.stringify({ model, max_tokens: 100, messages: [{ role: 'user', content: prompt }] }),
  });
}
function gemini(prompt: string, model = 'gemini-2.0-flash'): Promise<Response> {
  return fetch(`${emulator.url}/v1beta/models/${model}:generateContent`, { method: 'POST', headers: GOOGLE, body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: prompt }] }] }) });
}

describe('emulator binding', () => {
  it('binds to 127.0.0.1 by default and refuses non-loopback hosts', async () => {
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.port).toBeGreaterThan(0);
    await expect(startEmulator({ host: '0.0.0.0', port: 0, settings: settings() })).rejects.toBeInstanceOf(ConfigError);
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('192.168.1.10')).toBe(false);
    expect(isLoopbackHost('::')).toBe(false);
  });

  it('fails with EADDRINUSE when the port is taken', async () => {
    await expect(startEmulator({ port: emulator.port, settings: settings() })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('wire formats', () => {
  it('speaks OpenAI chat completions with a request id header', async () => {
    const res = await openai('What is 6 * 7?');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const body = (await res.json()) as { id: string; object: string; choices: { message: { content: string }; finish_reason: string }[]; usage: { prompt_tokens: number } };
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]?.message.content).toMatch(/^\[emulator:gpt-4o-mini\] /);
    expect(body.choices[0]?.finish_reason).toBe('stop');
    expect(body.usage.prompt_tokens).toBe(Math.ceil('What is 6 * 7?'.length / 4));
  });

  it('speaks Anthropic messages and Gemini generateContent', async () => {
    const a = await anthropic('Hello there');
    expect(a.headers.get('request-id')).toMatch(/^req_011C/);
    expect(await a.json()).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn', content: [{ type: 'text' }] });
    const g = await gemini('Hello there');
    const body = (await g.json()) as { responseId: string; candidates: { finishReason: string; avgLogprobs: number }[]; usageMetadata: { totalTokenCount: number } };
    expect(body.responseId).toMatch(/^\w{22}$/);
    expect(body.candidates[0]?.finishReason).toBe('STOP');
    expect(body.candidates[0]?.avgLogprobs).toBeLessThan(0);
    expect(body.usageMetadata.totalTokenCount).toBeGreaterThan(0);
  });

  it('lists models per dialect', async () => {
    const o = await fetch(`${emulator.url}/v1/models`, { headers: OPENAI });
    expect(await o.json()).toMatchObject({ object: 'list' });
    const a = await fetch(`${emulator.url}/v1/models`, { headers: ANTHROPIC });
    expect(await a.json()).toMatchObject({ has_more: false });
    const g = await fetch(`${emulator.url}/v1beta/models`, { headers: GOOGLE });
    expect(await g.json()).toHaveProperty('models');
  });

  it('refuses calls without a credential, bad JSON and unknown routes', async () => {
    expect((await openai('hi', 'gpt-4o-mini', { 'content-type': 'application/json' })).status).toBe(401);
    const bad = await fetch(`${emulator.url}/v1/messages`, { method: 'POST', headers: ANTHROPIC, body: '{' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((await fetch(`${emulator.url}/v2/nothing`, { headers: OPENAI })).status).toBe(404);
    const unknown = await openai('[[emulate:explode]] hi');
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain('unknown directive item');
  });
});

describe('faults', () => {
  it('sends provider-shaped error bodies with Retry-After', async () => {
    const o = await openai('[[emulate:429:retry=2]] limit');
    expect(o.status).toBe(429);
    expect(o.headers.get('retry-after')).toBe('2');
    expect(await o.json()).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    const a = await anthropic('[[emulate:529]] busy');
    expect(a.status).toBe(529);
    expect(await a.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const g = await gemini('[[emulate:429:retry=3]] limit');
    expect(await g.json()).toMatchObject({
      error: { code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }] },
    });
  });

  it('answers malformed JSON with a 200', async () => {
    const res = await openai('[[emulate:malformed]] broken');
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it('fails only the first N calls per model and prompt with xN, and scopes @model directives', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await openai('[[emulate:500x2]] twice')).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect((await openai('[[emulate:500x2]] twice', 'gpt-4o')).status).toBe(500); // counters are per model
    expect((await openai('[[emulate@gpt-4o:503]] scoped', 'gpt-4o')).status).toBe(503);
    expect((await openai('[[emulate@gpt-4o:503]] scoped', 'gpt-4o-mini')).status).toBe(200);
  });

  it('applies configured faults, latency and stats; resetFaults clears them', async () => {
    const before = emulator.stats()['flaky']?.calls ?? 0;
    emulator.setModelSettings('flaky', { faults: [{ kind: 503, times: 1 }] });
    expect((await openai('one', 'flaky')).status).toBe(503);
    expect((await openai('one', 'flaky')).status).toBe(200);
    expect((await openai('two', 'flaky')).status).toBe(503);
    expect(emulator.stats()['flaky']).toEqual({ calls: before + 3, faults: 3 - 1 });
    emulator.resetFaults();
    expect((await openai('three', 'flaky')).status).toBe(200);

    const started = Date.now();
    await openai('slow', 'slow-model');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const fast = Date.now();
    await openai('[[emulate:latency=0]] slow', 'slow-model');
    expect(Date.now() - fast).toBeLessThan(140);
  });

  it('applies a rate deterministically per model, prompt and attempt', () => {
    const faults = [{ kind: 500 as const, rate: 0.5 }];
    const hits = Array.from({ length: 400 }, (_, i) => chooseFault(faults, 'm', `p${i}`, 0) !== undefined).filter(Boolean).length;
    expect(hits).toBeGreaterThan(150);
    expect(hits).toBeLessThan(250);
    expect(chooseFault(faults, 'm', 'p1', 0)).toEqual(chooseFault(faults, 'm', 'p1', 0));
    expect(chooseFault([{ kind: 'hang', rate: 1, times: 1 }], 'm', 'p', 1)).toBeUndefined();
    expect(chooseFault([{ kind: 'hang', rate: 0 }], 'm', 'p', 0)).toBeUndefined();
  });

  it('parses directives', () => {
    expect(parseDirectives('[[emulate:429x2:retry=1,latency=300]] Hi  [[emulate@other:hang]] there', 'm')).toEqual({
      faults: [{ kind: 429, rate: 1, times: 2, retry_after_s: 1 }],
      latencyMs: 300,
      prompt: 'Hi there',
    });
    expect(parseDirectives('[[emulate@m:malformed:rate=0.25,answer=wrong]] x', 'm')).toEqual({
      faults: [{ kind: 'malformed', rate: 0.25 }],
      answer: 'wrong',
      prompt: 'x',
    });
    expect(() => parseDirectives('[[emulate:200]]', 'm')).toThrow(/400-599/);
  });

  it('holds a hung request until the client leaves, and close() ends it', async () => {
    const local = await startEmulator({ port: 0, settings: settings() });
    const hung = fetch(`${local.url}/v1/chat/completions`, {
      method: 'POST',
      headers: OPENAI,
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: '[[emulate:hang]]' }] }),
    }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await local.close();
    expect(await hung).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('standalone entry point', () => {
  function run(configPath: string): { done: Promise<{ code: number | null; out: string; err: string }>; kill: () => void; firstLine: Promise<string> } {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/emulator/main.ts'], { env: { ...process.env, CONFIG_PATH: configPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let resolveLine: (line: string) => void = () => undefined;
    const firstLine = new Promise<string>((r) => (resolveLine = r));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolveLine(out);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
    return { done, kill: () => child.kill('SIGTERM'), firstLine };
  }

  function configFile(port: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-'));
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      [
        'models:',
        '  local: { kind: openai_compatible, base_url: "http://127.0.0.1:1/v1", default_model: m }',
        'routing: { default_providers: [local] }',
        `emulator: { port: ${port} }`,
        '',
      ].join('\n'),
    );
    return path;
  }

  it('prints its URL and stops on SIGTERM', async () => {
    const probe = await startEmulator({ port: 0, settings: settings() });
    const port = probe.port;
    await probe.close();
    const proc = run(configFile(port));
    expect(await proc.firstLine).toContain(`http://127.0.0.1:${port}`);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    proc.kill();
    expect((await proc.done).code).toBe(0);
  });

  it('exits 1 naming the port when it is in use', async () => {
    const { code, err } = await run(configFile(emulator.port)).done;
    expect(code).toBe(1);
    expect(err).toContain(`port ${emulator.port}`);
  });
});
