/**
 * The official OpenAI Python SDK (PyPI `openai`, in the venv of scripts/python-env.sh) against the
 * gateway: one chat completion and one streamed one, as an existing application would make them.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requiredService } from '../helpers/services';
import { startGatewayStack, type GatewayTestStack } from './gateway-stack';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', 'python', 'openai_gateway.py');

let stack: GatewayTestStack;
let python: string;
let key: string;

beforeAll(async () => {
  python = requiredService('TEST_PYTHON');
  stack = await startGatewayStack('python');
  key = (await stack.gateway.keys.create({ userId: 'py-gateway-user' })).key;
});
afterAll(async () => {
  await stack?.close();
});

interface PythonOutput {
  id: string;
  content: string;
  finish_reason: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  orchestration: { workflow_id: string; providers_used: string[] };
  stream_text: string;
  stream_chunks: number;
  stream_first: { streamed: string; workflow_id: string };
}

describe('the OpenAI Python SDK', () => {
  it('makes a chat completion and a streamed one through the gateway', async () => {
    const { stdout } = await run(python, [SCRIPT, stack.baseURL, key], { timeout: 90_000 });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as PythonOutput;
    expect(out.id).toBe(`chatcmpl-${out.orchestration.workflow_id}`);
    expect(out.content.length).toBeGreaterThan(0);
    expect(out.finish_reason).toBe('stop');
    expect(out.usage.total_tokens).toBe(out.usage.prompt_tokens + out.usage.completion_tokens);
    expect(out.orchestration.providers_used).toEqual(['openai']);
    const stored = await stack.gateway.worker!.runtime.memory.getInteraction(out.orchestration.workflow_id);
    expect(stored?.userId).toBe('py-gateway-user');
    expect(stored?.taskType).toBe('question_answering');

    expect(out.stream_first.streamed).toBe('live');
    const streamed = await stack.gateway.orchestrator.getResult(out.stream_first.workflow_id);
    expect(out.stream_text).toBe(streamed.response);
    expect(out.stream_chunks).toBeGreaterThan(0);
  });
});
