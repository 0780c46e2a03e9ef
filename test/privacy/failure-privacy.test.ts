/**
 * A provider's error text can quote the prompt it was sent (the emulator's 400 for an unknown
 * directive does, as real APIs' validation errors do). Failure messages and stack traces travel
 * as encoded attributes (src/temporal/failure-converter.js), which the payload codec encrypts: the
 * exported history of the failed request holds the quoted text nowhere, while our client, which
 * has the keys, still gets the full typed error.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientResponses } from '../../src/errors';
import { payloadsContaining } from '../helpers/payload-scan';
import { startStack, type TestStack } from '../helpers/stack';
import { temporalCli } from '../helpers/web-ui-codec';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ label: 'failure-privacy' });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

describe('failure messages in histories', () => {
  it('a provider error quoting the prompt is in the typed error our client gets, and nowhere in the exported history', async () => {
    const secret = `failure-secret-${randomUUID().slice(0, 8)}`;
    const quoted = `quoted-${randomUUID().slice(0, 8)}`;
    const requestId = `failure-privacy-${randomUUID().slice(0, 8)}`;
    const error = await stack.client
      .processRequest({ prompt: `Describe ${secret} [[emulate:${quoted}]]`, taskType: 'question_answering', userId: 'failure-user', providers: ['openai'], requestId })
      .then(
        () => null,
        (e: unknown) => e,
      );
    // The client decodes: the message names the call and carries the provider's text.
    expect(error).toBeInstanceOf(InsufficientResponses);
    expect((error as Error).message).toContain(quoted);

    const workflowId = `llm-request-${requestId}`;
    const raw = execFileSync(temporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', stack.temporal.address], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const history = JSON.parse(raw) as { events: Record<string, unknown>[] };
    for (const needle of [secret, quoted]) {
      expect(raw).not.toContain(needle);
      expect(payloadsContaining(history, [needle])).toEqual([]);
    }
    // The failures are there, with their types readable and their messages encoded.
    const failed = history.events.filter((e) => e['eventType'] === 'EVENT_TYPE_ACTIVITY_TASK_FAILED' || e['eventType'] === 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(raw).toContain('"message": "Encoded failure"');
    expect(raw).toContain('"type": "InsufficientResponses"');
  });
});
