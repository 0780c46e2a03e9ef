/**
 * The provider-call span on its own: attributes of a call that answered, of one that failed (type
 * and status, never the error's message, which can quote the prompt), nothing at all while tracing
 * is off, and workflow spans from the sandbox (SDK 1.x shape) converted with their parent and
 * without the workflow info's objects (memo, search attributes).
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderCallError } from '../../src/providers/errors';
import { traceProviderCall } from '../../src/tracing/provider-span';
import { fromSandboxSpan, installTracing, shutdownTracing } from '../../src/tracing/tracing';

const info = { provider: 'openai', kind: 'openai', model: 'gpt-4o-mini', attempt: 2, stream: false };
const answer = { content: 'The secret answer', model: 'gpt-4o-mini-2024', tokensIn: 11, tokensOut: 7, latencyMs: 42, finishReason: 'stop', provider: 'openai' };

afterEach(async () => {
  await shutdownTracing();
});

function traced(): InMemorySpanExporter {
  const memory = new InMemorySpanExporter();
  installTracing({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  return memory;
}

describe('provider-call span', () => {
  it('records provider, model, tokens and latency of an answered call, and no text', async () => {
    const memory = traced();
    await expect(traceProviderCall(info, () => Promise.resolve(answer))).resolves.toBe(answer);
    const [span, ...more] = memory.getFinishedSpans();
    expect(more).toHaveLength(0);
    expect(span!.name).toBe('chat gpt-4o-mini');
    expect(span!.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.response.finish_reasons': ['stop'],
      'llm.provider': 'openai',
      'llm.purpose': 'request',
      'llm.attempt': 2,
      'llm.stream': false,
      'llm.latency_ms': 42,
    });
    expect(span!.status.code).toBe(SpanStatusCode.OK);
  });

  it("records a failure's type and HTTP status, never its message", async () => {
    const memory = traced();
    const err = new ProviderCallError({ provider: 'openai', model: 'gpt-4o-mini', type: 'ProviderBadRequest', status: 400, detail: 'your prompt "launch codes 1234" is not allowed' });
    await expect(traceProviderCall(info, () => Promise.reject(err))).rejects.toBe(err);
    const span = memory.getFinishedSpans()[0]!;
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ProviderBadRequest' });
    expect(span.attributes).toMatchObject({ 'error.type': 'ProviderBadRequest', 'http.response.status_code': 400, 'llm.retryable': false });
    expect(JSON.stringify([span.attributes, span.events, span.status])).not.toContain('launch codes');
  });

  it('makes no span while tracing is off', async () => {
    const memory = traced();
    await shutdownTracing();
    await expect(traceProviderCall(info, () => Promise.resolve(answer))).resolves.toBe(answer);
    expect(memory.getFinishedSpans()).toHaveLength(0);
  });
});

describe('workflow spans from the sandbox', () => {
  it('get a parent span context and a scope, and keep only plain attribute values', () => {
    const own = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    const sandbox = {
      name: 'RunWorkflow:orchestrateRequest',
      kind: 0,
      spanContext: () => own,
      parentSpanId: 'c'.repeat(16),
      instrumentationLibrary: { name: '@temporalio/interceptor-workflow' },
      attributes: { workflowId: 'llm-request-r1', historyLength: 12, memo: { requestFingerprint: 'x' }, searchAttributes: { UserId: ['u-secret'] }, typedSearchAttributes: [{ key: 'UserId' }] },
    } as unknown as ReadableSpan;
    const converted = fromSandboxSpan(sandbox);
    expect(converted.parentSpanContext).toEqual({ traceId: own.traceId, spanId: 'c'.repeat(16), traceFlags: 1 });
    expect(converted.instrumentationScope).toEqual({ name: '@temporalio/interceptor-workflow' });
    expect(converted.spanContext()).toBe(own);
    expect(converted.attributes).toEqual({ workflowId: 'llm-request-r1', historyLength: 12 });
  });
});
