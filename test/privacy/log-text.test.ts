/**
 * The log rule (src/privacy/log-text.ts, applied by src/logger.ts): request text is redacted at
 * info and above always, at debug and trace unless LOG_PROMPTS=on; failures that quote providers
 * lose their message, other errors keep theirs; payload bytes are reduced to their size.
 */
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { InsufficientResponses } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { scrubLogObject } from '../../src/privacy/log-text';

const REDACTED = expect.stringMatching(/^\[redacted: \d+ chars\]$/) as unknown;
const REDACTED_ANY = expect.stringMatching(/^\[redacted/) as unknown;

const SECRET = 'the prompt text';

function logged(logPrompts: boolean, log: (l: ReturnType<typeof createLogger>) => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  log(createLogger('trace', 'test', stream, { logPrompts }));
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('request text in logs', () => {
  it('text fields at any depth are redacted with their size; numbers and other fields stay', () => {
    expect(scrubLogObject({ prompt: SECRET, texts: 3, provider: 'openai', nested: { messages: [{ role: 'user', content: SECRET }], answer: SECRET } }, false)).toEqual({
      prompt: '[redacted: 15 chars]',
      texts: 3,
      provider: 'openai',
      nested: { messages: '[redacted: 1 items]', answer: '[redacted: 15 chars]' },
    });
  });

  it('LOG_PROMPTS=on shows text at debug and trace, never at info or above', () => {
    const lines = logged(true, (l) => {
      l.trace({ prompt: SECRET }, 't');
      l.debug({ content: SECRET }, 'd');
      l.info({ prompt: SECRET }, 'i');
      l.error({ response: SECRET }, 'e');
    });
    expect(lines.map((l) => [l['msg'], l['prompt'] ?? l['content'] ?? l['response']])).toEqual([
      ['t', SECRET],
      ['d', SECRET],
      ['i', '[redacted: 15 chars]'],
      ['e', '[redacted: 15 chars]'],
    ]);
    expect(JSON.stringify(logged(false, (l) => l.debug({ prompt: SECRET }, 'd')))).not.toContain(SECRET);
  });

  it("a request's failure keeps name, type and code, not its message; an infrastructure error keeps its message", () => {
    const failure = ApplicationFailure.create({ message: `openai:m ProviderBadRequest (HTTP 400): ${SECRET}`, type: 'ProviderBadRequest', nonRetryable: true });
    const [activity, outcome, infra, bare] = logged(false, (l) => {
      l.warn({ error: failure }, 'Activity failed');
      l.warn({ err: new InsufficientResponses(`0 of 1: last error ${SECRET}`, {}) }, 'gateway request failed');
      l.error({ err: new Error('connect ECONNREFUSED 127.0.0.1:5432') }, 'db down');
      l.warn(failure);
    });
    expect(activity!['error']).toEqual({ name: 'ApplicationFailure', type: 'ProviderBadRequest', nonRetryable: true, message: REDACTED });
    expect(outcome!['err']).toMatchObject({ name: 'InsufficientResponses', code: 'InsufficientResponses', message: REDACTED_ANY });
    expect(infra!['err']).toMatchObject({ name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', stack: expect.stringContaining('ECONNREFUSED') as unknown });
    expect(bare).toMatchObject({ err: { name: 'ApplicationFailure', type: 'ProviderBadRequest' }, msg: REDACTED_ANY });
    expect(JSON.stringify([activity, outcome, bare])).not.toContain(SECRET);
  });

  it('errors copied out of the workflow sandbox (plain Error, class in the stack) and Failure protos in activations are failures too', () => {
    const copied = { name: 'Error', message: SECRET, stack: `ApplicationFailure: ${SECRET}\n    at nonRetryable (workflows/x.ts:1:1)` };
    const proto = { resolveActivity: { result: { failed: { failure: { message: 'Activity task failed', cause: { message: SECRET, source: 'TypeScriptSDK', applicationFailureInfo: { type: 'X' } }, activityFailureInfo: {} } } } } };
    expect(JSON.stringify(scrubLogObject({ error: copied, jobs: [proto] }, false))).not.toContain(SECRET);
    expect(JSON.stringify(scrubLogObject({ error: copied, jobs: [proto] }, true))).toContain(SECRET);
  });

  it('payloads become their size, whatever LOG_PROMPTS says; cycles end', () => {
    const payload = { metadata: { encoding: new Uint8Array(Buffer.from('json/plain')) }, data: new Uint8Array(Buffer.from(JSON.stringify(SECRET))) };
    expect(scrubLogObject({ input: [payload] }, true)).toEqual({ input: ['[payload: 17 bytes]'] });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    expect(scrubLogObject(cyclic, false)).toEqual({ a: 1, self: '[circular]' });
    const shared = { provider: 'openai' };
    expect(scrubLogObject({ first: shared, second: shared }, false)).toEqual({ first: shared, second: shared });
  });
});
