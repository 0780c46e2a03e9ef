/**
 * The testing kit under Jest, imported the way a user's project imports it: the package's
 * `./testing` export (dist/src/testing/index.js, built by npm run build). A request that a provider
 * rate-limits with a 30 s Retry-After is answered after the retry, with the 30 s passed in workflow
 * time on the time-skipping server; consensus over two mocked providers picks the shared answer.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestOrchestrator, type TestOrchestrator } from 'temporal-llm-orchestrator/testing';

describe('the testing kit under Jest', () => {
  let kit: TestOrchestrator;
  beforeAll(async () => {
    kit = await createTestOrchestrator({ environment: 'time-skipping' });
  });
  afterAll(async () => {
    await kit?.close();
  });

  it('a 30 s Retry-After is honoured in skipped time and the retry answers', async () => {
    const openai = kit.mock('openai');
    openai.fail('ProviderRateLimited', { status: 429, retryAfterMs: 30_000 }).reply('The answer is 42.');
    const result = await kit.processRequest({ prompt: 'What is 6 * 7?', taskType: 'question_answering', userId: 'jest-user', providers: ['openai'] });
    expect(result.response).toBe('The answer is 42.');
    expect(openai.calls.map((c) => c.outcome)).toEqual(['ProviderRateLimited', 'answered']);
    expect(result.metadata.processingTimeMs).toBeGreaterThanOrEqual(30_000);
  });

  it('consensus over two mocked providers chooses the answer they share', async () => {
    kit.mock('anthropic').reply('The answer is 12.');
    kit.mock('google').reply('The answer is 12.');
    const result = await kit.processRequest({ prompt: 'What is 7 + 5?', taskType: 'math', userId: 'jest-user', providers: ['anthropic', 'google'], requireConsensus: true, minProviders: 2, consensusStrategy: 'voting' });
    expect(result.response).toBe('The answer is 12.');
    expect(result.metadata.consensusApplied).toBe(true);
    expect([...result.metadata.providersUsed].sort()).toEqual(['anthropic', 'google']);
  });
});
