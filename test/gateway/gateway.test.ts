/**
 * The OpenAI-compatible gateway driven by the official `openai` npm SDK (non-streaming and
 * streaming) and by plain HTTP for the error cases, against a real worker in the gateway's process.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestWorkflowId } from '../../src/constants';
import { startGatewayStack, type GatewayTestStack } from './gateway-stack';

let stack: GatewayTestStack;
let key: string;
let openai: OpenAI;
const run = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;

interface Orchestration {
  workflow_id: string;
  web_ui_url: string;
  providers_used: string[];
  consensus: { applied: boolean; strategy: string; confidence: number | null; agreement: number | null; threshold_met: boolean | null; low_confidence: boolean };
  cost_usd: number;
  processing_time_ms: number;
  queued_ms: number | null;
}

beforeAll(async () => {
  stack = await startGatewayStack('sdk');
  key = (await stack.gateway.keys.create({ userId: 'gw-user' })).key;
  openai = new OpenAI({ baseURL: stack.baseURL, apiKey: key, maxRetries: 0 });
});
afterAll(async () => {
  await stack?.close();
});

function post(body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
    ...(signal && { signal }),
  });
}

async function workflowExists(workflowId: string): Promise<boolean> {
  try {
    await stack.gateway.orchestrator.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch {
    return false;
  }
}

async function callProviderCount(workflowId: string): Promise<number> {
  const history = await stack.gateway.orchestrator.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'callProvider').length;
}

describe('the gateway through the openai npm SDK', () => {
  it('answers a chat completion in OpenAI shape with usage, the orchestration metadata and x- headers', async () => {
    const { data, response } = await openai.chat.completions
      .create({
        model: 'openai:gpt-4o-mini',
        messages: [
          { role: 'system', content: 'Answer with a number.' },
          { role: 'user', content: 'What is 17 * 23?' },
        ],
        temperature: 0.2,
        max_tokens: 64,
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-llm-request-/);
    expect(data.model).toBe('openai:gpt-4o-mini');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]?.message.role).toBe('assistant');
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
    const o = (data as unknown as { orchestration: Orchestration }).orchestration;
    expect(data.id).toBe(`chatcmpl-${o.workflow_id}`);
    expect(o.providers_used).toEqual(['openai']);
    expect(o.consensus.applied).toBe(false);
    expect(o.web_ui_url).toContain(encodeURIComponent(o.workflow_id));
    expect(o.processing_time_ms).toBeGreaterThanOrEqual(o.queued_ms ?? 0);
    expect(response.headers.get('x-orchestration-workflow-id')).toBe(o.workflow_id);
    expect(response.headers.get('x-orchestration-providers')).toBe('openai');
    expect(Number(response.headers.get('x-orchestration-cost-usd'))).toBe(o.cost_usd);

    // The stored interaction is the key's user's, with the conversation's turns.
    const stored = await stack.gateway.worker!.runtime.memory.getInteraction(o.workflow_id);
    expect(stored?.userId).toBe('gw-user');
    expect(stored?.response).toBe(data.choices[0]?.message.content);
  });

  it('orchestration options go in the extension key: consensus over several providers, with the request id as idempotency key', async () => {
    const requestId = `gw-consensus-${run}`;
    const data = await openai.chat.completions.create({
      model: 'auto',
      messages: [{ role: 'user', content: 'What is 12 + 30?' }],
      // The extension key is sent as is by the SDK.
      ...({ orchestration: { require_consensus: true, min_providers: 2, request_id: requestId, task_type: 'question_answering' } } as object),
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const o = (data as unknown as { orchestration: Orchestration }).orchestration;
    expect(o.workflow_id).toBe(requestWorkflowId(requestId));
    expect(o.consensus.applied).toBe(true);
    expect(o.providers_used.length).toBeGreaterThanOrEqual(2);
    expect(o.consensus.strategy).toBe('similarity');
    expect(typeof o.consensus.confidence).toBe('number');
  });

  it('streams a single-provider answer with the SDK helper; the text is the workflow result', async () => {
    const stream = await openai.chat.completions.create({ model: 'anthropic:claude-haiku-4-5', messages: [{ role: 'user', content: 'Name a primary colour.' }], stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const first = chunks[0] as unknown as { orchestration: { streamed: string; workflow_id: string } };
    expect(first.orchestration.streamed).toBe('live');
    const workflowId = first.orchestration.workflow_id;
    const result = await stack.gateway.orchestrator.getResult(workflowId);
    expect(text).toBe(result.response);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks.at(-1)?.usage?.total_tokens).toBe(result.metadata.tokensIn + result.metadata.tokensOut);
  });

  it('a consensus stream says in its first chunk that it is sent after consensus', async () => {
    const stream = await openai.chat.completions.create({
      model: 'route:code_review',
      messages: [{ role: 'user', content: 'Is `let x = 1` valid JavaScript? Answer yes or no.' }],
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const first = chunks[0] as unknown as { orchestration: Orchestration & { streamed: string } };
    expect(first.orchestration.streamed).toBe('after_consensus');
    expect(first.orchestration.consensus.applied).toBe(true);
    const result = await stack.gateway.orchestrator.getResult(first.orchestration.workflow_id);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(result.response);
  });

  it("the gateway's client is on its worker's connection, so requests start eagerly", async () => {
    const started = await stack.gateway.orchestrator.start({ prompt: 'Say hi.', taskType: 'general', userId: 'gw-user', providers: ['openai'], requestId: `gw-eager-${run}` }, { eager: true });
    expect(started.eagerlyStarted).toBe(true);
    await stack.gateway.orchestrator.getResult(started.workflowId);
  });

  it('GET /v1/models lists provider models, routes per task type, and auto', async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['openai:gpt-4o-mini', 'openai:gpt-4o', 'anthropic:claude-haiku-4-5', 'route:code_generation', 'route:general', 'auto']));
    expect(ids).not.toContain('local:llama3.1'); // disabled in config.yaml
  });
});

describe('the gateway over plain HTTP: errors in OpenAI shape', () => {
  const body = (requestId: string, extra: Record<string, unknown> = {}) => ({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi.' }], orchestration: { request_id: requestId }, ...extra });

  it('no key, an unknown key, a revoked key: 401 and nothing started', async () => {
    const cases: [string, Record<string, string>][] = [
      ['missing', {}],
      ['unknown', { authorization: 'Bearer sk-orch-not-a-real-key' }],
    ];
    const revoked = await stack.gateway.keys.create({ userId: 'gw-revoked' });
    await stack.gateway.keys.revoke(revoked.record.id);
    cases.push(['revoked', { authorization: `Bearer ${revoked.key}` }]);
    for (const [name, headers] of cases) {
      const requestId = `gw-401-${name}-${run}`;
      const res = await fetch(`${stack.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body(requestId)) });
      expect(res.status, name).toBe(401);
      const json = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(json.error.code).toBe('invalid_api_key');
      expect(json.error.message).toMatch(name === 'revoked' ? /revoked/ : name === 'missing' ? /no API key/ : /invalid/);
      expect(await workflowExists(requestWorkflowId(requestId)), name).toBe(false);
    }
  });

  it("another user's id: 403 naming user, nothing started", async () => {
    const requestId = `gw-403-${run}`;
    const res = await post(body(requestId, { user: 'someone-else' }));
    expect(res.status).toBe(403);
    const json = (await res.json()) as { error: { type: string; param: string } };
    expect(json.error).toMatchObject({ type: 'permission_error', param: 'user' });
    expect(await workflowExists(requestWorkflowId(requestId))).toBe(false);
    // The key's own user is accepted.
    expect((await post(body(`gw-own-user-${run}`, { user: 'gw-user' }))).status).toBe(200);
  });

  it('an unknown provider, model or route: 404 naming model', async () => {
    for (const model of ['nope:gpt-4o-mini', 'openai:gpt-9', 'route:no_such_task']) {
      const res = await post({ ...body(`gw-404-${randomUUID()}`), model });
      expect(res.status, model).toBe(404);
      const json = (await res.json()) as { error: { param: string; code: string } };
      expect(json.error).toMatchObject({ param: 'model', code: 'model_not_found' });
    }
  });

  it('n = 2 and unsupported fields: 400 naming the field', async () => {
    const n = await post(body(`gw-n-${run}`, { n: 2 }));
    expect(n.status).toBe(400);
    expect(((await n.json()) as { error: { param: string; type: string } }).error).toMatchObject({ param: 'n', type: 'invalid_request_error' });
    const tools = await post(body(`gw-tools-${run}`, { tools: [] }));
    expect(tools.status).toBe(400);
    expect(((await tools.json()) as { error: { param: string } }).error.param).toBe('tools');
    const lastTurn = await post({ model: 'auto', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] });
    expect(lastTurn.status).toBe(400);
    expect(((await lastTurn.json()) as { error: { param: string } }).error.param).toBe('messages[1].role');
  });

  it('the same idempotency key with a different request: 409', async () => {
    const k = `gw-409-${run}`;
    expect((await post(body(k))).status).toBe(200);
    const res = await post({ ...body(k), messages: [{ role: 'user', content: 'Say bye.' }] });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('idempotency_conflict');
  });

  it('the client hanging up does not cancel the request: the same Idempotency-Key returns the stored answer, one workflow, one provider call', async () => {
    const k = `gw-hangup-${run}`;
    const request = { model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'What is 6 * 7? [[emulate:latency=3000]]' }] };
    const controller = new AbortController();
    const first = post(request, { 'idempotency-key': k }, controller.signal);
    const hungUp = expect(first).rejects.toThrow(/aborted/i);
    // Hang up only once the request is running (its workflow exists), so the test is about a request in flight.
    const workflowId = requestWorkflowId(k);
    for (const until = Date.now() + 10_000; !(await workflowExists(workflowId)); ) {
      if (Date.now() > until) throw new Error(`workflow ${workflowId} never started`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await stack.gateway.orchestrator.client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    controller.abort();
    await hungUp;
    const again = await post(request, { 'idempotency-key': k });
    expect(again.status).toBe(200);
    const answer = (await again.json()) as { choices: { message: { content: string } }[]; orchestration: Orchestration };
    expect(answer.orchestration.workflow_id).toBe(workflowId);
    // The first run finished its work: one workflow, one provider call, the same stored answer.
    const result = await stack.gateway.orchestrator.getResult(workflowId);
    expect(answer.choices[0]?.message.content).toBe(result.response);
    const runs: string[] = [];
    for await (const info of stack.gateway.orchestrator.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(info.runId);
    expect(runs).toHaveLength(1);
    expect(await callProviderCount(workflowId)).toBe(1);
  });

  it('healthz and readyz answer; readyz names Temporal and the database', async () => {
    expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { temporal: 'ok', database: 'ok' } });
  });
});

describe('the gateway: quotas and streams that fail', () => {
  it("a key's request quota exceeded: 429 with Retry-After until the day resets", async () => {
    const limited = await stack.gateway.keys.create({ userId: `gw-quota-${run}`, quotaRequestsPerDay: 1 });
    const send = (content: string) =>
      fetch(`${stack.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${limited.key}` },
        body: JSON.stringify({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content }] }),
      });
    expect((await send('Say one.')).status).toBe(200);
    const refused = await send('Say two.');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(((await refused.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'quota_exceeded', type: 'insufficient_quota' });
  });

  it('a live stream delivers tokens before the answer is complete', async () => {
    const stream = await openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Describe the sea in a few words. [[emulate:chunkms=150]]' }], stream: true });
    const arrivals: { at: number; text: string }[] = [];
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) arrivals.push({ at: performance.now(), text });
    }
    expect(arrivals.length).toBeGreaterThan(2);
    // Chunks 150 ms apart at the provider arrive spread out, not all at once at the end.
    expect(arrivals.at(-1)!.at - arrivals[0]!.at).toBeGreaterThan(200);
  });

  it('a provider failing mid-stream ends the stream with an error event, never a spliced answer', async () => {
    const stream = await openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Describe a mountain in a few words. [[emulate:midstream=2x1]]' }], stream: true });
    const texts: string[] = [];
    const iterate = async () => {
      for await (const chunk of stream) texts.push(chunk.choices[0]?.delta.content ?? '');
    };
    await expect(iterate()).rejects.toThrow(/mid-stream/);
    expect(texts.join('').length).toBeGreaterThan(0);
  });
});

describe('the gateway: admin routes', () => {
  it('are registered: an admin key creates a key the chat endpoint then accepts; a plain key is refused', async () => {
    const admin = await stack.gateway.keys.create({ userId: 'gw-admin', admin: true });
    const created = await fetch(`${stack.gateway.url}/admin/keys`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.key}` }, body: JSON.stringify({ user: 'gw-made-by-admin' }) });
    expect(created.status).toBe(201);
    const made = (await created.json()) as { key: string };
    const client = new OpenAI({ baseURL: stack.baseURL, apiKey: made.key, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi.' }] });
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const plain = await fetch(`${stack.gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${key}` } });
    expect(plain.status).toBe(403);
  });
});
