/**
 * The emulator's request log (EmulatorOptions.onCall), which the chaos soak reads: one record per
 * generation call when its response ends, with the fault injected, the status sent, whether the
 * whole answer went out, and the ids a connector stores as providerRequestId.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema';
import { startEmulator, type EmulatorCallRecord, type RunningEmulator } from '../../src/emulator/server';

const calls: EmulatorCallRecord[] = [];
let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ port: 0, settings: ConfigSchema.shape.emulator.parse({ latency_ms: 0 }), onCall: (c) => calls.push(c) });
});
afterAll(async () => {
  await emulator.close();
});

const post = (path: string, headers: Record<string, string>, body: unknown, signal?: AbortSignal) =>
  fetch(`${emulator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), ...(signal && { signal }) });
const openai = (prompt: string, signal?: AbortSignal) => post('/v1/chat/completions', { authorization: 'Bearer x' }, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }, signal);

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('emulator request log', () => {
  it('records an answer with the ids each connector stores', async () => {
    const res = await openai('What is 2 + 2? (log 1)');
    const body = (await res.json()) as { id: string };
    const gem = await post('/v1beta/models/gemini-2.0-flash:generateContent', { 'x-goog-api-key': 'x' }, { contents: [{ role: 'user', parts: [{ text: 'What is 3 + 3? (log 1)' }] }] });
    const gemBody = (await gem.json()) as { responseId: string };
    await until(() => calls.length >= 2);
    const [a, g] = calls;
    expect(a).toMatchObject({ model: 'gpt-4o-mini', prompt: 'What is 2 + 2? (log 1)', attempt: 0, fault: null, status: 200, completed: true });
    expect(a!.ids).toEqual([res.headers.get('x-request-id'), body.id]);
    expect(g).toMatchObject({ model: 'gemini-2.0-flash', status: 200, completed: true });
    expect(g!.ids).toContain(gemBody.responseId);
    expect(a!.endedAt).toBeGreaterThanOrEqual(a!.startedAt);
  });

  it('records an injected status, and a hang the client gave up on', async () => {
    calls.length = 0;
    const before = emulator.stats()['gpt-4o-mini']!.calls;
    await (await openai('[[emulate:503x1]] What is 5 + 5? (log 2)')).text();
    await (await openai('[[emulate:503x1]] What is 5 + 5? (log 2)')).text();
    const abort = new AbortController();
    const hung = openai('[[emulate:hang]] What is 6 + 6? (log 2)', abort.signal).catch((err: unknown) => err);
    // The hang has reached the emulator (its third call in this test) before the client gives up.
    await until(() => emulator.stats()['gpt-4o-mini']!.calls >= before + 3);
    expect(calls).toHaveLength(2);
    abort.abort();
    await hung;
    await until(() => calls.length >= 3);
    expect(calls.map(({ fault, status, completed, attempt }) => ({ fault, status, completed, attempt }))).toEqual([
      { fault: 503, status: 503, completed: true, attempt: 0 },
      { fault: null, status: 200, completed: true, attempt: 1 },
      { fault: 'hang', status: null, completed: false, attempt: 0 },
    ]);
  });
});
