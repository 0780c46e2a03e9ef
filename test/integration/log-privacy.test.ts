/**
 * Logs never carry prompt or answer text at info level or above; at debug and trace only with
 * LOG_PROMPTS=on (default off: redacted). Real requests with unique markers in the prompt, the
 * system prompt, the emulator's answer (it quotes the prompt's keywords) and a provider's error
 * body (the emulator's 400 quotes a bad directive, as real providers sometimes quote input), through:
 * the worker runtime in-process (trace level), the gateway with its in-process worker, and the
 * worker program itself (`npm run worker`, LOG_LEVEL=trace, the Temporal SDK's own logs included).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { loadEnv } from '../../src/config/env';
import { OrchestratorError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import type { OpenAiErrorBody } from '../../src/gateway/errors';
import { startGatewayStack } from '../gateway/gateway-stack';
import { requiredService } from '../helpers/services';
import { ensureNamespace, spawnNpmWorker, type SpawnedWorker } from '../helpers/spawned-worker';
import { startStack } from '../helpers/stack';

const REDACTED = expect.stringMatching(/^\[redacted: \d+ chars\]$/) as unknown;

const TRACE = 10;
const DEBUG = 20;
const dir = mkdtempSync(join(tmpdir(), 'log-privacy-'));
const workers: SpawnedWorker[] = [];
afterAll(() => {
  for (const w of workers) w.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Unique words the emulator keeps: in the prompt, the system prompt, the answer, a provider error. */
function markers() {
  const m = () => `zq${randomBytes(5).toString('hex')}`;
  return { prompt: m(), system: m(), error: m() };
}
type Markers = ReturnType<typeof markers>;
const all = (m: Markers) => [m.prompt, m.system, m.error];

function capture() {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l !== ''));
      done();
    },
  });
  return { stream, lines };
}

const levelOf = (line: string): number => (JSON.parse(line) as { level: number }).level;
const marked = (lines: readonly string[], m: Markers) => lines.filter((l) => all(m).some((x) => l.includes(x)));

/** A request whose answer quotes the prompt marker, and one whose provider error quotes the error marker. */
async function requests(client: OrchestratorClient, m: Markers): Promise<void> {
  const ok = await client.processRequest({ prompt: `Why do ${m.prompt} lakes freeze from the top?`, systemPrompt: `Answer as ${m.system} would.`, taskType: 'question_answering', userId: 'log-user', requireConsensus: true });
  expect(ok.response).toContain(m.prompt);
  const failed = await client.processRequest({ prompt: `Describe ${m.prompt} [[emulate:${m.error}]]`, taskType: 'question_answering', userId: 'log-user', providers: ['openai'] }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(failed).toBeInstanceOf(OrchestratorError);
  // The vector is real: the provider's error body quotes the prompt, and the failure carries it.
  expect((failed as Error).message).toContain(m.error);
}

describe('logs and request text', () => {
  it('the worker runtime at trace level, LOG_PROMPTS off: no marker in any line; the exchange is logged at debug, redacted', async () => {
    const log = capture();
    const stack = await startStack({ label: 'log-off', logDestination: log.stream, logLevel: 'trace', logPrompts: false });
    const m = markers();
    try {
      await requests(stack.client, m);
    } finally {
      await stack.close();
    }
    expect(marked(log.lines, m)).toEqual([]);
    const answered = log.lines.filter((l) => l.includes('"msg":"provider answered"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(answered.length).toBeGreaterThanOrEqual(2);
    expect(answered[0]).toMatchObject({ level: DEBUG, prompt: REDACTED, systemPrompt: REDACTED, content: REDACTED });
  });

  it('the worker runtime, LOG_PROMPTS on: the text shows, in debug and trace lines only', async () => {
    const log = capture();
    const stack = await startStack({ label: 'log-on', logDestination: log.stream, logLevel: 'trace', logPrompts: true });
    const m = markers();
    try {
      await requests(stack.client, m);
    } finally {
      await stack.close();
    }
    const lines = marked(log.lines, m);
    expect(lines.some((l) => l.includes(m.prompt) && l.includes('"msg":"provider answered"'))).toBe(true);
    expect(lines.some((l) => l.includes(m.system))).toBe(true);
    expect(lines.filter((l) => levelOf(l) > DEBUG)).toEqual([]);
  });

  it('the gateway (and its in-process worker) at trace level: a 502 is logged with its code, its message redacted; with LOG_PROMPTS on, text only below info', async () => {
    for (const logPrompts of [false, true]) {
      const log = capture();
      const stack = await startGatewayStack(`log-${logPrompts ? 'on' : 'off'}`, { logger: createLogger('trace', 'gateway', log.stream, { logPrompts }) });
      const m = markers();
      try {
        const { key } = await stack.gateway.keys.create({ userId: 'log-gw' });
        const post = (content: string) =>
          fetch(`${stack.baseURL}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            body: JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [{ role: 'system', content: `Answer as ${m.system} would.` }, { role: 'user', content }] }),
          });
        const ok = await post(`Why do ${m.prompt} lakes freeze from the top?`);
        expect(ok.status).toBe(200);
        expect(JSON.stringify(await ok.json())).toContain(m.prompt);
        const bad = await post(`Describe ${m.prompt} [[emulate:${m.error}]]`);
        expect(bad.status).toBe(502);
        expect(((await bad.json()) as OpenAiErrorBody).error.message).toContain(m.error);
      } finally {
        await stack.close();
      }
      const failedLine = log.lines.find((l) => l.includes('"msg":"gateway request failed"'));
      expect(failedLine && JSON.parse(failedLine)).toMatchObject({ level: 40, status: 502, code: 'insufficient_responses', err: { name: 'InsufficientResponses', message: REDACTED } });
      const lines = marked(log.lines, m);
      if (logPrompts) {
        expect(lines.some((l) => l.includes(m.prompt))).toBe(true);
        expect(lines.filter((l) => levelOf(l) > DEBUG)).toEqual([]);
      } else {
        expect(lines).toEqual([]);
      }
    }
  });

  it('npm run worker at LOG_LEVEL=trace (the Temporal SDK logs included): no marker in stdout or stderr; LOG_PROMPTS=on: only in debug and trace lines', async () => {
    const namespace = 'log-privacy-test';
    await ensureNamespace(namespace);
    for (const LOG_PROMPTS of ['off', 'on'] as const) {
      const worker = await spawnNpmWorker(namespace, { DATABASE_URL: `file:${join(dir, `worker-${LOG_PROMPTS}.db`)}`, LOG_LEVEL: 'trace', LOG_PROMPTS });
      workers.push(worker);
      const client = await OrchestratorClient.connect({ env: loadEnv({ TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), TEMPORAL_NAMESPACE: namespace }) });
      const m = markers();
      try {
        await requests(client, m);
      } finally {
        await client.close();
        await worker.stop();
      }
      const lines = worker.logLines();
      // The SDK's trace lines are there (activations, activity tasks), and its activity failure warning.
      expect(lines.some((l) => l['level'] === TRACE && l['msg'] === 'Got activity task')).toBe(true);
      const activityFailed = lines.find((l) => l['msg'] === 'Activity failed' && l['level'] === 40);
      expect(activityFailed).toMatchObject({ error: { name: 'ApplicationFailure', type: 'ProviderBadRequest', message: REDACTED } });
      const stdoutMarked = marked(worker.stdout().split('\n'), m);
      expect(marked(worker.stderr().split('\n'), m)).toEqual([]);
      if (LOG_PROMPTS === 'on') {
        expect(stdoutMarked.some((l) => l.includes(m.prompt) && l.includes('"msg":"provider answered"'))).toBe(true);
        expect(stdoutMarked.filter((l) => levelOf(l) > DEBUG)).toEqual([]);
      } else {
        expect(stdoutMarked).toEqual([]);
      }
    }
  }, 600_000);
});
