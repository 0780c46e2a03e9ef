/**
 * API keys reach the provider and nothing else: not the workflow input or history, not the
 * database, not the logs.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server';
import { startStack, type TestStack } from '../helpers/stack';
import type { Payload } from '@temporalio/common';
import { testDataConverter } from '../helpers/temporal';

// Built at run time so secret scanners do not flag a fake key.
const SECRET = ['sk', 'test', '0123456789abcdefghijklmnopqrstuv'].join('-');
let emulator: RunningEmulator;
let proxyUrl: string;
let closeProxy: () => void;
const seenHeaders: IncomingHttpHeaders[] = [];
const logs: string[] = [];
const capture = new Writable({ write: (chunk: Buffer, _e, cb) => (logs.push(chunk.toString()), cb()) });
let stack: TestStack;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: { mode: 'always', host: '127.0.0.1', port: 0, latency_ms: 1, models: {} } });
  // A recording proxy in front of the emulator proves the key was actually sent.
  const proxy = createServer((req, res) => {
    seenHeaders.push(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void fetch(`${emulator.url}${req.url ?? ''}`, { method: req.method ?? 'GET', headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' }, body: Buffer.concat(chunks) })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  closeProxy = () => proxy.close();
  stack = await startStack({
    label: 'secrets',
    logDestination: capture,
    secrets: { LOCAL_LLM_KEY: SECRET },
    configure: (c) => ({
      ...c,
      models: { ...c.models, local: { ...c.models['local']!, enabled: true, base_url: `${proxyUrl}/v1`, default_model: 'gpt-4o-mini', api_key_env: 'LOCAL_LLM_KEY' } },
    }),
  });
});
afterAll(async () => {
  await stack?.close();
  closeProxy?.();
  await emulator?.close();
});

describe('secrets', () => {
  it('the key is sent to the provider but appears in no history, row or log line', async () => {
    // Even a careless log line holding the key is redacted.
    createLogger('trace', 'test', capture).info({ env: { LOCAL_LLM_KEY: SECRET }, apiKey: SECRET }, 'redaction check');

    const result = await stack.client.processRequest({ prompt: 'What is 3 * 4?', taskType: 'question_answering', userId: 'user-secret', providers: ['local'] });
    expect(result.response).toMatch(/12/);
    expect(seenHeaders.some((h) => h.authorization === `Bearer ${SECRET}`)).toBe(true);

    const history = await stack.temporal.client.workflow.getHandle(result.metadata.workflowId).fetchHistory();
    // Payloads are encrypted bytes inside the history: decrypt every payload (as someone holding
    // the payload keys could), decode every byte array and search it all.
    const codec = testDataConverter().payloadCodecs![0]!;
    const payloads: Payload[] = [];
    const texts: string[] = [];
    const walk = (v: unknown): void => {
      if (v instanceof Uint8Array) texts.push(Buffer.from(v).toString('utf8'));
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        if ('metadata' in v && 'data' in v && v.data instanceof Uint8Array) payloads.push(v as Payload);
        Object.values(v).forEach(walk);
      } else if (typeof v === 'string') texts.push(v);
    };
    walk(history);
    expect(payloads.length).toBeGreaterThan(5);
    for (const decoded of await codec.decode(payloads)) walk(decoded);
    const all = texts.join('\n');
    // The search reaches into the decrypted payloads (else it would prove nothing).
    expect(all).toContain('What is 3 * 4?');
    expect(all).not.toContain(SECRET);

    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(JSON.stringify(stored)).not.toContain(SECRET);
    expect(logs.length).toBeGreaterThan(1);
    expect(logs.join('\n')).toContain('redaction check');
    expect(logs.join('\n')).not.toContain(SECRET);
  });
});
