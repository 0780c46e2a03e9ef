/**
 * The production database path end to end: a real workflow persisting into PostgreSQL
 * (the server `npm test` starts), migrations applied by the worker runtime itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchPostgres, type ScratchDatabase } from '../memory/scratch-databases';
import { startStack, type TestStack } from '../helpers/stack';

let db: ScratchDatabase;
let stack: TestStack;

beforeAll(async () => {
  db = await scratchPostgres('e2e');
  stack = await startStack({ label: 'e2e-pg', databaseUrl: db.url });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

describe('orchestrateRequest on PostgreSQL', () => {
  it('persists the interaction and its provider calls once, even when resubmitted', async () => {
    const input = { prompt: 'What is 12 * 12?', taskType: 'question_answering', userId: 'user-pg', requireConsensus: true, requestId: `pg-${Date.now().toString(36)}` };
    const result = await stack.client.processRequest(input);
    expect(result.response).toMatch(/144/);
    await stack.client.processRequest(input);
    const rows = await stack.runtime.memory.listInteractions({ userId: 'user-pg', limit: 10 });
    expect(rows).toHaveLength(1);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored).toMatchObject({ status: 'completed', taskType: 'question_answering', routingPolicyVersion: result.metadata.routingPolicyVersion });
    expect(stored!.providerCalls.map((c) => c.provider).sort()).toEqual(['anthropic', 'google', 'openai']);
    expect(stored!.tokensIn).toBe(result.metadata.tokensIn);
  });
});
