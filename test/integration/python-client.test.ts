/**
 * A real Temporal Python client (temporalio from PyPI, scripts/python-env.sh) starts
 * orchestrateRequest by name against the real dev server and worker: the guarantees hold for it
 * as for the project's own client (issue 10: idempotency in the worker, search attributes set by
 * the workflow, queue time reported).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchAttributes, requestWorkflowId } from '../../src/constants';
import type { OrchestrationResult } from '../../src/types';
import { requiredService } from '../helpers/services';
import { startStack, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', 'python', 'start_request.py');

let stack: TestStack;
let python: string;
const id = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

beforeAll(async () => {
  python = requiredService('TEST_PYTHON');
  stack = await startStack({ label: 'python' });
});
afterAll(async () => {
  await stack?.close();
});

interface PythonRun {
  runId: string;
  result?: OrchestrationResult;
  failure?: { type: string | null; message: string };
}

async function startFromPython(workflowId: string, request: Record<string, unknown>, ...flags: string[]): Promise<PythonRun[]> {
  const { stdout } = await run(python, [SCRIPT, stack.temporal.address, stack.temporal.taskQueue, workflowId, JSON.stringify(request), ...flags], { timeout: 90_000 });
  return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { runs: PythonRun[] }).runs;
}

describe('a Python temporalio client', () => {
  it('starting the same workflow id again after it completed gets the stored result; no provider is called again', async () => {
    const workflowId = requestWorkflowId(`python-${id}`);
    const request = { prompt: 'What is 17 * 23?', taskType: 'question_answering', userId: 'py-user', requireConsensus: true };
    const [first, second] = await startFromPython(workflowId, request, '--again');
    expect(first?.result?.response).toMatch(/391/);
    const stored = await stack.runtime.memory.getInteraction(workflowId);
    expect(stored?.providerCalls.length).toBeGreaterThanOrEqual(2);

    // A second run, and the first run's answer, calls and cost.
    expect(second?.runId).not.toBe(first?.runId);
    expect(second?.result).toEqual(first?.result);
    const history = await stack.temporal.client.workflow.getHandle(workflowId, second!.runId).fetchHistory();
    expect((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callProvider')).toHaveLength(0);
    const after = await stack.runtime.memory.getInteraction(workflowId);
    expect(after?.providerCalls).toEqual(stored?.providerCalls);
    expect(after?.costUsd).toBe(stored?.costUsd);
    expect(after?.runId).toBe(first?.runId);

    // Searchable without the TypeScript client's help, and the queue wait reported.
    const sa = (await stack.temporal.client.workflow.getHandle(workflowId, first!.runId).describe()).typedSearchAttributes;
    expect(sa.get(SearchAttributes.taskType)).toBe('question_answering');
    expect(sa.get(SearchAttributes.userId)).toBe('py-user');
    expect(sa.get(SearchAttributes.complexity)).toBe(first?.result?.metadata.complexity);
    expect(sa.get(SearchAttributes.requestStatus)).toBe('completed');
    expect(first?.result?.metadata.queuedMs).toEqual(expect.any(Number));
    expect(first!.result!.metadata.processingTimeMs).toBeGreaterThanOrEqual(first!.result!.metadata.queuedMs!);
  });

  it('the same workflow id with a different user fails with IdempotencyConflict and leaves the stored answer alone', async () => {
    const workflowId = requestWorkflowId(`python-conflict-${id}`);
    const request = { prompt: 'Name a planet.', taskType: 'question_answering', userId: 'py-owner', providers: ['openai'] };
    const [first, second] = await startFromPython(workflowId, request, '--again', '--different-user');
    expect(first?.result).toBeDefined();
    const stored = await stack.runtime.memory.getInteraction(workflowId);
    expect(second?.failure?.type).toBe('IdempotencyConflict');
    expect(second?.failure?.message).toContain(workflowId);
    expect(second?.failure?.message).toMatch(/userId differ/);
    expect(await stack.runtime.memory.getInteraction(workflowId)).toEqual(stored);
  });
});
