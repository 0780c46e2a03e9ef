/**
 * Proof on the real stack (test dev server, worker, emulator) with the Temporal CLI: a request's
 * history exported with `temporal workflow show --output json` holds no prompt or answer text in
 * any payload (base64-decoded); through the codec server (`--codec-endpoint`) with a codec key or
 * a gateway admin key (`--codec-auth "Bearer <key>"`) the same export shows both; without a token
 * or with a non-admin key the codec server refuses (401 / 403) and the CLI fails without output
 * of decoded payloads.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyStore } from '../../src/auth/open-key-store';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import { startCodecServer, type RunningCodecServer } from '../../src/codec-server/start';
import { payloadsContaining, scanPayloads } from '../helpers/payload-scan';
import { startStack, type TestStack } from '../helpers/stack';
import { temporalCli } from '../helpers/web-ui-codec';

const CLI = temporalCli();
const CODEC_KEY = randomBytes(24).toString('hex');

let stack: TestStack;
let codecServer: RunningCodecServer;
let adminKey: string;
let userKey: string;
let workflowId: string;
let prompt: string;
let answer: string;
/** How a text appears inside a JSON payload (quotes, newlines and non-ASCII escaped as JSON writes them). */
const inJson = (text: string): string => JSON.stringify(text).slice(1, -1);
const codecLog: string[] = [];

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `temporal workflow show --output json` of the request, with extra global options. */
function show(...options: string[]): Promise<CliRun> {
  // The CLI also reads TEMPORAL_CODEC_* from the environment: the test decides them.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_CODEC_')));
  return new Promise((resolve) => {
    execFile(CLI, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.temporal.address, ...options], { env, maxBuffer: 64 * 1024 * 1024, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  stack = await startStack({ label: 'codec-export' });
  prompt = `Codec export proof ${randomUUID().slice(0, 8)}: which river runs through Lisbon?`;
  const result = await stack.client.processRequest({ prompt, taskType: 'question_answering', userId: 'codec-proof', providers: ['openai'], requestId: `codec-export-${randomUUID().slice(0, 8)}` });
  workflowId = result.metadata.workflowId;
  answer = result.response;

  const store = openKeyStore(stack.databaseUrl);
  try {
    adminKey = (await store.keys.create({ userId: 'ops', admin: true })).key;
    userKey = (await store.keys.create({ userId: 'codec-proof' })).key;
  } finally {
    await store.close();
  }
  // The same payload keys as the stack's worker and client (test/helpers/temporal.ts testDataConverter).
  const { PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION } = process.env;
  const env = loadEnv({ PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION, CODEC_SERVER_KEYS: CODEC_KEY, DATABASE_URL: stack.databaseUrl, LOG_LEVEL: 'info' });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      codecLog.push(chunk.toString('utf8'));
      done();
    },
  });
  codecServer = await startCodecServer({ env, logger: createLogger('info', 'codec-server', sink), port: 0 });
});

afterAll(async () => {
  await codecServer?.close();
  await stack?.close();
});

describe('an exported history', () => {
  it('holds no prompt or answer text in any payload without the codec', async () => {
    expect(answer.length).toBeGreaterThan(10);
    const run = await show();
    expect(run.code, run.stderr).toBe(0);
    const history: unknown = JSON.parse(run.stdout);
    const payloads = scanPayloads(history);
    // Not vacuous: the workflow input, the activities' inputs and results, the workflow result.
    expect(payloads.length).toBeGreaterThanOrEqual(4);
    expect(payloads.filter((p) => p.encoding === 'binary/encrypted').length).toBeGreaterThanOrEqual(4);
    expect(payloadsContaining(history, [prompt, answer, inJson(prompt), inJson(answer), 'Lisbon'])).toEqual([]);
    expect(run.stdout).not.toContain('Lisbon');
  });

  it('shows the prompt and the answer through the codec server with a codec key', async () => {
    const run = await show('--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${CODEC_KEY}`);
    expect(run.code, run.stderr).toBe(0);
    const history: unknown = JSON.parse(run.stdout);
    expect(payloadsContaining(history, [inJson(prompt)]).length).toBeGreaterThanOrEqual(1);
    expect(payloadsContaining(history, [inJson(answer)]).length).toBeGreaterThanOrEqual(1);
    expect(scanPayloads(history).filter((p) => p.encoding === 'binary/encrypted')).toEqual([]);
  });

  it('shows them with a gateway admin API key too', async () => {
    const run = await show('--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${adminKey}`);
    expect(run.code, run.stderr).toBe(0);
    const history: unknown = JSON.parse(run.stdout);
    expect(payloadsContaining(history, [inJson(prompt)]).length).toBeGreaterThanOrEqual(1);
    expect(payloadsContaining(history, [inJson(answer)]).length).toBeGreaterThanOrEqual(1);
  });

  it('without --codec-auth the codec server answers 401 and the CLI fails, showing nothing decoded', { timeout: 120_000 }, async () => {
    const before = codecLog.length;
    const run = await show('--codec-endpoint', codecServer.url);
    expect(run.code).not.toBe(0);
    const refusals = codecLog.slice(before).map((l) => JSON.parse(l) as { msg: string; status?: number; code?: string });
    expect(refusals.some((l) => l.msg === 'codec server refused a request' && l.status === 401 && l.code === 'missing_token')).toBe(true);
    expect(refusals.some((l) => l.msg === 'codec server request')).toBe(false);
    // Every payload of this history is ciphertext: a json/plain one in the output would be a decoded one.
    expect(run.stdout).not.toContain(Buffer.from('json/plain').toString('base64'));
  });

  it('with a wrong codec key (401) or a non-admin API key (403) the CLI fails too', { timeout: 180_000 }, async () => {
    for (const [token, status] of [[`${CODEC_KEY.slice(0, -2)}00`, 401], [userKey, 403]] as const) {
      const before = codecLog.length;
      const run = await show('--codec-endpoint', codecServer.url, '--codec-auth', `Bearer ${token}`);
      expect(run.code).not.toBe(0);
      const lines = codecLog.slice(before).map((l) => JSON.parse(l) as { msg: string; status?: number });
      expect(lines.some((l) => l.msg === 'codec server refused a request' && l.status === status)).toBe(true);
      expect(lines.some((l) => l.msg === 'codec server request')).toBe(false);
    }
  });

  it('logged no token and no prompt', () => {
    const logs = codecLog.join('');
    for (const secret of [CODEC_KEY, adminKey, userKey, prompt, 'Lisbon']) expect(logs).not.toContain(secret);
  });
});
