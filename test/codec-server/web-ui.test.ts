/**
 * Proof in headless Chromium (test/helpers/web-ui-codec.ts): a dev server's Web UI pointed at the
 * codec server (`--ui-codec-endpoint .../ui/<token>`, as `npm run demo` starts it) shows a request's
 * prompt and answer in the workflow's Input and Result; the same page, with the codec server
 * refusing the UI's token, gets 401s and shows ciphertext, not the prompt. Asserts on page text;
 * the screenshots in docs/ come from `npm run screenshots` (scripts/screenshot-codec-web-ui.ts).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCodecWebUi, type CodecWebUiRun } from '../helpers/web-ui-codec';

const inJson = (text: string): string => JSON.stringify(text).slice(1, -1);
let run: CodecWebUiRun;

beforeAll(async () => {
  run = await runCodecWebUi({ prompt: `Web UI codec proof ${randomUUID().slice(0, 8)}: which river runs through Lisbon?` });
}, 300_000);

describe('the Web UI with the codec server', () => {
  it("shows the request's input and answer when the codec server accepts the UI's endpoint", () => {
    expect(run.decoded.codecStatuses.length).toBeGreaterThan(0);
    expect(run.decoded.codecStatuses.every((s) => s === 200)).toBe(true);
    expect(run.decoded.text).toContain(run.prompt);
    expect(run.answer.length).toBeGreaterThan(10);
    expect(run.decoded.text).toContain(inJson(run.answer).slice(0, 60));
  });

  it('shows ciphertext, not the input, when the codec server refuses (401)', () => {
    expect(run.refused.codecStatuses.length).toBeGreaterThan(0);
    expect(run.refused.codecStatuses.every((s) => s === 401)).toBe(true);
    expect(run.refused.text).toContain('Input');
    for (const secret of [run.prompt, 'Lisbon', inJson(run.answer).slice(0, 60), 'question_answering']) expect(run.refused.text).not.toContain(secret);
  });
});
