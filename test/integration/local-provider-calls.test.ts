/**
 * `performance.provider_calls: local` (README "Provider-call modes"): the provider calls of a
 * route in `local` mode run as local activities in the worker. The answer has the same shape as in
 * `activity` mode; the history records each call as a local-activity marker instead of scheduling
 * an activity; retries and failover work; early stop and hedging are off in this mode (the calls go
 * in waves, so that a run replays: README "Provider-call modes"). One stack, `local` by default,
 * and one route that keeps `activity`, so the mode is chosen per route in the same worker.
 */
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema';
import type { OrchestrateRequest, OrchestrationResult } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';
import { testDataConverter, WORKFLOWS_PATH } from '../helpers/temporal';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = { ActivityTaskScheduled: 10, MarkerRecorded: 25 } as const;

const run = Date.now().toString(36);
let n = 0;
const rid = (label: string) => `local-${label}-${run}-${n++}`;
const qa = (prompt: string, extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({ prompt, taskType: 'question_answering', userId: 'user-local', requestId: rid('r'), ...extra });

let stack: TestStack;
/** Workflow ids of the requests run here, replayed at the end. */
const runs: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    label: 'local-calls',
    configure: (c): Config => ({
      ...c,
      performance: {
        ...c.performance,
        provider_calls: 'local',
        request_timeout: 30,
        models: Object.fromEntries(Object.keys(c.models).map((p) => [p, { max_concurrent: 20, timeout: 10, max_attempts: 3, initial_backoff_ms: 200 }])),
      },
      routing: {
        ...c.routing,
        // The same three providers as question_answering's default route, but durable per call.
        rules: [...c.routing.rules, { id: 'durable-qa', task_type: 'durable_qa', complexity: 'any', providers: ['openai', 'anthropic', 'google'], require_consensus: true, fallback: [], provider_calls: 'activity' }],
      },
      resilience: { ...c.resilience, circuit_breaker: { ...c.resilience.circuit_breaker, enabled: false }, hedging: { enabled: true, after: 'ms', delay_ms: 300 } },
    }),
  });
});

afterAll(async () => {
  await stack?.close();
});

async function historyOf(workflowId: string): Promise<HistoryEvent[]> {
  const history = await stack.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** The activity types of the local-activity markers (Core's marker data is plain JSON by design). */
function localActivityTypes(events: HistoryEvent[]): string[] {
  return events
    .filter((e) => Number(e.eventType) === EventType.MarkerRecorded && e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['data']?.payloads?.[0]?.data;
      return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type: string }).activity_type : '?';
    });
}

function scheduledActivityTypes(events: HistoryEvent[]): string[] {
  return events.filter((e) => Number(e.eventType) === EventType.ActivityTaskScheduled).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
}

function patchIds(events: HistoryEvent[]): string[] {
  return events
    .filter((e) => Number(e.eventType) === EventType.MarkerRecorded && e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id : '?';
    });
}

/** A result's shape: its keys, recursively, with array elements as one shape (values left out). */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shapeOf(v)]));
  return value === null ? null : typeof value;
}

describe('provider calls as local activities', () => {
  let local: OrchestrationResult;
  let durable: OrchestrationResult;

  it('answers a consensus request with the same result shape as activity mode', async () => {
    const prompt = 'What is 17 * 23? [[emulate:answer=correct]]';
    // minProviders 3: every answer is waited for (no early stop), so both runs call all three.
    local = await stack.client.processRequest(qa(prompt, { requireConsensus: true, minProviders: 3 }));
    durable = await stack.client.processRequest(qa(prompt, { taskType: 'durable_qa', minProviders: 3 }));
    for (const r of [local, durable]) {
      expect(r.response).toMatch(/391/);
      expect(r.metadata.providers.map((p) => [p.provider, p.status])).toEqual([
        ['openai', 'succeeded'],
        ['anthropic', 'succeeded'],
        ['google', 'succeeded'],
      ]);
    }
    // The same fields with the same types (routingRule names the durable route's rule, null on the default route).
    expect(shapeOf({ ...local, metadata: { ...local.metadata, routingRule: null } })).toEqual(shapeOf({ ...durable, metadata: { ...durable.metadata, routingRule: null } }));
    const stored = await stack.runtime.memory.getInteraction(local.metadata.workflowId);
    expect(stored).toMatchObject({ status: 'completed' });
    expect(stored!.providerCalls.map((c) => [c.provider, c.status, c.attempts])).toEqual([
      ['openai', 'succeeded', 1],
      ['anthropic', 'succeeded', 1],
      ['google', 'succeeded', 1],
    ]);
  });

  it('the history records local-activity markers for the provider calls, no scheduled activity; the activity route schedules them', async () => {
    const events = await historyOf(local.metadata.workflowId);
    expect(scheduledActivityTypes(events)).toEqual([]);
    expect(localActivityTypes(events).filter((t) => t === 'callProvider')).toHaveLength(3);
    expect(patchIds(events)).toContain('request-v5-local-calls');

    const durableEvents = await historyOf(durable.metadata.workflowId);
    expect(scheduledActivityTypes(durableEvents)).toEqual(['callProvider', 'callProvider', 'callProvider']);
    expect(localActivityTypes(durableEvents)).not.toContain('callProvider');
    // An activity-mode plan never asks for the patch.
    expect(patchIds(durableEvents)).not.toContain('request-v5-local-calls');
    // Fewer round trips through the server: fewer workflow tasks than the same request in activity mode.
    const tasks = (es: HistoryEvent[]) => es.filter((e) => e.workflowTaskCompletedEventAttributes).length;
    expect(tasks(events)).toBeLessThan(tasks(durableEvents));
  });

  it('retries a failing provider inside the local activity and records the attempts', async () => {
    const result = await stack.client.processRequest(qa('What is 6 * 7? [[emulate:500x1]]', { providers: ['openai'] }));
    runs.push(result.metadata.workflowId);
    expect(result.response).toMatch(/42/);
    expect(result.metadata.providers).toMatchObject([{ provider: 'openai', status: 'succeeded' }]);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(localActivityTypes(await historyOf(result.metadata.workflowId))).toContain('callProvider');
  });

  it('fails over after a non-retryable provider error (one attempt), as in activity mode', async () => {
    const result = await stack.client.processRequest(qa('Name a primary color. [[emulate@claude-haiku-4-5:401]]', { providers: ['anthropic', 'google'], minProviders: 1 }));
    runs.push(result.metadata.workflowId);
    expect(result.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['anthropic', 'failed', 'ProviderAuthError'],
      ['google', 'succeeded', null],
    ]);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls.find((c) => c.provider === 'anthropic')).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('waits for every call of the wave: no early stop in this mode (the straggler answers and is counted)', async () => {
    const result = await stack.client.processRequest(qa('What is 12 * 12? [[emulate:answer=correct]] [[emulate@gemini-2.0-flash:latency=1500]]', { requireConsensus: true }));
    expect(result.response).toMatch(/144/);
    expect(result.metadata.cancelledCalls).toBe(0);
    expect(result.metadata.providers.map((p) => [p.provider, p.status])).toEqual([
      ['openai', 'succeeded'],
      ['anthropic', 'succeeded'],
      ['google', 'succeeded'],
    ]);
    // One consensus, over all three answers, and no answer embedded ahead of it.
    const types = localActivityTypes(await historyOf(result.metadata.workflowId));
    expect(types.filter((t) => t === 'selectConsensus')).toHaveLength(1);
    expect(types).not.toContain('embedResponses');
    runs.push(result.metadata.workflowId);
  });

  it('no hedging in this mode: the slow call is waited for, no second candidate is started', async () => {
    const result = await stack.client.processRequest(qa('Name an ocean. [[emulate@claude-haiku-4-5:latency=1500]]', { providers: ['anthropic', 'google'], minProviders: 1 }));
    expect(result.metadata.hedgedCalls).toBe(0);
    expect(result.metadata.providers.map((p) => [p.provider, p.status])).toEqual([['anthropic', 'succeeded']]);
    runs.push(result.metadata.workflowId);
  });

  it("every run of this file replays deterministically from its history (local activities' results come back without their timing)", async () => {
    runs.push(local.metadata.workflowId, durable.metadata.workflowId);
    expect(runs.length).toBeGreaterThanOrEqual(6);
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} } });
    for (const workflowId of runs) {
      const history = await stack.temporal.client.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: testDataConverter() }, history, workflowId);
    }
  }, 180_000);
});
