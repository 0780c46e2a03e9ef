import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import type { Config, ConfigInput } from '../../src/config/schema';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server';
import { ProviderCallError } from '../../src/providers/errors';
import { expectConfigError } from '../helpers/expect-config-error';
import { buildConnectors } from '../../src/providers/registry';

const KEYS = {
  // Fake keys, built at run time so secret scanners do not flag them.
  OPENAI_API_KEY: ['sk', 'proj', 'OPENAI', 'SECRET', '0123456789abcdef'].join('-'),
  ANTHROPIC_API_KEY: ['sk', 'ant', 'api03', 'ANTHROPIC', 'SECRET', '0123456789'].join('-'),
  GOOGLE_API_KEY: `${'AIza'}GOOGLE-SECRET-0123456789abcdefghijk`,
};

function config(mode: 'auto' | 'always' | 'never', extra: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    models: {
      openai: { kind: 'openai', default_model: 'gpt-4o-mini', api_key_env: 'OPENAI_API_KEY' },
      anthropic: { kind: 'anthropic', default_model: 'claude-haiku-4-5', api_key_env: 'ANTHROPIC_API_KEY' },
      google: { kind: 'google', default_model: 'gemini-2.0-flash', api_key_env: 'GOOGLE_API_KEY' },
      local: { kind: 'openai_compatible', enabled: false, base_url: 'http://127.0.0.1:11434/v1', default_model: 'llama3.1' },
    },
    pricing: {
      'gpt-4o-mini': { input: 0.15, output: 0.6 },
      'claude-haiku-4-5': { input: 0.8, output: 4 },
      'gemini-2.0-flash': { input: 0.1, output: 0.4 },
    },
    routing: { default_providers: ['openai'] },
    emulator: { mode, latency_ms: 0 },
    ...extra,
  });
}

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: config('auto').emulator });
});
afterAll(async () => {
  await emulator.close();
});

describe('buildConnectors', () => {
  it('auto: providers with a key call the provider, the others the emulator', () => {
    const { connectors, emulated } = buildConnectors({ config: config('auto'), env: { OPENAI_API_KEY: KEYS.OPENAI_API_KEY, GOOGLE_API_KEY: '  ' }, emulatorUrl: emulator.url });
    expect([...connectors.keys()].sort()).toEqual(['anthropic', 'google', 'openai']); // local is disabled
    expect(emulated.sort()).toEqual(['anthropic', 'google']);
    expect(connectors.get('anthropic')?.kind).toBe('anthropic');
  });

  it('auto: emulated providers answer through the emulator', async () => {
    const { connectors } = buildConnectors({ config: config('auto'), env: {}, emulatorUrl: `${emulator.url}/` });
    for (const [name, model] of [
      ['openai', 'gpt-4o-mini'],
      ['anthropic', 'claude-haiku-4-5'],
      ['google', 'gemini-2.0-flash'],
    ] as const) {
      const res = await connectors.get(name)?.generate({ model, prompt: 'What is 2 + 2?' });
      expect(res?.content.startsWith(`[emulator:${model}]`)).toBe(true);
    }
  });

  it('auto without an emulator URL is a ConfigError naming the missing variable', () => {
    const err = expectConfigError(() => buildConnectors({ config: config('auto'), env: { OPENAI_API_KEY: KEYS.OPENAI_API_KEY } }));
    expect(err.message).toContain('ANTHROPIC_API_KEY');
    expect(err.message).toContain('EMULATOR_URL');
    expect(err.issues.map((i) => i.path).sort()).toEqual(['models.anthropic', 'models.google']);
  });

  it('always: every openai/anthropic/google provider is emulated, keys or not', () => {
    const { emulated } = buildConnectors({ config: config('always'), env: KEYS, emulatorUrl: emulator.url });
    expect(emulated.sort()).toEqual(['anthropic', 'google', 'openai']);
  });

  it('never: a missing key is a ConfigError naming the variable, never a key', () => {
    const err = expectConfigError(() => buildConnectors({ config: config('never'), env: { OPENAI_API_KEY: KEYS.OPENAI_API_KEY, ANTHROPIC_API_KEY: KEYS.ANTHROPIC_API_KEY }, emulatorUrl: emulator.url }));
    expect(err.message).toContain('GOOGLE_API_KEY');
    expect(err.issues).toEqual([{ path: 'models.google.api_key_env', message: expect.stringContaining('GOOGLE_API_KEY') as unknown }]);
    for (const key of Object.values(KEYS)) expect(JSON.stringify({ message: err.message, issues: err.issues })).not.toContain(key);
  });

  it('openai_compatible providers always use their base_url, with or without a key', () => {
    const cfg = config('always', {
      models: { local: { kind: 'openai_compatible', base_url: `${emulator.url}/v1`, default_model: 'llama3.1' } },
      routing: { default_providers: ['local'] },
    });
    const { connectors, emulated } = buildConnectors({ config: cfg, env: {} });
    expect(emulated).toEqual([]);
    expect(connectors.get('local')?.kind).toBe('openai_compatible');
  });

  it('keys never appear in provider error messages, even when the provider echoes them', async () => {
    // A provider that echoes every credential header back in its error body.
    const echoed: string[] = [];
    const echo: typeof fetch = (_input, init) => {
      const headers = new Headers(init?.headers);
      const sent = ['authorization', 'x-api-key', 'x-goog-api-key'].map((h) => headers.get(h) ?? '').join(' ');
      echoed.push(sent);
      return Promise.resolve(
        new Response(JSON.stringify({ error: { message: `invalid key ${sent}`, type: 'authentication_error', code: 401 } }), {
          status: 401,
          headers: { 'content-type': 'application/json' },
        }),
      );
    };
    const { connectors } = buildConnectors({ config: config('never'), env: KEYS, fetch: echo });
    for (const [name, model] of [
      ['openai', 'gpt-4o-mini'],
      ['anthropic', 'claude-haiku-4-5'],
      ['google', 'gemini-2.0-flash'],
    ] as const) {
      const err = await connectors.get(name)?.generate({ model, prompt: 'hi' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderCallError);
      expect((err as ProviderCallError).type).toBe('ProviderAuthError');
      const seen = JSON.stringify({ message: (err as Error).message, ...(err as object) });
      for (const key of Object.values(KEYS)) expect(seen).not.toContain(key);
      expect(seen).toContain('invalid key');
    }
    // The keys really were sent (and echoed): the connectors scrubbed them.
    for (const key of Object.values(KEYS)) expect(echoed.join(' ')).toContain(key);
  });
});
