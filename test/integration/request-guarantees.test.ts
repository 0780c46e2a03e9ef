/**
 * Guarantees that hold whoever starts a request (issue 10, items 3, 4, 7): a raw Temporal client
 * (as any other SDK would, by workflow type name, with the default reuse policy) and the project's
 * own client, against a real worker, the emulator and SQLite.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchAttributes, requestWorkflowId } from '../../src/constants';
import { IdempotencyConflict } from '../../src/errors';
import type { OrchestrationResult } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';
import { connectTestTemporal } from '../helpers/temporal';

let stack: TestStack;
const run = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

beforeAll(async () => {
  stack = await startStack({ label: 'guarantees' });
});
afterAll(async () => {
  await stack?.close();
});

/** Start orchestrateRequest by name, as a Python or Go client would: no memo, no search attributes. */
function startRaw(client: Client, taskQueue: string, workflowId: string, request: Record<string, unknown>) {
  return client.workflow.start('orchestrateRequest', { taskQueue, workflowId, args: [request] });
}

async function scheduledProviderCalls(workflowId: string, runId: string): Promise<number> {
  const history = await stack.temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callProvider').length;
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let cause: unknown = (err as WorkflowFailedError).cause;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('a second run of a completed workflow id (default reuse policy)', () => {
  it('returns the stored result without calling any provider, and keeps the stored calls and cost', async () => {
    const workflowId = requestWorkflowId(`raw-repeat-${run}`);
    const request = { prompt: 'What is 6 * 7?', taskType: 'question_answering', userId: 'raw-user', requireConsensus: true };
    const first = await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, request);
    const answer = (await first.result()) as OrchestrationResult;
    const stored = await stack.runtime.memory.getInteraction(workflowId);
    expect(stored?.providerCalls.length).toBeGreaterThan(0);

    const second = await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, request);
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    expect(await second.result()).toEqual(answer);
    expect(await scheduledProviderCalls(workflowId, second.firstExecutionRunId)).toBe(0);
    const after = await stack.runtime.memory.getInteraction(workflowId);
    expect(after?.providerCalls).toEqual(stored?.providerCalls);
    expect(after?.costUsd).toBe(stored?.costUsd);
    expect(after?.runId).toBe(first.firstExecutionRunId);
  });

  it('fails with IdempotencyConflict naming the differing fields when the request differs, and stores nothing', async () => {
    const workflowId = requestWorkflowId(`raw-conflict-${run}`);
    const request = { prompt: 'Name a prime number.', taskType: 'question_answering', userId: 'raw-user', providers: ['openai'] };
    const first = await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, request);
    await first.result();
    const stored = await stack.runtime.memory.getInteraction(workflowId);

    const second = await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, { ...request, prompt: 'Name an even number.', userId: 'someone-else' });
    const failure = await failureOf(second.result());
    expect(failure.type).toBe('IdempotencyConflict');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(workflowId);
    expect(failure.message).toMatch(/prompt, userId differ/);
    expect(await scheduledProviderCalls(workflowId, second.firstExecutionRunId)).toBe(0);
    expect(await stack.runtime.memory.getInteraction(workflowId)).toEqual(stored);
    const sa = (await second.describe()).typedSearchAttributes;
    expect(sa.get(SearchAttributes.requestStatus)).toBe('failed');
  });
});

describe('search attributes set by the workflow itself', () => {
  it('sets TaskType, UserId, Complexity and RequestStatus for a request started without them', async () => {
    const workflowId = requestWorkflowId(`raw-searchable-${run}`);
    const handle = await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, { prompt: 'Name a color.', taskType: 'question_answering', userId: 'raw-searcher' });
    const result = (await handle.result()) as OrchestrationResult;
    const sa = (await handle.describe()).typedSearchAttributes;
    expect(sa.get(SearchAttributes.taskType)).toBe('question_answering');
    expect(sa.get(SearchAttributes.userId)).toBe('raw-searcher');
    expect(sa.get(SearchAttributes.complexity)).toBe(result.metadata.complexity);
    expect(sa.get(SearchAttributes.requestStatus)).toBe('completed');
  });

  it('marks a request that fails validation inside the workflow RequestStatus = "failed", storing nothing', async () => {
    const workflowId = requestWorkflowId(`raw-invalid-${run}`);
    const handle = await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, { prompt: 'hi', taskType: 'question_answering', userId: 'raw-invalid', consensusStrategy: 'no-such-strategy' });
    const failure = await failureOf(handle.result());
    expect(failure.type).toBe('InvalidRequest');
    const sa = (await handle.describe()).typedSearchAttributes;
    expect(sa.get(SearchAttributes.userId)).toBe('raw-invalid');
    expect(sa.get(SearchAttributes.requestStatus)).toBe('failed');
    expect(await stack.runtime.memory.getInteraction(workflowId)).toBeNull();
  });
});

describe('the TypeScript client on a resubmitted request id', () => {
  it('refuses a different prompt, user or settings with IdempotencyConflict, and attaches to the same request', async () => {
    const requestId = `ts-conflict-${run}`;
    const input = { prompt: 'What is 9 + 10?', taskType: 'question_answering', userId: 'ts-user', requestId, providers: ['openai'] };
    const first = await stack.client.processRequest(input);

    const conflict = await stack.client.start({ ...input, userId: 'another-user', temperature: 0.5 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(conflict).toBeInstanceOf(IdempotencyConflict);
    expect((conflict as IdempotencyConflict).fields).toEqual(['userId', 'temperature']);
    expect((conflict as IdempotencyConflict).workflowId).toBe(requestWorkflowId(requestId));
    expect((conflict as Error).message).toContain(requestId);
    await expect(stack.client.processRequest({ ...input, prompt: 'What is 21?' })).rejects.toThrow(/prompt differ/);

    const again = await stack.client.start(input);
    expect(again.started).toBe(false);
    expect(await stack.client.getResult(again.workflowId)).toEqual(first);
  });

  it('compares against the input of a workflow another SDK started (no memo)', async () => {
    const requestId = `raw-then-ts-${run}`;
    const workflowId = requestWorkflowId(requestId);
    const request = { prompt: 'Name a fruit.', taskType: 'question_answering', userId: 'py-user', requestId, providers: ['google'] };
    await (await startRaw(stack.temporal.client, stack.temporal.taskQueue, workflowId, request)).result();
    await expect(stack.client.start({ ...request, providers: ['openai'] })).rejects.toMatchObject({ code: 'IdempotencyConflict', fields: ['providers'] });
    expect((await stack.client.start(request)).started).toBe(false);
  });
});

describe('time in the queue', () => {
  it('reports processingTimeMs from the workflow start and the wait for a worker as queuedMs', async () => {
    // Started while no worker polls its task queue; a worker comes 1.5 s later.
    const temporal = await connectTestTemporal('queued');
    const workflowId = requestWorkflowId(`queued-${run}`);
    const handle = await startRaw(temporal.client, temporal.taskQueue, workflowId, { prompt: 'Name a month.', taskType: 'question_answering', userId: 'queued-user', providers: ['openai'] });
    await new Promise((r) => setTimeout(r, 1_500));
    const late = await startStack({ label: 'queued-worker', taskQueue: temporal.taskQueue });
    try {
      const result = (await handle.result()) as OrchestrationResult;
      expect(result.metadata.queuedMs).toBeGreaterThanOrEqual(1_400);
      expect(result.metadata.processingTimeMs).toBeGreaterThanOrEqual(result.metadata.queuedMs!);
      const stored = await late.runtime.memory.getInteraction(workflowId);
      expect(stored?.queuedMs).toBe(result.metadata.queuedMs);
      const described = await handle.describe();
      expect(new Date(stored!.startedAt).getTime()).toBe(described.startTime.getTime());
    } finally {
      await late.close();
      await temporal.close();
    }
  });
});
