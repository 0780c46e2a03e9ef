/**
 * The production wiring: startGateway (its client, its in-process startWorker) takes its tracing
 * from tracingFor(env), and the worker runs a prebuilt bundle (the interceptor module baked in, as
 * scripts/build.ts makes it). A chat completion through the gateway is one trace down to the
 * provider calls. Spans are collected in memory (the process's tracing is installed before the
 * gateway starts, so tracingFor returns it). The gateway's server span is the root, or continues a
 * caller's W3C traceparent.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import { startGateway, type RunningGateway } from '../../src/gateway/start';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/data-converter';
import { installTracing, shutdownTracing, WORKFLOW_INTERCEPTORS_PATH } from '../../src/tracing/tracing';
import { repoConfig } from '../helpers/config';
import { requiredService } from '../helpers/services';
import { WORKFLOWS_PATH } from '../helpers/temporal';

const memory = new InMemorySpanExporter();
const dir = mkdtempSync(join(tmpdir(), 'orch-gateway-traces-'));
const run = Date.now().toString(36);
let gateway: RunningGateway;
let key: string;

beforeAll(async () => {
  installTracing({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_PATH],
    logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} },
  });
  const codePath = join(dir, 'workflow-bundle.js');
  writeFileSync(codePath, code);
  const taskQueue = `test-gateway-traces-${randomUUID().slice(0, 8)}`;
  const base = repoConfig();
  gateway = await startGateway({
    env: loadEnv({ DATABASE_URL: `file:${join(dir, 'test.db')}`, TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), LOG_LEVEL: 'warn', METRICS_PORT: '0' }),
    config: { ...base, emulator: { ...base.emulator, mode: 'always', latency_ms: 5 } },
    logger: createLogger('warn', 'gateway-traces'),
    taskQueue,
    port: 0,
    host: '127.0.0.1',
    runtime: { secrets: {}, emulatorPort: 0, routingPolicyWorkflowId: `routing-policy-${taskQueue}` },
    workflowSource: { kind: 'bundle', codePath, reason: 'test' },
    ensureSchedule: false,
    installLogger: false,
  });
  key = (await gateway.keys.create({ userId: `gw-trace-user-${run}` })).key;
}, 180_000);
afterAll(async () => {
  await gateway?.close();
  await shutdownTracing();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway traces', () => {
  it("a chat completion is one trace: the gateway's server span (continuing the caller's traceparent), StartWorkflow, RunWorkflow, activities, provider calls", async () => {
    const prompt = `Gateway trace probe ${run}: what is 5 + 6?`;
    const callerTrace = randomUUID().replaceAll('-', '');
    const callerSpan = callerTrace.slice(0, 16);
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      // The caller's own trace context: the gateway continues it.
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, traceparent: `00-${callerTrace}-${callerSpan}-01` },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: prompt }], orchestration: { request_id: `gw-trace-${run}`, require_consensus: true } }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { orchestration: { workflow_id: string }; choices: { message: { content: string } }[] };
    const workflowId = body.orchestration.workflow_id;

    const spans = await vi.waitFor(
      () => {
        const start = memory.getFinishedSpans().find((s) => s.name === 'StartWorkflow:orchestrateRequest' && s.attributes.temporalWorkflowId === workflowId);
        if (!start) throw new Error('no StartWorkflow span');
        const trace = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === start.spanContext().traceId);
        if (!trace.some((s) => s.name === 'RunWorkflow:orchestrateRequest')) throw new Error('no RunWorkflow span yet');
        if (!trace.some((s) => s.name === 'POST /v1/chat/completions')) throw new Error('no server span yet');
        return trace;
      },
      { timeout: 20_000, interval: 100 },
    );
    const id = (s: ReadableSpan) => s.spanContext().spanId;
    const one = (name: string) => spans.filter((s) => s.name === name);
    // The gateway's server span is the request's first span, a child of the caller's context.
    const http = one('POST /v1/chat/completions')[0]!;
    expect(http.spanContext().traceId).toBe(callerTrace);
    expect(http.parentSpanContext?.spanId).toBe(callerSpan);
    expect(http.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200 });
    const start = one('StartWorkflow:orchestrateRequest')[0]!;
    expect(start.parentSpanContext?.spanId).toBe(id(http));
    const runWorkflow = one('RunWorkflow:orchestrateRequest')[0]!;
    expect(runWorkflow.parentSpanContext?.spanId).toBe(id(start));
    const calls = one('RunActivity:callProvider');
    expect(calls.length).toBeGreaterThanOrEqual(2);
    const chats = spans.filter((s) => s.name.startsWith('chat '));
    expect(chats).toHaveLength(calls.length);
    for (const c of chats) expect(calls.map(id)).toContain(c.parentSpanContext?.spanId);
    expect(one('RunActivity:planRequest')).toHaveLength(1);

    const text = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status]));
    expect(text).not.toContain(`Gateway trace probe ${run}`);
    expect(text).not.toContain(`gw-trace-user-${run}`);
    expect(text).not.toContain(body.choices[0]!.message.content);
  });

  it('makes no span for health probes', async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    await fetch(`${gateway.url}/readyz`);
    expect((await fetch(`${gateway.url}/v1/no-such-route`)).status).toBe(404);
    await vi.waitFor(() => {
      if (!memory.getFinishedSpans().some((s) => s.name === 'GET unmatched')) throw new Error('no span for the unmatched route yet');
    });
    expect(memory.getFinishedSpans().filter((s) => s.name === 'GET /healthz' || s.name === 'GET /readyz')).toEqual([]);
  });
});
