/**
 * The example plugin examples/plugins/http-connector (the product description's custom connector
 * over a plain HTTP API), loaded from config.yaml as a worker loads it and built by the connector
 * registry, against a small local HTTP server: generate (with the key as a Bearer token, the
 * request's settings, usage and cost inputs), validateConnection, getSupportedModels, and failures
 * classified like the built-in connectors' (429 with Retry-After retryable, 400 not, a bad body
 * malformed, an unreachable server a connection error).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';
import { loadPlugins, type LoadedPlugins } from '../../src/plugins/load';
import { ProviderCallError } from '../../src/providers/errors';
import { buildConnectors } from '../../src/providers/registry';
import { callCostUsd } from '../../src/providers/pricing';
import type { ModelConnector } from '../../src/providers/types';
import { REPO_ROOT } from '../helpers/config';

const KEY = ['custom', 'model', 'KEY', '0123456789'].join('-');
const seen: { method: string; url: string; auth: string | undefined; body: unknown }[] = [];
/** What the next POST /generate answers (default: an echo). */
let next: ((body: Record<string, unknown>, res: ServerResponse) => void) | null = null;
let healthy = true;
let server: Server;
let url: string;
let plugins: LoadedPlugins;
let connector: ModelConnector;

function handle(req: IncomingMessage, res: ServerResponse): void {
  let raw = '';
  req.on('data', (d: Buffer) => (raw += d.toString()));
  req.on('end', () => {
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : null;
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
    if (req.url === '/health') {
      res.writeHead(healthy ? 200 : 503).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/generate' && body) {
      const answer = next;
      next = null;
      if (answer) return answer(body, res);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: `echo: ${String(body['prompt'])}`, prompt_tokens: 12, completion_tokens: 5, id: 'gen-1' }));
      return;
    }
    res.writeHead(404).end();
  });
}

function config(baseUrl: string) {
  return parseConfig({
    plugins: { modules: ['./examples/plugins/http-connector'], 'http-connector': { timeout_ms: 5000 } },
    models: {
      custom: { kind: 'http_api', base_url: baseUrl, api_key_env: 'CUSTOM_MODEL_KEY', default_model: 'custom-model-v1', models: ['custom-model-v2'], temperature: 0.2, max_tokens: 256 },
    },
    pricing: { 'custom-model-v1': { input: 1, output: 2 }, 'custom-model-v2': { input: 1, output: 2 } },
    routing: { default_providers: ['custom'] },
    emulator: { mode: 'never' },
  });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = config(url);
  plugins = await loadPlugins({ config: c, configDir: REPO_ROOT, logger: createLogger('silent', 'test') });
  // emulator.mode never: a plugin kind needs no emulator (and is never emulated).
  const built = buildConnectors({ config: c, env: { CUSTOM_MODEL_KEY: KEY }, pluginConnectors: plugins.connectors });
  expect(built.emulated).toEqual([]);
  connector = built.connectors.get('custom')!;
});
afterAll(async () => {
  await plugins?.close();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('example http-connector plugin', () => {
  it('generate posts the request with the key as a Bearer token and returns the answer with its usage', async () => {
    seen.length = 0;
    const answer = await connector.generate({ model: 'custom-model-v2', prompt: 'hello', systemPrompt: 'be brief' });
    expect(answer).toMatchObject({ content: 'echo: hello', provider: 'custom', model: 'custom-model-v2', tokensIn: 12, tokensOut: 5, finishReason: 'stop', providerRequestId: 'gen-1', confidence: null });
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
    expect(seen).toEqual([{ method: 'POST', url: '/generate', auth: `Bearer ${KEY}`, body: { model: 'custom-model-v2', prompt: 'hello', system: 'be brief', temperature: 0.2, max_tokens: 256 } }]);
    expect(connector.kind).toBe('http_api');
    expect(callCostUsd(config(url).pricing, answer.model, answer.tokensIn, answer.tokensOut, connector.kind)).toBeCloseTo((12 * 1 + 5 * 2) / 1e6, 12);
  });

  it('validateConnection is true when /health answers 200 and false otherwise; getSupportedModels lists the configured models', async () => {
    healthy = true;
    expect(await connector.validateConnection()).toBe(true);
    healthy = false;
    expect(await connector.validateConnection()).toBe(false);
    healthy = true;
    expect(connector.getSupportedModels()).toEqual(['custom-model-v1', 'custom-model-v2']);
  });

  it('failures are classified like the built-in connectors: 429 retryable with Retry-After, 400 not, a bad body malformed', async () => {
    next = (_body, res) => res.writeHead(429, { 'retry-after': '3' }).end('slow down');
    const limited = await connector.generate({ model: 'custom-model-v1', prompt: 'x' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(ProviderCallError);
    expect(limited).toMatchObject({ type: 'ProviderRateLimited', retryable: true, status: 429, retryAfterMs: 3000, provider: 'custom', model: 'custom-model-v1' });
    next = (_body, res) => res.writeHead(400).end('bad prompt');
    expect(await connector.generate({ model: 'custom-model-v1', prompt: 'x' }).catch((e: unknown) => e)).toMatchObject({ type: 'ProviderBadRequest', retryable: false, status: 400 });
    next = (_body, res) => res.writeHead(503).end('busy');
    expect(await connector.generate({ model: 'custom-model-v1', prompt: 'x' }).catch((e: unknown) => e)).toMatchObject({ type: 'ProviderOverloaded', retryable: true });
    next = (_body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ answer: 'wrong field' }));
    expect(await connector.generate({ model: 'custom-model-v1', prompt: 'x' }).catch((e: unknown) => e)).toMatchObject({ type: 'ProviderMalformedResponse', retryable: true });
    const unknownModel = await connector.generate({ model: 'gpt-4o', prompt: 'x' }).catch((e: unknown) => e);
    expect(unknownModel).toMatchObject({ type: 'ProviderBadRequest', retryable: false });
  });

  it('an unreachable server is a retryable connection error, and the key never shows in an error', async () => {
    const c = config('http://127.0.0.1:9');
    const { connectors } = buildConnectors({ config: c, env: { CUSTOM_MODEL_KEY: KEY }, pluginConnectors: plugins.connectors });
    const err = await connectors.get('custom')!.generate({ model: 'custom-model-v1', prompt: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'ProviderConnectionError', retryable: true });
    expect(String((err as Error).message)).not.toContain(KEY);
  });

  it('its settings are checked by its schema: plugins.http-connector.timeout_ms', async () => {
    const bad = { ...config(url), plugins: { modules: ['./examples/plugins/http-connector'], scan_folder: true, 'http-connector': { timeout_ms: -1 } } };
    await expect(loadPlugins({ config: bad, configDir: REPO_ROOT, logger: createLogger('silent', 'test') })).rejects.toMatchObject({ issues: [{ path: 'plugins.http-connector.timeout_ms' }] });
  });
});
