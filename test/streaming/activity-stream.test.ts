/**
 * The stream side channel through the real stack: a real worker on the dev server, the real
 * callProvider activity with a stream bus in its deps, the emulator streaming over real HTTP.
 *   - a `stream: true` request publishes its call's deltas, then done; they add up to the answer,
 *     and the time to first token is reported in metadata.providers[];
 *   - a request without `stream` publishes nothing;
 *   - a provider failing before its first token fails over without the client seeing it
 *     (streamSelectedCall forwards the fallback's tokens only);
 *   - a provider failing after its first tokens ends the client's stream with an error, even
 *     though the retry answers the request (the durable result);
 *   - a streamed request is not hedged (a hedge answering first would cut the followed call off).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema';
import { requestWorkflowId } from '../../src/constants';
import { createLocalStreamBus, type StreamEvent } from '../../src/streaming/bus';
import { streamSelectedCall } from '../../src/streaming/sse';
import type { OrchestrateRequest } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
const bus = createLocalStreamBus();
let stack: TestStack;

function request(prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest {
  return { prompt, taskType: 'question_answering', userId: 'user-stream', requestId: `stream-${run}-${n++}`, minProviders: 1, requireConsensus: false, ...extra };
}

/** Every provider: two attempts with a short backoff, so a failing provider fails over quickly. */
function performance(c: Config): Config['performance'] {
  const models = Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 20, max_attempts: 2, initial_backoff_ms: 100 }]));
  return { ...c.performance, models };
}

function record(workflowId: string): { events: StreamEvent[]; off: () => void } {
  const events: StreamEvent[] = [];
  const off = bus.subscribe(workflowId, (e) => events.push(e));
  return { events, off };
}

const text = (events: StreamEvent[], callIndex: number): string => events.flatMap((e) => (e.type === 'delta' && e.callIndex === callIndex ? [e.text] : [])).join('');

beforeAll(async () => {
  stack = await startStack({ label: 'stream', streamBus: bus, configure: (c) => ({
      ...c,
      performance: performance(c),
      resilience: { ...c.resilience, cache: { ...c.resilience.cache, enabled: false }, hedging: { enabled: true, after: 'ms', delay_ms: 300 } },
    }),
  });
});
afterAll(async () => {
  await stack?.close();
});

describe('callProvider publishes to the stream bus', () => {
  it('streams the deltas of a stream: true request, then done; they add up to the answer and firstTokenMs is reported', async () => {
    const req = request('Why do distributed systems need consensus protocols? [[emulate:chunkms=5]]', { providers: ['openai:gpt-4o-mini'], stream: true });
    const { events, off } = record(requestWorkflowId(req.requestId!));
    const result = await stack.client.processRequest(req);
    off();
    const deltas = events.filter((e) => e.type === 'delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.every((e) => e.callIndex === 0 && e.provider === 'openai' && e.model === 'gpt-4o-mini')).toBe(true);
    expect(text(events, 0)).toBe(result.response);
    expect(events.at(-1)).toEqual({ type: 'done', callIndex: 0, finishReason: 'stop' });
    const [call] = result.metadata.providers;
    expect(call?.firstTokenMs).toEqual(expect.any(Number));
    expect(call!.firstTokenMs!).toBeLessThanOrEqual(call!.latencyMs);
    expect(call!.tokensOut).toBeGreaterThan(0);
  }, 60_000);

  it('publishes nothing for a request that did not ask to stream', async () => {
    const req = request('Why do distributed systems need consensus protocols?', { providers: ['openai:gpt-4o-mini'] });
    const { events, off } = record(requestWorkflowId(req.requestId!));
    const result = await stack.client.processRequest(req);
    off();
    expect(result.response.length).toBeGreaterThan(0);
    expect(events).toEqual([]);
    expect(result.metadata.providers[0]?.firstTokenMs).toBeUndefined();
  }, 60_000);

  it('a failure before the first token fails over without the client seeing it', async () => {
    const req = request('Explain quorum reads and writes [[emulate@gpt-4o-mini:500]]', { providers: ['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5'], stream: true });
    const workflowId = requestWorkflowId(req.requestId!);
    const written: string[] = [];
    const forwarded = streamSelectedCall(bus, workflowId, (s) => void written.push(s), { id: 'chatcmpl-test', model: 'orchestrator' });
    const result = await stack.client.processRequest(req);
    const outcome = await forwarded;
    expect(result.metadata.providers.map((p) => `${p.provider}:${p.status}`)).toEqual(['openai:failed', 'anthropic:succeeded']);
    expect(outcome).toMatchObject({ outcome: 'done', callIndex: 1, provider: 'anthropic', model: 'claude-haiku-4-5', text: result.response });
    const content = written.map((w) => (JSON.parse(w.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(result.response);
  }, 60_000);

  it('a failure after the first token ends the stream with an error, never a spliced answer', async () => {
    // The first attempt fails after three chunks; the retry answers the request.
    const req = request('Explain leader election in Raft clusters [[emulate:midstream=3x1]]', { providers: ['openai:gpt-4o-mini'], stream: true });
    const workflowId = requestWorkflowId(req.requestId!);
    const { events, off } = record(workflowId);
    const forwarded = streamSelectedCall(bus, workflowId, () => undefined, { id: 'chatcmpl-test' });
    const result = await stack.client.processRequest(req);
    off();
    const outcome = await forwarded;
    expect(outcome.outcome).toBe('error');
    if (outcome.outcome !== 'error') return;
    expect(outcome.callIndex).toBe(0);
    expect(outcome.message).toContain('mid-stream failure');
    expect(outcome.text.length).toBeGreaterThan(0);
    expect(result.response.startsWith(outcome.text)).toBe(true);
    expect(outcome.text).not.toBe(result.response);
    // On the bus: three deltas, the error, then the retry's whole answer and done.
    const errorAt = events.findIndex((e) => e.type === 'error');
    expect(events.slice(0, errorAt).filter((e) => e.type === 'delta')).toHaveLength(3);
    expect(text(events.slice(errorAt + 1), 0)).toBe(result.response);
    expect(events.at(-1)).toEqual({ type: 'done', callIndex: 0, finishReason: 'stop' });
    expect(result.metadata.providers[0]).toMatchObject({ status: 'succeeded' });
  }, 60_000);

  it('a streamed request is not hedged; the same request unstreamed is', async () => {
    const slow = 'Name a primary color [[emulate@gpt-4o-mini:latency=1500]]';
    const route = { providers: ['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5'] };
    const plain = await stack.client.processRequest(request(slow, route));
    expect(plain.metadata.hedgedCalls).toBe(1);
    const streamed = await stack.client.processRequest(request(slow, { ...route, stream: true }));
    expect(streamed.metadata.hedgedCalls).toBe(0);
    expect(streamed.metadata.providers.map((p) => `${p.provider}:${p.status}`)).toEqual(['openai:succeeded']);
  }, 60_000);

  it('a call cancelled while it streams (early stop) is stopped at the provider: its stream ends with Cancelled', async () => {
    // Three providers must agree; two answer at once, Gemini streams one word a second.
    const req = request('What is 12 * 12? [[emulate:answer=correct]] [[emulate@gemini-2.0-flash:chunkms=1000]]', {
      providers: ['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5', 'google:gemini-2.0-flash'],
      requireConsensus: true,
      minProviders: 2,
      stream: true,
    });
    const { events, off } = record(requestWorkflowId(req.requestId!));
    const result = await stack.client.processRequest(req);
    // The cancelled activity reports after the workflow moved on: wait for its event.
    const deadline = Date.now() + 20_000;
    while (!events.some((e) => e.type === 'error') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    off();
    const google = result.metadata.providers.findIndex((p) => p.provider === 'google');
    expect(result.metadata.providers[google]?.status).toBe('cancelled');
    expect(events.filter((e) => e.type === 'delta' && e.callIndex === google).length).toBeGreaterThan(0);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ type: 'error', callIndex: google, errorType: 'Cancelled' });
    expect(events.some((e) => e.type === 'done' && e.callIndex === google)).toBe(false);
  }, 60_000);
});
