/**
 * Workflow logic with mocked activities, on the real test dev server: fan-out, failover,
 * consensus wiring, metadata arithmetic, and InsufficientResponses.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities, CallProviderInput, ConsensusInput } from '../../activities';
import type { InteractionRecord } from '../../src/memory/repository';
import type { OrchestrateRequest, ProviderTarget, RoutePlan } from '../../src/types';
import { orchestrateRequest } from '../../workflows';
import { connectTestTemporal, WORKFLOWS_PATH, type TemporalTestContext } from '../helpers/temporal';

let t: TemporalTestContext;
beforeAll(async () => {
  t = await connectTestTemporal('wf-mocked');
});
afterAll(async () => {
  await t?.close();
});

function target(provider: string, model = `${provider}-model`): ProviderTarget {
  return { provider, model, timeoutMs: 5_000, maxAttempts: 2, initialBackoffMs: 100 };
}

function basePlan(overrides: Partial<RoutePlan> = {}): RoutePlan {
  return {
    complexity: 'medium',
    complexityScore: 0.4,
    complexitySource: 'evaluator',
    complexityFeatures: { words: 3 },
    targets: [target('a'), target('b'), target('c')],
    fallbacks: [],
    minProviders: 2,
    requireConsensus: true,
    consensusStrategy: 'lexical',
    ruleId: 'rule-x',
    routingPolicyVersion: 7,
    ...overrides,
  };
}

interface Recorder {
  calls: CallProviderInput[];
  consensus: ConsensusInput[];
  persisted: InteractionRecord[];
}

/** Mock activities: providers listed in `failing` fail non-retryably with a 401-like failure. */
function mockActivities(plan: RoutePlan, failing: Set<string>, rec: Recorder): Activities {
  return {
    async planRequest() {
      return plan;
    },
    async callProvider(input: CallProviderInput) {
      rec.calls.push(input);
      if (failing.has(input.target.provider)) throw ApplicationFailure.nonRetryable('bad key', 'ProviderAuthError');
      const n = input.target.provider.charCodeAt(0);
      return {
        attempts: 1,
        response: {
          content: `answer from ${input.target.provider}`,
          provider: input.target.provider,
          model: input.target.model,
          tokensIn: 10 * n,
          tokensOut: n,
          latencyMs: n,
          finishReason: 'stop',
          providerRequestId: `req-${input.target.provider}`,
          confidence: null,
          costUsd: 0.001,
        },
      };
    },
    async selectConsensus(input: ConsensusInput) {
      rec.consensus.push(input);
      return { chosenIndex: input.responses.length - 1, confidence: 0.9, agreement: 0.8, dissenting: [0] };
    },
    async persistInteraction(record: InteractionRecord) {
      rec.persisted.push(record);
    },
  };
}

async function run(plan: RoutePlan, failing: string[], id: string) {
  const rec: Recorder = { calls: [], consensus: [], persisted: [] };
  const worker = await Worker.create({
    connection: t.nativeConnection,
    taskQueue: t.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: mockActivities(plan, new Set(failing), rec),
  });
  const request: OrchestrateRequest = { prompt: 'What is 2+2?', taskType: 'qa', userId: 'u-mock', requestId: id };
  const outcome = await worker.runUntil(
    t.client.workflow
      .execute(orchestrateRequest, { taskQueue: t.taskQueue, workflowId: `${t.taskQueue}-${id}`, args: [request] })
      .then((result) => ({ result, error: null }), (error: unknown) => ({ result: null, error })),
  );
  return { ...outcome, rec };
}

describe('orchestrateRequest (mocked activities)', () => {
  it('fans out in parallel, applies consensus, sums usage and persists once', async () => {
    const { result, error, rec } = await run(basePlan(), [], 'all-ok');
    expect(error).toBeNull();
    expect(rec.calls.map((c) => c.target.provider).sort()).toEqual(['a', 'b', 'c']);
    expect(rec.consensus).toHaveLength(1);
    expect(result!.response).toBe('answer from c');
    const m = result!.metadata;
    expect(m).toMatchObject({ consensusApplied: true, consensusStrategy: 'lexical', confidence: 0.9, dissenting: ['a'], routingPolicyVersion: 7, routingRule: 'rule-x', complexity: 'medium' });
    expect(m.providersUsed).toEqual(['a', 'b', 'c']);
    expect(m.tokensIn).toBe(10 * (97 + 98 + 99));
    expect(m.costUsd).toBeCloseTo(0.003, 9);
    expect(rec.persisted).toHaveLength(1);
    expect(rec.persisted[0]).toMatchObject({ status: 'completed', response: 'answer from c', consensusApplied: true });
    expect(rec.persisted[0]!.providerCalls.map((c) => c.callIndex)).toEqual([0, 1, 2]);
  });

  it('fails over down the chain when a provider fails for good', async () => {
    const plan = basePlan({ targets: [target('a')], fallbacks: [target('b'), target('c')], minProviders: 1, requireConsensus: false });
    const { result, rec } = await run(plan, ['a'], 'failover');
    expect(rec.calls.map((c) => c.target.provider)).toEqual(['a', 'b']);
    expect(result!.response).toBe('answer from b');
    expect(result!.metadata.consensusApplied).toBe(false);
    expect(result!.metadata.confidence).toBeNull();
    expect(result!.metadata.providers.map((p) => [p.provider, p.status, p.errorType])).toEqual([
      ['a', 'failed', 'ProviderAuthError'],
      ['b', 'succeeded', null],
    ]);
  });

  it('fails with InsufficientResponses naming what was tried, and records the failure', async () => {
    const plan = basePlan({ targets: [target('a'), target('b')], fallbacks: [target('c')], minProviders: 2 });
    const { error, rec } = await run(plan, ['a', 'c'], 'insufficient');
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InsufficientResponses');
    expect((cause as ApplicationFailure).message).toMatch(/1 of 2 required.*a:a-model failed \(ProviderAuthError/);
    expect(rec.calls.map((c) => c.target.provider)).toEqual(['a', 'b', 'c']);
    expect(rec.persisted).toHaveLength(1);
    expect(rec.persisted[0]).toMatchObject({ status: 'failed', errorType: 'InsufficientResponses', response: null });
  });
});
