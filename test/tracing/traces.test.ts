/**
 * One request is one trace: the client's StartWorkflow, the workflow's RunWorkflow, a
 * StartActivity/RunActivity pair per activity (local ones too) and a `chat <model>` span under each
 * RunActivity:callProvider, collected in memory from the client and the worker of this process
 * (the real dev server, payload encryption on, the provider emulator over HTTP). No span carries
 * the prompt, the answer or the user id.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Worker } from '@temporalio/worker';
import { installTracing, shutdownTracing, WORKFLOW_INTERCEPTORS_PATH, type Tracing } from '../../src/tracing/tracing';
import { JudgeSettingsSchema } from '../../src/config/schema';
import type { OrchestrationResult } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';
import { testDataConverter, WORKFLOWS_PATH } from '../helpers/temporal';

const memory = new InMemorySpanExporter();
let stack: TestStack;
const run = Date.now().toString(36);

let tracing: Tracing;

beforeAll(async () => {
  tracing = installTracing({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const worker = tracing.workerOptions();
  stack = await startStack({
    label: 'traces',
    // An LLM judge too: its call is a provider call of its own, under selectConsensus.
    configure: (c) => {
      const config = structuredClone(c);
      config.consensus.strategies.judge = JudgeSettingsSchema.parse({ provider: 'openai', model: 'gpt-4o' });
      return config;
    },
    clientInterceptors: tracing.clientInterceptors(),
    workerOptions: { interceptors: { ...worker.interceptors, workflowModules: [WORKFLOW_INTERCEPTORS_PATH] }, ...(worker.sinks && { sinks: worker.sinks }) },
  });
});
afterAll(async () => {
  await stack?.close();
  await shutdownTracing();
});

const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const id = (s: ReadableSpan) => s.spanContext().spanId;
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

/** The request's spans, once its workflow span has come out of the sandbox (sinks run after the workflow task). */
async function traceOf(workflowId: string): Promise<ReadableSpan[]> {
  const start = await vi.waitFor(
    () => {
      const found = memory.getFinishedSpans().find((s) => s.name === 'StartWorkflow:orchestrateRequest' && s.attributes.temporalWorkflowId === workflowId);
      if (!found) throw new Error(`no StartWorkflow span for ${workflowId}`);
      return found;
    },
    { timeout: 20_000, interval: 100 },
  );
  const traceId = start.spanContext().traceId;
  return vi.waitFor(
    () => {
      const spans = memory.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      if (!spans.some((s) => s.name === 'RunWorkflow:orchestrateRequest')) throw new Error('no RunWorkflow span yet');
      return spans;
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** Every string a span exports: name, attribute keys and values, event names and attributes, status message. */
function exportedText(spans: ReadableSpan[]): string {
  const parts: string[] = [];
  for (const s of spans) {
    parts.push(s.name, s.status.message ?? '');
    for (const [k, v] of Object.entries(s.attributes)) parts.push(k, JSON.stringify(v));
    for (const e of s.events) parts.push(e.name, JSON.stringify(e.attributes ?? {}));
  }
  return parts.join('\n');
}

function checkTree(result: OrchestrationResult, spans: ReadableSpan[], providers: string[], secrets: string[]): void {
  const { workflowId } = result.metadata;
  // One trace: every span of this workflow (workflow spans carry workflowId, activity spans temporalWorkflowId) is in it.
  const elsewhere = memory
    .getFinishedSpans()
    .filter((s) => (s.attributes.workflowId === workflowId || s.attributes.temporalWorkflowId === workflowId) && s.spanContext().traceId !== spans[0]!.spanContext().traceId);
  expect(elsewhere.map((s) => s.name)).toEqual([]);

  const [start, ...moreStarts] = named(spans, 'StartWorkflow:orchestrateRequest');
  expect(moreStarts).toHaveLength(0);
  expect(parentId(start!)).toBeUndefined(); // the root, from the client
  const [runWorkflow] = named(spans, 'RunWorkflow:orchestrateRequest');
  expect(parentId(runWorkflow!)).toBe(id(start!));
  expect(runWorkflow!.attributes.workflowId).toBe(workflowId);

  // Every RunActivity hangs under a StartActivity of the same activity type, made by the workflow.
  const starts = new Map(spans.filter((s) => s.name.startsWith('StartActivity:')).map((s) => [id(s), s]));
  for (const s of starts.values()) expect(parentId(s)).toBe(id(runWorkflow!));
  const runs = spans.filter((s) => s.name.startsWith('RunActivity:'));
  for (const r of runs) {
    const parent = starts.get(parentId(r) ?? '');
    expect(parent?.name, `${r.name}'s parent`).toBe(r.name.replace('RunActivity:', 'StartActivity:'));
    expect(r.attributes.temporalWorkflowId).toBe(workflowId);
  }
  const activityTypes = new Set(runs.map((r) => r.name.slice('RunActivity:'.length)));
  // Local activities (planning, consensus, persisting) are traced like the others.
  for (const type of ['checkStoredRun', 'planRequest', 'callProvider', 'persistInteraction']) expect(activityTypes, type).toContain(type);

  // One provider-call span per callProvider attempt, its child, with provider, model and tokens.
  const calls = named(runs, 'RunActivity:callProvider');
  const chats = spans.filter((s) => s.name.startsWith('chat ') && s.attributes['llm.purpose'] === 'request');
  expect(chats).toHaveLength(calls.length);
  const callIds = new Set(calls.map(id));
  for (const c of chats) {
    expect(callIds.has(parentId(c) ?? '')).toBe(true);
    expect(c.attributes['gen_ai.operation.name']).toBe('chat');
    expect(c.name).toBe(`chat ${String(c.attributes['gen_ai.request.model'])}`);
  }
  expect([...new Set(chats.map((c) => c.attributes['llm.provider']))].sort()).toEqual([...providers].sort());
  // The calls that answered (early stop may cancel the last one) report their tokens and latency as recorded in the metadata.
  for (const used of result.metadata.providers.filter((p) => p.status === 'succeeded')) {
    const span = chats.find((c) => c.attributes['llm.provider'] === used.provider && c.attributes['gen_ai.usage.input_tokens'] !== undefined);
    expect(span, `${used.provider}'s chat span`).toBeDefined();
    expect(span!.attributes['gen_ai.usage.input_tokens']).toBe(used.tokensIn);
    expect(span!.attributes['gen_ai.usage.output_tokens']).toBe(used.tokensOut);
    expect(span!.attributes['gen_ai.response.model']).toBe(used.model);
    expect(span!.attributes['llm.latency_ms']).toBeGreaterThan(0);
  }

  const text = exportedText(spans);
  for (const secret of secrets) expect(text, `a span holds "${secret}"`).not.toContain(secret);
}

describe('OpenTelemetry traces', () => {
  it("the LLM judge's call is a provider-call span under selectConsensus, without the prompt or the candidates", async () => {
    const prompt = `Tracing judge ${run}: what is 8 * 8?`;
    const result = await stack.client.processRequest({ prompt, taskType: 'question_answering', userId: `judge-user-${run}`, requireConsensus: true, consensusStrategy: 'judge', requestId: `trace-judge-${run}` });
    expect(result.metadata.consensusStrategy).toBe('judge');
    const spans = await traceOf(result.metadata.workflowId);
    checkTree(result, spans, ['anthropic', 'google', 'openai'], [`Tracing judge ${run}`, result.response, `judge-user-${run}`]);
    const judged = spans.filter((s) => s.attributes['llm.purpose'] === 'judge');
    // Consensus runs after each answer (early stop), so the judge may be asked once or twice, depending on arrival order.
    expect(judged.length).toBeGreaterThanOrEqual(1);
    for (const span of judged) {
      expect(span.name).toBe('chat gpt-4o');
      const parent = spans.find((s) => id(s) === parentId(span));
      expect(parent?.name).toBe('RunActivity:selectConsensus');
      expect(span.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    }
  });

  it('a consensus request over three providers is one trace: client start, workflow, activities, provider calls', async () => {
    const prompt = `Tracing probe ${run}: what is 17 * 23?`;
    const userId = `trace-user-${run}`;
    const result = await stack.client.processRequest({ prompt, taskType: 'question_answering', userId, requireConsensus: true, requestId: `trace-consensus-${run}` });
    expect(result.response).toMatch(/391/);
    const spans = await traceOf(result.metadata.workflowId);
    checkTree(result, spans, ['anthropic', 'google', 'openai'], [`Tracing probe ${run}`, result.response, userId]);
    expect(named(spans, 'RunActivity:selectConsensus').length).toBeGreaterThanOrEqual(1);

    // A traced run replays deterministically through the same interceptors (their SdkFlags are in its history).
    const history = await stack.temporal.client.workflow.getHandle(result.metadata.workflowId).fetchHistory();
    const before = memory.getFinishedSpans().length;
    const worker = tracing.workerOptions();
    await Worker.runReplayHistory(
      { workflowsPath: WORKFLOWS_PATH, dataConverter: testDataConverter(), interceptors: { workflowModules: [WORKFLOW_INTERCEPTORS_PATH] }, ...(worker.sinks && { sinks: worker.sinks }) },
      history,
      result.metadata.workflowId,
    );
    // Replay exports nothing (the sink is not called during replay).
    expect(memory.getFinishedSpans().length).toBe(before);
  });

  it('a single-provider request is its own trace with one provider call', async () => {
    const prompt = `Tracing single ${run}: what is 6 * 7?`;
    const userId = `single-user-${run}`;
    const result = await stack.client.processRequest({ prompt, taskType: 'question_answering', userId, providers: ['google'], requestId: `trace-single-${run}` });
    const spans = await traceOf(result.metadata.workflowId);
    checkTree(result, spans, ['google'], [`Tracing single ${run}`, result.response, userId]);
    expect(named(spans, 'chat ' + result.metadata.providers[0]!.model)).toHaveLength(1);
    // Not the consensus request's trace.
    const consensus = memory.getFinishedSpans().find((s) => s.name === 'StartWorkflow:orchestrateRequest' && s.attributes.temporalWorkflowId === `llm-request-trace-consensus-${run}`);
    expect(consensus?.spanContext().traceId).not.toBe(spans[0]!.spanContext().traceId);
  });
});
