/**
 * A pure-client gateway (GATEWAY_WORKER=off) whose Temporal cannot be reached: it starts, /readyz
 * answers 503 naming temporal, and a chat completion is 503 in OpenAI's shape.
 */
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { startGateway, type RunningGateway } from '../../src/gateway/start';
import { createLogger } from '../../src/logger';
import { repoConfig } from '../helpers/config';

let gateway: RunningGateway;
let dir: string;
let closed: Server;
let key: string;

/** A loopback port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as { port: number };
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orch-gateway-down-'));
  const env = loadEnv({ DATABASE_URL: `file:${join(dir, 'test.db')}`, TEMPORAL_ADDRESS: `127.0.0.1:${await deadPort()}`, LOG_LEVEL: 'silent', METRICS_PORT: '0' });
  gateway = await startGateway({ env, config: repoConfig(), logger: createLogger('silent', 'gateway-down'), worker: false, port: 0, host: '127.0.0.1', taskQueue: 'test-gateway-down' });
  key = (await gateway.keys.create({ userId: 'down-user' })).key;
});
afterAll(async () => {
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the gateway with Temporal unreachable', () => {
  it('readyz is 503 naming temporal; a request is 503 temporal_unavailable', async () => {
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { unavailable: string[] }).unavailable).toEqual(['temporal']);
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi.' }] }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('temporal_unavailable');
  });
});
