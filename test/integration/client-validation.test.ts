/**
 * "Refused before any workflow starts": what the worker's planning would refuse, the client
 * (holding the configuration) refuses first. No workflow exists afterwards and nothing is stored.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../src/errors';
import { requestWorkflowId } from '../../src/constants';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
const run = Date.now().toString(36);

beforeAll(async () => {
  stack = await startStack({ label: 'client-validation' });
});
afterAll(async () => {
  await stack?.close();
});

async function expectNoTrace(requestId: string): Promise<void> {
  const workflowId = requestWorkflowId(requestId);
  const described = await stack.client.client.workflow.getHandle(workflowId).describe().then(() => 'exists', (e: unknown) => e);
  expect(described).toBeInstanceOf(WorkflowNotFoundError);
  // Visibility agrees (it is eventually consistent, so give a started workflow time to show up).
  await new Promise((r) => setTimeout(r, 1_000));
  const listed: string[] = [];
  for await (const info of stack.client.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) listed.push(info.workflowId);
  expect(listed).toEqual([]);
  expect(await stack.runtime.memory.getInteraction(workflowId)).toBeNull();
}

describe('client-side validation', () => {
  it('an unknown consensusStrategy through processRequest is InvalidRequest and starts no workflow', async () => {
    const requestId = `bad-strategy-${run}`;
    const err = await stack.client
      .processRequest({ prompt: 'What is 1 + 1?', taskType: 'question_answering', userId: 'user-validation', consensusStrategy: 'no_such_strategy', requestId })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequest);
    expect((err as InvalidRequest).message).toMatch(/consensusStrategy: unknown consensus strategy "no_such_strategy"/);
    expect((err as InvalidRequest).issues).toEqual([expect.objectContaining({ path: 'consensusStrategy' })]);
    await expectNoTrace(requestId);
  });

  it('minProviders beyond the route of the given complexity is refused before a workflow starts', async () => {
    // config.yaml: code_generation at simple complexity has two providers (codegen-simple); complex has four.
    const requestId = `bad-min-providers-${run}`;
    const err = await stack.client
      .start({ prompt: 'Write hello world in C.', taskType: 'code_generation', userId: 'user-validation', minProviders: 3, complexityOverride: 'simple', requestId })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequest);
    expect((err as Error).message).toMatch(/minProviders 3 exceeds the 2 provider/);
    await expectNoTrace(requestId);
  });

  it('a known strategy still runs', async () => {
    const result = await stack.client.processRequest({ prompt: 'What is 2 + 3?', taskType: 'question_answering', userId: 'user-validation', consensusStrategy: 'lexical', requireConsensus: true });
    expect(result.metadata.consensusStrategy).toBe('lexical');
  });
});
