/**
 * The CLI as users run it (a child process, environment only), against a real worker.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_QUEUE } from '../../src/constants';
import { REPO_ROOT } from '../helpers/config';
import { startStack, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
let stack: TestStack;

beforeAll(async () => {
  stack = await startStack({ label: 'cli', taskQueue: TASK_QUEUE });
});
afterAll(async () => {
  await stack?.close();
});

function cli(...args: string[]) {
  return run(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'client', 'cli.ts'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, LOG_LEVEL: 'warn' },
  });
}

describe('orchestrator CLI', () => {
  it('run --json prints the result; status and list find it by id and search attribute', async () => {
    const requestId = `cli-${Date.now().toString(36)}`;
    const { stdout } = await cli('run', '-p', 'What is 9 * 9?', '-t', 'question_answering', '-u', 'cli-user', '--request-id', requestId, '--json');
    const result = JSON.parse(stdout) as { response: string; metadata: { workflowId: string } };
    expect(result.response).toMatch(/81/);
    expect(result.metadata.workflowId).toBe(`llm-request-${requestId}`);

    const status = await cli('status', result.metadata.workflowId);
    expect(status.stdout).toMatch(/COMPLETED/);
    expect(status.stdout).toMatch(/Web UI: http/);

    let listed = '';
    for (let i = 0; i < 40 && !listed.includes(requestId); i++) {
      listed = (await cli('list', '-q', 'UserId = "cli-user"', '--json')).stdout;
      if (!listed.includes(requestId)) await new Promise((r) => setTimeout(r, 250));
    }
    expect(listed).toContain(result.metadata.workflowId);
  });

  it('bad input exits non-zero with the typed error, and starts nothing', async () => {
    const failed = await cli('run', '-p', 'hi', '-t', 'question_answering', '-u', 'u', '--provider', 'mistral').then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/ModelProviderNotFound: providers: unknown provider "mistral"/);
    const badNumber = await cli('run', '-p', 'hi', '-t', 'qa', '-u', 'u', '--min-providers', 'two').catch((err: { stderr: string }) => err);
    expect((badNumber).stderr).toMatch(/--min-providers must be an integer/);
  });
});
