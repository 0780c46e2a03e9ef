/**
 * The OpenAI-compatible connector against a real model server nobody here wrote: llama.cpp's
 * llama-server with SmolLM2-135M-Instruct (scripts/local-model.sh), through the real worker stack
 * (Temporal dev server, workflows, activities, SQLite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../helpers/stack';
import { LOCAL_MODEL_ID, localModelUrl, withLocalProviders } from './local-model';

let stack: TestStack;
const run = Date.now().toString(36);

beforeAll(async () => {
  localModelUrl(); // fail loudly before starting anything
  stack = await startStack({
    label: 'local-model',
    configure: (c) =>
      withLocalProviders(c, [
        { name: 'local', temperature: 0 },
        { name: 'local_a', temperature: 0.6 },
        { name: 'local_b', temperature: 0.8 },
        { name: 'local_c', temperature: 1.0 },
      ]),
  });
});
afterAll(async () => {
  await stack?.close();
});

describe('a request routed to the real local model', () => {
  it('answers "Paris" for the capital of France, with real token usage, a finish reason and cost 0', async () => {
    const result = await stack.client.processRequest({
      prompt: 'What is the capital of France? Answer with one word.',
      taskType: 'question_answering',
      userId: 'user-local',
      providers: ['local'],
      requestId: `local-paris-${run}`,
    });
    expect(result.response).toMatch(/paris/i);
    const m = result.metadata;
    expect(m.providersUsed).toEqual(['local']);
    expect(m.providers).toHaveLength(1);
    const [usage] = m.providers;
    expect(usage).toMatchObject({ provider: 'local', model: LOCAL_MODEL_ID, status: 'succeeded', costUsd: 0 });
    expect(usage?.tokensIn).toBeGreaterThan(5); // the chat template alone is more than a few tokens
    expect(usage?.tokensOut).toBeGreaterThan(0);
    expect(usage?.latencyMs).toBeGreaterThan(0);
    expect(m.costUsd).toBe(0);

    const stored = await stack.runtime.memory.getInteraction(m.workflowId);
    expect(stored?.providerCalls).toHaveLength(1);
    const [call] = stored?.providerCalls ?? [];
    expect(['stop', 'length']).toContain(call?.finishReason);
    expect(call?.tokensOut).toBe(usage?.tokensOut);
  });

  it('answers a small sum correctly', async () => {
    const result = await stack.client.processRequest({
      prompt: 'What is 7 + 5? Answer with the number only.',
      taskType: 'question_answering',
      userId: 'user-local',
      providers: ['local'],
      requestId: `local-sum-${run}`,
    });
    expect(result.response).toMatch(/\b12\b/);
    expect(result.metadata.tokensIn).toBeGreaterThan(0);
    expect(result.metadata.tokensOut).toBeGreaterThan(0);
  });

  it('runs consensus over three samples of it (three providers, temperatures 0.6 / 0.8 / 1.0) end to end with a confidence', async () => {
    const result = await stack.client.processRequest({
      prompt: 'What is the capital of France? Answer with one word.',
      taskType: 'question_answering',
      userId: 'user-local',
      providers: ['local_a', 'local_b', 'local_c'],
      requireConsensus: true,
      requestId: `local-consensus-${run}`,
    });
    const m = result.metadata;
    expect(m.consensusApplied).toBe(true);
    expect(m.consensusStrategy).toBe('similarity');
    expect(m.providers.map((p) => p.provider).sort()).toEqual(['local_a', 'local_b', 'local_c']);
    // Early stop may cancel the third sample once two agree.
    expect(m.providersUsed.length).toBeGreaterThanOrEqual(2);
    for (const p of m.providers.filter((x) => x.status === 'succeeded')) {
      expect(p.model).toBe(LOCAL_MODEL_ID);
      expect(p.tokensIn).toBeGreaterThan(0);
      expect(p.tokensOut).toBeGreaterThan(0);
    }
    expect(m.confidence).toBeGreaterThan(0);
    expect(m.confidence).toBeLessThanOrEqual(1);
    expect(m.thresholdMet).toBe(!m.lowConfidence);
    expect(result.response.length).toBeGreaterThan(0);
    expect(m.costUsd).toBe(0);
  });
});
