/**
 * Time to first token is stored, not only reported: through the real stack (dev server, real
 * worker with a stream bus, the emulator streaming over HTTP, SQLite), a streamed single-provider
 * request's ProviderCall row carries firstTokenMs (what metadata.providers[] reported, at most the
 * call's latency); a request that did not stream stores null. Read back both through the
 * repository and straight from the column.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestWorkflowId } from '../../src/constants';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { createLocalStreamBus } from '../../src/streaming/bus';
import type { OrchestrateRequest } from '../../src/types';
import { startStack, type TestStack } from '../helpers/stack';

const run = Date.now().toString(36);
let n = 0;
let stack: TestStack;
let db: DatabaseClient;

function request(extra: Partial<OrchestrateRequest> = {}): OrchestrateRequest {
  return {
    prompt: 'Why do distributed systems need consensus protocols? [[emulate:chunkms=5]]',
    taskType: 'question_answering',
    userId: 'user-first-token',
    requestId: `first-token-${run}-${n++}`,
    providers: ['openai:gpt-4o-mini'],
    minProviders: 1,
    requireConsensus: false,
    ...extra,
  };
}

beforeAll(async () => {
  stack = await startStack({ label: 'first-token', streamBus: createLocalStreamBus(), configure: (c) => ({ ...c, resilience: { ...c.resilience, cache: { ...c.resilience.cache, enabled: false } } }) });
  db = createPrismaClient(stack.databaseUrl);
});
afterAll(async () => {
  await db?.$disconnect();
  await stack?.close();
});

async function storedCalls(workflowId: string) {
  const stored = await stack.runtime.memory.getInteraction(workflowId);
  const rows = await db.providerCall.findMany({ where: { interaction: { workflowId } }, orderBy: { callIndex: 'asc' }, select: { firstTokenMs: true, latencyMs: true } });
  return { calls: stored?.providerCalls ?? [], rows };
}

describe('ProviderCall.firstTokenMs', () => {
  it('a streamed single-provider request stores its time to first token (> 0, what the metadata reported)', async () => {
    const req = request({ stream: true });
    const result = await stack.client.processRequest(req);
    const reported = result.metadata.providers[0]?.firstTokenMs;
    expect(reported).toEqual(expect.any(Number));

    const { calls, rows } = await storedCalls(requestWorkflowId(req.requestId!));
    expect(calls).toHaveLength(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.firstTokenMs).toBeGreaterThan(0);
    expect(rows[0]!.firstTokenMs).toBe(reported);
    expect(rows[0]!.firstTokenMs!).toBeLessThanOrEqual(rows[0]!.latencyMs!);
    expect(calls[0]!.firstTokenMs).toBe(reported);
  }, 60_000);

  it('a request that did not stream stores null', async () => {
    const req = request();
    const result = await stack.client.processRequest(req);
    expect(result.metadata.providers[0]?.firstTokenMs).toBeUndefined();
    const { calls, rows } = await storedCalls(requestWorkflowId(req.requestId!));
    expect(rows).toEqual([{ firstTokenMs: null, latencyMs: expect.any(Number) as unknown }]);
    expect(calls[0]!.firstTokenMs).toBeNull();
  }, 60_000);
});
