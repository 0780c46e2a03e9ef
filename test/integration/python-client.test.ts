/**
 * A real Temporal Python client (temporalio from PyPI, scripts/python-env.sh) starts
 * orchestrateRequest by name against the real dev server and worker: the guarantees hold for it
 * as for the project's own client (issue 10: idempotency in the worker, search attributes set by
 * the workflow, queue time reported). The Python client encrypts with the orchestrator's codec
 * (clients/python/orchestrator_codec.py) and the worker's keys (issue 12); one without the codec
 * cannot read the worker's encrypted result.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchAttributes, requestWorkflowId } from '../../src/constants';
import { LOCAL_PAYLOAD_KEYS_FILE } from '../../src/privacy/payload-keys';
import { loadEnv } from '../../src/config/env';
import { payloadCodecFor } from '../../src/temporal/data-converter';
import type { OrchestrationResult } from '../../src/types';
import { scanPayloads } from '../helpers/payload-scan';
import { requiredService } from '../helpers/services';
import { startStack, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', 'python', 'start_request.py');
const REPO_ROOT = join(__dirname, '..', '..');

/** The keys the test's worker uses (testDataConverter: PAYLOAD_KEYS*, else the checkout's key file), for the Python process. */
function payloadKeyEnv(): NodeJS.ProcessEnv {
  const { PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION } = process.env;
  if (PAYLOAD_KEYS) return { PAYLOAD_KEYS };
  if (PAYLOAD_KEYS_FILE) return { PAYLOAD_KEYS_FILE };
  return { PAYLOAD_KEYS_FILE: LOCAL_PAYLOAD_KEYS_FILE, ...(PAYLOAD_ENCRYPTION && { PAYLOAD_ENCRYPTION }) };
}

/** The Temporal CLI: $TEMPORAL_CLI, the one scripts/lib.sh installs into .cache/, else `temporal` on PATH. */
function temporalCli(): string {
  if (process.env['TEMPORAL_CLI']) return process.env['TEMPORAL_CLI'];
  const cached = join(REPO_ROOT, '.cache', 'temporal-venv', 'bin', 'temporal');
  return existsSync(cached) ? cached : 'temporal';
}

const text = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('utf8');

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
  /** --no-codec: what reading the result raised. */
  readError?: { type: string; message: string };
}

async function startFromPython(workflowId: string, request: Record<string, unknown>, ...flags: string[]): Promise<PythonRun[]> {
  const { stdout } = await run(python, [SCRIPT, stack.temporal.address, stack.temporal.taskQueue, workflowId, JSON.stringify(request), ...flags], {
    timeout: 90_000,
    env: { PATH: process.env['PATH'], ...payloadKeyEnv() },
  });
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

    // Python's start is encrypted with the worker's current key: the exported history holds neither the prompt nor the answer.
    const exported = JSON.parse(
      execFileSync(temporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--run-id', first!.runId, '--address', stack.temporal.address, '--output', 'json'], { encoding: 'utf8' }),
    ) as { events: { eventType: string; workflowExecutionStartedEventAttributes?: { input: { payloads: { metadata: Record<string, string>; data: string }[] } } }[] };
    const [input] = exported.events.find((e) => e.workflowExecutionStartedEventAttributes)!.workflowExecutionStartedEventAttributes!.input.payloads;
    const codec = payloadCodecFor(loadEnv({ ...payloadKeyEnv() }));
    expect(text(input?.metadata['encoding'])).toBe('binary/encrypted');
    expect(text(input?.metadata['encryption-key-id'])).toBe(codec?.keyId);
    const payloads = scanPayloads(exported);
    expect(payloads.length).toBeGreaterThan(5);
    // Plain by design: search attributes (indexes) and the SDK's own marker bookkeeping (patch ids, local activity timing).
    const plainByDesign = /searchAttributes\.indexedFields\.|markerRecordedEventAttributes\.details\.(data|patch-data)\./;
    expect(payloads.filter((p) => p.encoding !== 'binary/encrypted' && !plainByDesign.test(p.path)).map((p) => p.path)).toEqual([]);
    const leaking = payloads.filter((p) => p.text.includes('17 * 23') || p.text.includes(first!.result!.response));
    expect(leaking.map((p) => p.path)).toEqual([]);
  });

  it('a Python client without the codec cannot read the encrypted result (the SDK raises on the unknown encoding); its plain start still runs', async () => {
    const workflowId = requestWorkflowId(`python-plain-${id}`);
    const request = { prompt: 'Name a colour of the sky.', taskType: 'question_answering', userId: 'py-plain', providers: ['openai'] };
    const [plain] = await startFromPython(workflowId, request, '--no-codec');
    expect(plain?.result).toBeUndefined();
    expect(plain?.readError?.type).toBe('KeyError');
    expect(plain?.readError?.message).toContain('Unknown payload encoding binary/encrypted');
    // The worker ran it and encrypted its result: a client with the keys reads it.
    const result = await stack.client.getResult(workflowId);
    expect(result.response).toMatch(/emulator/);
    // What it sent is stored as it sent it (plain: the scan finds the prompt there, and only there); what the worker wrote is encrypted.
    const exported = JSON.parse(execFileSync(temporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.temporal.address, '--output', 'json'], { encoding: 'utf8' })) as unknown;
    expect(scanPayloads(exported).filter((p) => p.text.includes('Name a colour of the sky.')).map((p) => p.path)).toEqual([
      '$.events[0].workflowExecutionStartedEventAttributes.input.payloads[0]',
    ]);
    const history = await stack.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const completed = history.events?.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes;
    expect(Buffer.from(completed?.result?.payloads?.[0]?.metadata?.['encoding'] ?? new Uint8Array()).toString()).toBe('binary/encrypted');
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
