/**
 * Real workflows on the real test dev server with a real worker, the real SDK connectors talking
 * HTTP to the provider emulator, and a real SQLite database.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InsufficientResponses, InvalidRequest, ModelProviderNotFound } from '../../src/errors';
import { SearchAttributes } from '../../src/constants';
import { openStatsQueries, type StatsQueriesHandle } from '../../src/memory/stats-queries';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
let statsQueries: StatsQueriesHandle | null = null;
const run = `${Date.now().toString(36)}`;
const queries = () => (statsQueries ??= openStatsQueries(stack.databaseUrl));

beforeAll(async () => {
  stack = await startStack({ label: 'e2e' });
});
afterAll(async () => {
  await statsQueries?.close();
  await stack?.close();
});

describe('orchestrateRequest end to end', () => {
  it('answers with consensus across three providers, records search attributes and database rows', async () => {
    const requestId = `e2e-consensus-${run}`;
    const result = await stack.client.processRequest({
      prompt: 'What is 17 * 23?',
      taskType: 'question_answering',
      userId: 'user-e2e',
      requireConsensus: true,
      requestId,
    });
    const m = result.metadata;
    expect(m.workflowId).toBe(`llm-request-${requestId}`);
    // Early stop may cancel the last of three once two agree: every call either answered or was cancelled.
    expect(m.providers.map((p) => p.provider).sort()).toEqual(['anthropic', 'google', 'openai']);
    expect(m.providersUsed.length).toBeGreaterThanOrEqual(2);
    expect(m.providers.filter((p) => p.status === 'cancelled')).toHaveLength(m.cancelledCalls);
    expect(m.consensusApplied).toBe(true);
    expect(m.consensusStrategy).toBe('similarity');
    // thresholdMet includes consensus.confidence_threshold, so it never contradicts lowConfidence.
    expect(m.thresholdMet).toBe(!m.lowConfidence);
    expect(m.consensusDetails).toMatchObject({ strategy: 'similarity' });
    expect(m.confidence).toBeGreaterThan(0);
    expect(result.response).toMatch(/391/);
    expect(m.tokensIn).toBeGreaterThan(0);
    expect(m.costUsd).toBeGreaterThan(0);
    expect(m.providers).toHaveLength(3);
    for (const p of m.providers.filter((x) => x.status === 'succeeded')) expect(p.latencyMs).toBeGreaterThan(0);
    expect(m.routingPolicyVersion).toBe(stack.runtime.routingPolicyVersion);

    const described = await stack.temporal.client.workflow.getHandle(m.workflowId).describe();
    const sa = described.typedSearchAttributes;
    expect(sa.get(SearchAttributes.taskType)).toBe('question_answering');
    expect(sa.get(SearchAttributes.userId)).toBe('user-e2e');
    expect(sa.get(SearchAttributes.complexity)).toBe(m.complexity);
    expect(sa.get(SearchAttributes.requestStatus)).toBe('completed');

    const stored = await stack.runtime.memory.getInteraction(m.workflowId);
    expect(stored).not.toBeNull();
    expect(stored!.status).toBe('completed');
    expect(stored!.response).toBe(result.response);
    expect(stored!.providerCalls).toHaveLength(3);
    expect(stored!.costUsd).toBeCloseTo(m.costUsd, 8);
    expect(stored!.providerCalls.filter((c) => c.status === 'succeeded').every((c) => c.tokensIn > 0 && c.providerRequestId)).toBe(true);
    // Flagged exactly when the chosen answer's support is below consensus.confidence_threshold (0.7).
    expect(m.lowConfidence).toBe(m.confidence! < stack.config.consensus.confidence_threshold);
    expect(stored).toMatchObject({ thresholdMet: !m.lowConfidence, lowConfidence: m.lowConfidence, cancelledCalls: m.cancelledCalls, consensusDetails: { strategy: 'similarity' } });
  });

  it('stops early: a slow third provider is cancelled once two agree, and the database says so', async () => {
    const started = Date.now();
    const result = await stack.client.processRequest({
      prompt: 'What is 12 * 12? [[emulate@gemini-2.0-flash:latency=6000]]',
      taskType: 'question_answering',
      userId: 'user-e2e',
      requireConsensus: true,
      requestId: `e2e-early-stop-${run}`,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    const m = result.metadata;
    expect(result.response).toMatch(/144/);
    expect(m.cancelledCalls).toBe(1);
    expect(m.providers.find((p) => p.provider === 'google')).toMatchObject({ status: 'cancelled', costUsd: 0 });
    expect(m.providersUsed.sort()).toEqual(['anthropic', 'openai']);
    const stored = await stack.runtime.memory.getInteraction(m.workflowId);
    expect(stored).toMatchObject({ cancelledCalls: 1 });
    expect(stored!.providerCalls.find((c) => c.provider === 'google')?.status).toBe('cancelled');
  });

  it('takes the consensus strategy from the request, and rejects an unknown one before calling anyone', async () => {
    const voted = await stack.client.processRequest({
      prompt: 'What is 9 * 7?',
      taskType: 'question_answering',
      userId: 'user-e2e',
      requireConsensus: true,
      consensusStrategy: 'voting',
    });
    expect(voted.metadata.consensusStrategy).toBe('voting');
    expect(voted.metadata.consensusDetails).toMatchObject({ strategy: 'voting' });
    expect(voted.response).toMatch(/63/);

    const requestId = `e2e-bad-strategy-${run}`;
    const err = await stack.client
      .processRequest({ prompt: 'What is 1 + 1?', taskType: 'question_answering', userId: 'user-e2e', consensusStrategy: 'no_such_strategy', requestId })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequest);
    expect((err as Error).message).toMatch(/unknown consensus strategy "no_such_strategy" \(registered: .*similarity/);
    expect(await stack.runtime.memory.getInteraction(`llm-request-${requestId}`)).toBeNull();
  });

  it('is findable with a visibility query on the custom search attributes', async () => {
    const userId = `user-list-${run}`;
    const { workflowId } = await stack.client.start({ prompt: 'Name a primary color.', taskType: 'question_answering', userId });
    await stack.client.getResult(workflowId);
    // Visibility is eventually consistent: poll briefly.
    let rows: Awaited<ReturnType<typeof stack.client.list>> = [];
    for (let i = 0; i < 40 && rows.length === 0; i++) {
      rows = await stack.client.list({ query: `UserId = "${userId}" AND RequestStatus = "completed"` });
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(rows.map((r) => r.workflowId)).toEqual([workflowId]);
    expect(rows[0]).toMatchObject({ taskType: 'question_answering', status: 'COMPLETED' });
  });

  it('runs a resubmitted request id once', async () => {
    const input = { prompt: 'Define idempotency.', taskType: 'question_answering', userId: 'user-e2e', requestId: `e2e-idem-${run}` };
    const first = await stack.client.processRequest(input);
    const again = await stack.client.start(input);
    expect(again.workflowId).toBe(first.metadata.workflowId);
    expect(again.started).toBe(false);
    expect(await stack.client.getResult(again.workflowId)).toEqual(first);
    const rows = await stack.runtime.memory.listInteractions({ userId: 'user-e2e', limit: 100 });
    expect(rows.filter((r) => r.workflowId === first.metadata.workflowId)).toHaveLength(1);
  });

  it('refuses bad input before any workflow starts, leaving nothing behind', async () => {
    const requestId = `e2e-bad-${run}`;
    await expect(stack.client.start({ prompt: '  ', taskType: 'question_answering', userId: 'u', requestId })).rejects.toBeInstanceOf(InvalidRequest);
    await expect(stack.client.start({ prompt: 'hi', taskType: 'question_answering', userId: 'u', requestId, providers: ['mistral'] })).rejects.toBeInstanceOf(ModelProviderNotFound);
    await expect(stack.client.start({ prompt: 'hi', taskType: 'question_answering', userId: 'u', requestId, minProviders: 9 })).rejects.toThrow(/minProviders/);
    await expect(stack.temporal.client.workflow.getHandle(`llm-request-${requestId}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(await stack.runtime.memory.getInteraction(`llm-request-${requestId}`)).toBeNull();
  });

  it('retries a provider error through Temporal and records the attempts', async () => {
    const result = await stack.client.processRequest({
      prompt: 'What is 6 * 7? [[emulate:500x1]]',
      taskType: 'question_answering',
      userId: 'user-e2e',
      providers: ['openai'],
      requestId: `e2e-retry-${run}`,
    });
    expect(result.response).toMatch(/42/);
    const stored = await stack.runtime.memory.getInteraction(result.metadata.workflowId);
    expect(stored!.providerCalls).toHaveLength(1);
    expect(stored!.providerCalls[0]).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('fails with a typed InsufficientResponses when the only provider refuses the key', async () => {
    const requestId = `e2e-401-${run}`;
    const attempt = stack.client.processRequest({ prompt: 'Hello [[emulate:401]]', taskType: 'question_answering', userId: 'user-e2e', providers: ['anthropic'], requestId });
    await expect(attempt).rejects.toBeInstanceOf(InsufficientResponses);
    await expect(attempt).rejects.toThrow(/ProviderAuthError/);
    const stored = await stack.runtime.memory.getInteraction(`llm-request-${requestId}`);
    expect(stored).toMatchObject({ status: 'failed', errorType: 'InsufficientResponses' });
    // Non-retryable: exactly one attempt.
    expect(stored!.providerCalls[0]).toMatchObject({ status: 'failed', errorType: 'ProviderAuthError' });
  });

  it('records feedback on an answer through the worker; bad feedback is refused with a typed error', async () => {
    const result = await stack.client.processRequest({ prompt: 'Name a prime number.', taskType: 'question_answering', userId: 'user-e2e', requireConsensus: false });
    const stored = await stack.client.submitFeedback({ workflowId: result.metadata.workflowId, score: 0.9, comment: 'right', source: 'test:e2e' });
    const rows = await queries().providerCallRows({ since: null, limit: 1000 });
    const row = rows.find((r) => r.provider === result.metadata.providersUsed[0] && r.feedback !== null);
    expect(row?.feedback).toBeCloseTo(0.9, 9);
    expect(stored.interactionId).toBe((await stack.runtime.memory.getInteraction(result.metadata.workflowId))!.id);

    await expect(stack.client.submitFeedback({ workflowId: result.metadata.workflowId, score: 1.5 })).rejects.toThrow(/score must be in \[0, 1\]/);
    const unknown = await stack.client.submitFeedback({ workflowId: 'llm-request-does-not-exist', score: 1 }).then(() => null, (e: unknown) => e);
    expect(unknown).toBeInstanceOf(InvalidRequest);
    expect((unknown as Error).message).toMatch(/no finished request with workflow id "llm-request-does-not-exist"/);
  });
});

