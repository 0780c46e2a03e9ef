/**
 * The OTLP path is real: with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a small HTTP server, a
 * request's spans (client, workflow, activities, provider call) arrive at <endpoint>/v1/traces as
 * OTLP/HTTP JSON with OTEL_SERVICE_NAME as service.name, parents linked, and no prompt text. Without
 * the variable, tracing is off: no interceptors, a no-op workflow sink.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { shutdownTracing, tracingFor, WORKFLOW_INTERCEPTORS_PATH, type Tracing } from '../../src/tracing/tracing';
import { startStack, type TestStack } from '../helpers/stack';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
interface OtlpSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  traceId: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}
interface OtlpBody {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const received: Received[] = [];
let server: Server;
let endpoint: string;
let stack: TestStack;
let tracing: Tracing;
const run = Date.now().toString(36);

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await stack?.close();
  await shutdownTracing();
  await new Promise((resolve) => server?.close(resolve));
});

describe('tracing configuration', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT: no client interceptors, a no-op workflow sink', () => {
    const off = tracingFor(loadEnv({}));
    expect(off.enabled).toBe(false);
    expect(off.clientInterceptors()).toEqual({});
    const options = off.workerOptions();
    expect(options.interceptors).toBeUndefined();
    expect(Object.keys(options.sinks ?? {})).toEqual(['exporter']);
  });

  it('rejects an endpoint that is not a URL, naming the variable', () => {
    expect(() => loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});

describe('OTLP export', () => {
  it("sends a request's spans to <endpoint>/v1/traces as OTLP/HTTP JSON", async () => {
    tracing = tracingFor(loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: `otlp-test-${run}` }));
    expect(tracing.enabled).toBe(true);
    expect(tracing.destination).toBe(`otlp ${endpoint}/v1/traces`);
    const worker = tracing.workerOptions();
    stack = await startStack({
      label: 'otlp',
      clientInterceptors: tracing.clientInterceptors(),
      workerOptions: { interceptors: { ...worker.interceptors, workflowModules: [WORKFLOW_INTERCEPTORS_PATH] }, ...(worker.sinks && { sinks: worker.sinks }) },
    });
    const prompt = `OTLP probe ${run}: what is 2 + 2?`;
    const result = await stack.client.processRequest({ prompt, taskType: 'question_answering', userId: `otlp-user-${run}`, providers: ['openai'], requestId: `otlp-${run}` });

    // The batch processor sends on flush; the workflow's spans leave the sandbox after its last task.
    const spans = await vi.waitFor(
      async () => {
        await tracing.forceFlush();
        const all = received.flatMap((r) => (JSON.parse(r.body) as OtlpBody).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
        if (!all.some((s) => s.name === 'RunWorkflow:orchestrateRequest')) throw new Error(`spans so far: ${all.map((s) => s.name).join(', ')}`);
        return all;
      },
      { timeout: 30_000, interval: 250 },
    );
    for (const r of received) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/v1/traces');
      expect(r.headers['content-type']).toMatch(/^application\/json/);
    }
    const services = new Set(received.flatMap((r) => (JSON.parse(r.body) as OtlpBody).resourceSpans.map((rs) => rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue)));
    expect([...services]).toEqual([`otlp-test-${run}`]);

    const start = spans.find((s) => s.name === 'StartWorkflow:orchestrateRequest' && s.attributes.some((a) => a.key === 'temporalWorkflowId' && a.value.stringValue === result.metadata.workflowId));
    expect(start).toBeDefined();
    const trace = spans.filter((s) => s.traceId === start!.traceId);
    const byName = (name: string) => trace.filter((s) => s.name === name);
    const runWorkflow = byName('RunWorkflow:orchestrateRequest')[0]!;
    // The workflow span (made in the sandbox, SDK 1.x shape) is exported with its parent.
    expect(runWorkflow.parentSpanId).toBe(start!.spanId);
    const call = byName('RunActivity:callProvider')[0]!;
    const chat = byName(`chat ${result.metadata.providers[0]!.model}`)[0]!;
    expect(chat.parentSpanId).toBe(call.spanId);
    const tokens = chat.attributes.find((a) => a.key === 'gen_ai.usage.input_tokens')?.value;
    expect(Number(tokens?.intValue)).toBe(result.metadata.providers[0]!.tokensIn);
    for (const r of received) {
      expect(r.body).not.toContain(`OTLP probe ${run}`);
      expect(r.body).not.toContain(`otlp-user-${run}`);
    }
  });
});
