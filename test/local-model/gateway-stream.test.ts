/**
 * Streaming through the gateway to the real local model (llama.cpp's llama-server with
 * SmolLM2-135M, scripts/local-model.sh): the official `openai` npm SDK receives the model's own
 * tokens as they are generated, not one chunk after the fact.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayStack, type GatewayTestStack } from '../gateway/gateway-stack';
import { LOCAL_MODEL_ID, localModelUrl, withLocalProviders } from './local-model';

let stack: GatewayTestStack;
let openai: OpenAI;

beforeAll(async () => {
  localModelUrl(); // fail loudly before starting anything
  stack = await startGatewayStack('local-stream', { configure: (c) => withLocalProviders(c, [{ name: 'local', temperature: 0, maxTokens: 96 }]) });
  const { key } = await stack.gateway.keys.create({ userId: 'local-stream-user' });
  openai = new OpenAI({ baseURL: stack.baseURL, apiKey: key, maxRetries: 0 });
});
afterAll(async () => {
  await stack?.close();
});

describe('streaming through the gateway to the real local model', () => {
  it('yields several incremental chunks live, whose text is the workflow result, with real usage', async () => {
    const stream = await openai.chat.completions.create({
      model: `local:${LOCAL_MODEL_ID}`,
      messages: [{ role: 'user', content: 'Count from 1 to 20, separated by commas.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: { chunk: OpenAI.ChatCompletionChunk; at: number }[] = [];
    for await (const chunk of stream) chunks.push({ chunk, at: performance.now() });

    const first = chunks[0]?.chunk as unknown as { orchestration: { streamed: string; workflow_id: string } };
    expect(first.orchestration.streamed).toBe('live');
    const content = chunks.filter((c) => (c.chunk.choices[0]?.delta.content ?? '') !== '');
    // llama-server sends about one token per chunk; the gateway passes them on as they come.
    expect(content.length).toBeGreaterThanOrEqual(5);
    expect(content.at(-1)!.at).toBeGreaterThan(content[0]!.at);

    const result = await stack.gateway.orchestrator.getResult(first.orchestration.workflow_id);
    expect(content.map((c) => c.chunk.choices[0]?.delta.content).join('')).toBe(result.response);
    expect(result.metadata.providersUsed).toEqual(['local']);
    expect(result.metadata.tokensOut).toBeGreaterThan(0);
    expect(chunks.some((c) => ['stop', 'length'].includes(c.chunk.choices[0]?.finish_reason ?? ''))).toBe(true);
    expect(chunks.at(-1)?.chunk.usage?.total_tokens).toBe(result.metadata.tokensIn + result.metadata.tokensOut);
  });
});
