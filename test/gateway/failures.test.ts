/**
 * The gateway's answers when the request itself fails or outlasts the wait: 502 when the providers
 * failed (InsufficientResponses), 504 past GATEWAY_WAIT_TIMEOUT_MS with the workflow still running,
 * and the same idempotency key then returning the stored answer without calling a provider again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenAiErrorBody } from '../../src/gateway/errors';
import { startGatewayStack, type GatewayTestStack } from './gateway-stack';

let stack: GatewayTestStack;
let key: string;
const run = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const WAIT_MS = 1_500;

beforeAll(async () => {
  stack = await startGatewayStack('failures', { waitTimeoutMs: WAIT_MS });
  key = (await stack.gateway.keys.create({ userId: 'gw-failures' })).key;
});
afterAll(async () => {
  await stack?.close();
});

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
}

async function callProviderCount(workflowId: string): Promise<number> {
  const history = await stack.gateway.orchestrator.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callProvider').length;
}

describe('the gateway when the request fails or takes too long', () => {
  it('providers that failed: 502 insufficient_responses naming the workflow', async () => {
    const res = await post({ model: 'anthropic:claude-haiku-4-5', messages: [{ role: 'user', content: 'Hello [[emulate:401]]' }] }, { 'idempotency-key': `gw-502-${run}` });
    expect(res.status).toBe(502);
    const { error } = (await res.json()) as OpenAiErrorBody;
    expect(error.code).toBe('insufficient_responses');
    expect(error.message).toMatch(/ProviderAuthError/);
    expect(error.workflow_id).toBe(`llm-request-gw-502-${run}`);
    expect(res.headers.get('x-orchestration-workflow-id')).toBe(`llm-request-gw-502-${run}`);
  });

  it('no answer within the wait: 504 with the workflow id; the workflow keeps running and the same key then returns its answer, provider called once', async () => {
    const requestId = `gw-504-${run}`;
    const body = { model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Name a river. [[emulate:latency=4000]]' }] };
    const started = Date.now();
    const timedOut = await post(body, { 'idempotency-key': requestId });
    expect(timedOut.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(4_000);
    const workflowId = `llm-request-${requestId}`;
    expect(timedOut.headers.get('x-orchestration-workflow-id')).toBe(workflowId);
    const { error } = (await timedOut.json()) as OpenAiErrorBody;
    expect(error).toMatchObject({ code: 'deadline_exceeded', workflow_id: workflowId });

    // Still running, not cancelled: it finishes on its own.
    const handle = stack.gateway.orchestrator.client.workflow.getHandle(workflowId);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.result();

    const again = await post(body, { 'idempotency-key': requestId });
    expect(again.status).toBe(200);
    const answer = (await again.json()) as { choices: { message: { content: string } }[]; orchestration: { workflow_id: string } };
    expect(answer.orchestration.workflow_id).toBe(workflowId);
    expect(answer.choices[0]!.message.content).toMatch(/^\[emulator:gpt-4o-mini\]/);
    expect(await callProviderCount(workflowId)).toBe(1);
  }, 30_000);
});
