/**
 * GATEWAY_WORKER=off: the gateway as a pure client in front of a separate worker (same task queue,
 * same database). Requests start without eager start; a stream sends the whole stored answer as
 * chunks after completion and says so in its first chunk.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../helpers/stack';
import { startGatewayStack, type GatewayTestStack } from './gateway-stack';

let workers: TestStack;
let stack: GatewayTestStack;
let openai: OpenAI;

beforeAll(async () => {
  workers = await startStack({ label: 'gateway-workers' });
  stack = await startGatewayStack('pure', { worker: false, taskQueue: workers.temporal.taskQueue, databaseUrl: workers.databaseUrl });
  const { key } = await stack.gateway.keys.create({ userId: 'pure-user' });
  openai = new OpenAI({ baseURL: stack.baseURL, apiKey: key, maxRetries: 0 });
});
afterAll(async () => {
  await stack?.close();
  await workers?.close();
});

describe('the gateway with GATEWAY_WORKER=off', () => {
  it('answers through the separate worker; no worker runs in the gateway', async () => {
    expect(stack.gateway.worker).toBeNull();
    const data = await openai.chat.completions.create({ model: 'google:gemini-2.0-flash', messages: [{ role: 'user', content: 'What is 2 + 2?' }] });
    const o = (data as unknown as { orchestration: { workflow_id: string; providers_used: string[] } }).orchestration;
    expect(o.providers_used).toEqual(['google']);
    const stored = await workers.runtime.memory.getInteraction(o.workflow_id);
    expect(stored?.response).toBe(data.choices[0]?.message.content);
  });

  it('streams the whole answer after completion, and says so', async () => {
    const stream = await openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Name a fruit.' }], stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const first = chunks[0] as unknown as { orchestration: { streamed: string; workflow_id: string } };
    expect(first.orchestration.streamed).toBe('after_completion');
    const result = await stack.gateway.orchestrator.getResult(first.orchestration.workflow_id);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(result.response);
  });
});
