/**
 * The CLI as users run it (a child process, environment only), against a real worker.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_QUEUE } from '../../src/constants';
import { REPO_ROOT } from '../helpers/config';
import { startStack, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startStack({ label: 'cli', taskQueue: TASK_QUEUE });
  dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
});
afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const CLI = join(REPO_ROOT, 'client', 'cli.ts');
const cliEnv = () => ({ ...process.env, TEMPORAL_ADDRESS: stack.temporal.address, LOG_LEVEL: 'warn' });

/** The CLI as a child process: stdin from `input` (closed when absent), every exit code returned rather than thrown. */
function cliRun(args: string[], options: { input?: string; closeStdoutAtOnce?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [CLI, ...args], { cwd: REPO_ROOT, env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // The reading end goes away before the CLI writes anything, as `cli ... | head` does once head has its lines.
    if (options.closeStdoutAtOnce) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A prompt of exactly `length` characters of ordinary words. */
function longPrompt(length: number): string {
  const head = 'Summarize the following notes in one sentence. ';
  return (head + 'the quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(length / 45))).slice(0, length);
}

function cli(...args: string[]) {
  return run(TSX, [CLI, ...args], { cwd: REPO_ROOT, env: cliEnv(), maxBuffer: 16 * 1024 * 1024 });
}

async function expectNoWorkflow(workflowId: string): Promise<void> {
  const described = await stack.temporal.client.workflow.getHandle(workflowId).describe().then(() => 'exists', (e: unknown) => e);
  expect(described).toBeInstanceOf(WorkflowNotFoundError);
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

  it('run --prompt-file reaches the documented 200,000-character limit: exactly 200,000 runs, 200,001 is InvalidRequest naming prompt', async () => {
    const atLimit = join(dir, 'prompt-200000.txt');
    writeFileSync(atLimit, longPrompt(200_000));
    const requestId = `cli-long-${Date.now().toString(36)}`;
    const ok = await cliRun(['run', '--prompt-file', atLimit, '-t', 'summarization', '-u', 'cli-user', '--request-id', requestId, '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const result = JSON.parse(ok.stdout) as { response: string; metadata: { workflowId: string } };
    expect(result.response.length).toBeGreaterThan(0);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored?.prompt.length).toBe(200_000);

    const overLimit = join(dir, 'prompt-200001.txt');
    writeFileSync(overLimit, longPrompt(200_001));
    const tooLongId = `cli-too-long-${Date.now().toString(36)}`;
    const refused = await cliRun(['run', '--prompt-file', overLimit, '-t', 'summarization', '-u', 'cli-user', '--request-id', tooLongId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^InvalidRequest: invalid request: prompt: /m);
    await expectNoWorkflow(`llm-request-${tooLongId}`);
  }, 180_000);

  it('run --prompt-file - reads the prompt from standard input', async () => {
    const r = await cliRun(['run', '--prompt-file', '-', '-t', 'question_answering', '-u', 'cli-user', '--json'], { input: 'What is 6 * 7?' });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { response: string; metadata: { workflowId: string } };
    expect(result.response).toMatch(/42/);
    expect((await stack.runtime.memory.getInteraction(result.metadata.workflowId))?.prompt).toBe('What is 6 * 7?');
  }, 120_000);

  it('usage errors exit 2 with a clear message: no prompt, both -p and --prompt-file, an unreadable file, an unknown option', async () => {
    const neither = await cliRun(['run', '-t', 'qa', '-u', 'u']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/give the prompt with -p <text>, --prompt-file <path>, or --prompt-file - to read standard input/);
    const both = await cliRun(['run', '-p', 'hi', '--prompt-file', join(dir, 'x.txt'), '-t', 'qa', '-u', 'u']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/option '-p, --prompt <text>' cannot be used with option '--prompt-file <path>'/);
    const missing = await cliRun(['run', '--prompt-file', join(dir, 'no-such-file.txt'), '-t', 'qa', '-u', 'u']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--prompt-file: cannot read ".*no-such-file\.txt": ENOENT/);
    const unknown = await cliRun(['list', '--no-such-option']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-option'/);
    const help = await cliRun(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes: 0 ok, 1 .*, 2 usage error/);
  }, 120_000);

  it('a closed stdout (cli ... | head) ends quietly with exit 0, no EPIPE stack trace', async () => {
    for (const args of [['list', '-n', '50', '--json'], ['--help']]) {
      const r = await cliRun(args, { closeStdoutAtOnce: true });
      expect(r.stderr).not.toMatch(/EPIPE|Error/);
      expect(r.code).toBe(0);
    }
  }, 120_000);
});
