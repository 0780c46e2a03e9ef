/**
 * The gateway's metrics: with its in-process worker, one registry (HTTP requests by route pattern
 * and status beside the worker's request metrics) on one /metrics; without a worker, the gateway
 * serves its own HTTP metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayStack, type GatewayTestStack } from './gateway-stack';

async function scrape(url: string | null): Promise<string> {
  expect(url).not.toBeNull();
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('gateway with its worker: one registry', () => {
  let stack: GatewayTestStack;
  let key: string;
  beforeAll(async () => {
    stack = await startGatewayStack('metrics');
    key = (await stack.gateway.keys.create({ userId: 'gw-metrics-user' })).key;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('counts HTTP requests by route pattern and status, beside the requests the worker ran', async () => {
    const post = (authorization: string) =>
      fetch(`${stack.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ model: 'openai', messages: [{ role: 'user', content: 'What is 2 + 2?' }] }),
      });
    expect((await post(`Bearer ${key}`)).status).toBe(200);
    expect((await post('Bearer not-a-key')).status).toBe(401);
    expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${stack.gateway.url}/no/such/route/for-user-123`)).status).toBe(404);

    const text = await scrape(stack.gateway.metricsUrl);
    expect(stack.gateway.metricsUrl).toBe(stack.gateway.worker!.runtime.metricsServer!.url);
    expect(value(text, 'orchestrator_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '200' })).toBe(1);
    expect(value(text, 'orchestrator_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '401' })).toBe(1);
    expect(value(text, 'orchestrator_http_requests_total', { route: '/healthz', method: 'GET', status: '200' })).toBe(1);
    // An unknown URL is one bounded label, not the URL itself.
    expect(value(text, 'orchestrator_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(text).not.toContain('for-user-123');
    expect(value(text, 'orchestrator_http_request_duration_seconds_count', { route: '/v1/chat/completions', method: 'POST' })).toBe(2);
    // The worker's metrics in the same registry.
    expect(value(text, 'orchestrator_requests_total', { task_type: 'general', status: 'completed' })).toBe(1);
    expect(value(text, 'orchestrator_provider_calls_total', { provider: 'openai', status: 'succeeded' })).toBe(1);
  });
});

describe('gateway without a worker', () => {
  let stack: GatewayTestStack;
  beforeAll(async () => {
    stack = await startGatewayStack('metrics-client', { worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves its own HTTP metrics', async () => {
    expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200);
    const text = await scrape(stack.gateway.metricsUrl);
    expect(value(text, 'orchestrator_http_requests_total', { route: '/healthz', method: 'GET', status: '200' })).toBe(1);
    expect(text).not.toContain('orchestrator_requests_total{');
  });
});
