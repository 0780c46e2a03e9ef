import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestWorkflowId } from '../../src/constants';
import { createPrismaClient, type DatabaseClient } from '../../src/memory/client';
import { applyMigrations } from '../../src/memory/migrate';
import { createMemoryStore, type InteractionRecord, type MemoryStore, type ProviderCallRecord } from '../../src/memory/repository';
import { scratchPostgres, scratchSqlite, type ScratchDatabase } from './scratch-databases';

function providerCall(callIndex: number, overrides: Partial<ProviderCallRecord> = {}): ProviderCallRecord {
  return {
    callIndex,
    provider: callIndex % 2 === 0 ? 'openai' : 'anthropic',
    model: callIndex % 2 === 0 ? 'gpt-4o-mini' : 'claude-3-5-haiku',
    attempts: 1,
    status: 'succeeded',
    hedged: callIndex === 1,
    errorType: null,
    errorMessage: null,
    latencyMs: 120.5 + callIndex,
    // Streamed calls carry their time to first token; the others store null.
    firstTokenMs: callIndex === 0 ? 35.5 : null,
    tokensIn: 10 + callIndex,
    tokensOut: 20 + callIndex,
    costUsd: 0.000125 * (callIndex + 1),
    finishReason: 'stop',
    providerRequestId: `req_${callIndex}`,
    ...overrides,
  };
}

function interaction(requestId: string, overrides: Partial<InteractionRecord> = {}): InteractionRecord {
  return {
    workflowId: requestWorkflowId(requestId),
    requestId,
    userId: 'user-ada',
    taskType: 'summarize',
    complexity: 'medium',
    complexityScore: 0.42,
    prompt: 'Summarise the attached notes in three bullet points. ünïcødé ✓',
    systemPrompt: null,
    response: '- one\n- two\n- three',
    confidence: 0.87,
    agreement: 0.75,
    consensusStrategy: 'lexical',
    consensusApplied: true,
    status: 'completed',
    errorType: null,
    errorMessage: null,
    routingPolicyVersion: 1,
    routingRule: 'summaries-to-cheap-models',
    routingDecision: { policyVersion: 1, ranking: ['openai:gpt-4o-mini', 'anthropic:claude-3-5-haiku'], chosen: 'openai:gpt-4o-mini', explored: false },
    thresholdMet: true,
    lowConfidence: false,
    dissenting: ['anthropic'],
    consensusDetails: { strategy: 'lexical', support: 2 },
    cancelledCalls: 0,
    latencySavedMs: null,
    cacheHit: false,
    experimentId: null,
    variant: null,
    providersUsed: ['openai:gpt-4o-mini', 'anthropic:claude-3-5-haiku'],
    tokensIn: 21,
    tokensOut: 41,
    costUsd: 0.000375,
    processingTimeMs: 1834,
    startedAt: '2026-01-02T03:04:05.678Z',
    completedAt: '2026-01-02T03:04:07.512Z',
    providerCalls: [
      providerCall(0),
      providerCall(1),
      providerCall(2, { status: 'failed', attempts: 3, errorType: 'ProviderRateLimited', errorMessage: '429 Too Many Requests', latencyMs: null, tokensIn: 0, tokensOut: 0, costUsd: 0, finishReason: null, providerRequestId: null }),
    ],
    ...overrides,
  };
}

/** The stored form minus the columns the database fills in. */
function withoutGenerated<T extends { id: string; createdAt: string; providerCalls?: { id: string; createdAt: string }[] }>(stored: T) {
  const { id: _id, createdAt: _createdAt, providerCalls, ...rest } = stored;
  return { ...rest, ...(providerCalls ? { providerCalls: providerCalls.map(({ id: _i, createdAt: _c, ...call }) => call) } : {}) };
}

const providers: { name: string; open: () => Promise<ScratchDatabase> }[] = [
  { name: 'SQLite', open: () => Promise.resolve(scratchSqlite()) },
  { name: 'PostgreSQL', open: () => scratchPostgres('repo') },
];

describe.each(providers)('memory store on $name', ({ open }) => {
  let db: ScratchDatabase | undefined;
  let store: MemoryStore;
  let raw: DatabaseClient;

  beforeAll(async () => {
    db = await open();
    await applyMigrations(db.url);
    store = createMemoryStore(db.url);
    raw = createPrismaClient(db.url);
  });
  afterAll(async () => {
    await store?.close();
    await raw?.$disconnect();
    await db?.drop();
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('round-trips an interaction with its provider calls', async () => {
    const record = interaction('roundtrip-1', { systemPrompt: 'Be brief.' });
    await store.persistInteraction(record);
    const stored = await store.getInteraction(record.workflowId);
    expect(stored).not.toBeNull();
    expect(withoutGenerated(stored!)).toEqual(record);
    expect(stored!.id).toEqual(expect.any(String));
    expect(Number.isNaN(Date.parse(stored!.createdAt))).toBe(false);
    expect(await store.getInteraction(requestWorkflowId('never-written'))).toBeNull();
  });

  it('accepts Date timestamps (a direct call) as well as ISO strings (after the Temporal wire)', async () => {
    const record = interaction('dates-1', { startedAt: new Date('2026-03-04T05:06:07.089Z'), completedAt: new Date('2026-03-04T05:06:09.001Z') });
    await store.persistInteraction(record);
    const stored = await store.getInteraction(record.workflowId);
    expect(stored).toMatchObject({ startedAt: '2026-03-04T05:06:07.089Z', completedAt: '2026-03-04T05:06:09.001Z' });
  });

  it('persistInteraction is idempotent: twice (and concurrently) leaves one row and N calls', async () => {
    const record = interaction('idempotent-1');
    await store.persistInteraction(record);
    await store.persistInteraction(record);
    await Promise.all([store.persistInteraction(record), store.persistInteraction(record), store.persistInteraction(record)]);

    expect(await raw.interaction.count({ where: { workflowId: record.workflowId } })).toBe(1);
    const row = await raw.interaction.findUniqueOrThrow({ where: { workflowId: record.workflowId } });
    const calls = await raw.providerCall.findMany({ where: { interactionId: row.id }, orderBy: { callIndex: 'asc' } });
    expect(calls.map((c) => c.callIndex)).toEqual([0, 1, 2]);
    expect(withoutGenerated((await store.getInteraction(record.workflowId))!)).toEqual(record);
  });

  it('a repeated write with different content replaces the row and its set of calls', async () => {
    const first = interaction('replace-1');
    await store.persistInteraction(first);
    const second = interaction('replace-1', {
      status: 'failed',
      response: null,
      errorType: 'InsufficientResponses',
      errorMessage: 'only 1 of 2 providers answered',
      // A failed request has no consensus: the JSON columns are cleared, not left as they were.
      routingDecision: null,
      consensusDetails: null,
      thresholdMet: null,
      providerCalls: [providerCall(0, { model: 'gpt-4o' }), providerCall(1, { status: 'cancelled', errorType: 'Cancelled', latencyMs: null })],
    });
    await store.persistInteraction(second);
    expect(await raw.interaction.count({ where: { workflowId: first.workflowId } })).toBe(1);
    expect(withoutGenerated((await store.getInteraction(first.workflowId))!)).toEqual(second);
  });

  it('never overwrites a row another run of the workflow id wrote; its own run rewrites it', async () => {
    const first = interaction('runs-1', { runId: 'run-a', queuedMs: 12 });
    expect(await store.persistInteraction(first)).toEqual({ stored: true });
    // The same run again (a retried persist): replaced as before.
    expect(await store.persistInteraction({ ...first, response: 'rewritten by run-a' })).toEqual({ stored: true });
    // A later run of the same workflow id: kept as it is, calls and cost included.
    const later = interaction('runs-1', { runId: 'run-b', response: 'from run b', costUsd: 9, providerCalls: [providerCall(0, { model: 'gpt-4o' })] });
    expect(await store.persistInteraction(later)).toEqual({ stored: false, existingRunId: 'run-a' });
    const stored = await store.getInteraction(first.workflowId);
    expect(withoutGenerated(stored!)).toEqual({ ...first, response: 'rewritten by run-a' });
    // A record without a run (older workflow code) does not overwrite a run's row either.
    expect(await store.persistInteraction(interaction('runs-1'))).toEqual({ stored: false, existingRunId: 'run-a' });
  });

  it('storedRun returns the stored result and fingerprint, or rebuilds the result of an older row', async () => {
    const fingerprint = { v: 1 as const, fields: Object.fromEntries(['prompt', 'systemPrompt', 'userId', 'taskType', 'requireConsensus', 'minProviders', 'complexityOverride', 'providers', 'consensusStrategy', 'temperature', 'maxTokens'].map((f) => [f, `h-${f}`])) as never };
    const record = interaction('stored-run-1', { runId: 'run-1', requestFingerprint: fingerprint });
    const result = { response: record.response!, metadata: { workflowId: record.workflowId, costUsd: record.costUsd, queuedMs: 3 } } as never;
    await store.persistInteraction({ ...record, result });
    expect(await store.storedRun(record.workflowId)).toMatchObject({ runId: 'run-1', status: 'completed', fingerprint, result });

    const older = interaction('stored-run-2');
    await store.persistInteraction(older);
    const rebuilt = await store.storedRun(older.workflowId);
    expect(rebuilt).toMatchObject({ runId: null, fingerprint: null, request: { prompt: older.prompt, userId: older.userId, taskType: older.taskType } });
    expect(rebuilt!.result).toMatchObject({ response: older.response, metadata: { workflowId: older.workflowId, costUsd: older.costUsd, providersUsed: older.providersUsed } });
    expect(rebuilt!.result!.metadata.providers).toHaveLength(older.providerCalls.length);

    const failed = interaction('stored-run-3', { status: 'failed', response: null, errorType: 'InsufficientResponses', errorMessage: 'none answered' });
    await store.persistInteraction(failed);
    expect(await store.storedRun(failed.workflowId)).toMatchObject({ status: 'failed', errorType: 'InsufficientResponses', errorMessage: 'none answered', result: null });
    expect(await store.storedRun(requestWorkflowId('never-ran'))).toBeNull();
  });

  it('rejects an invalid record and writes nothing', async () => {
    const bad = interaction('invalid-1', { providerCalls: [providerCall(0), providerCall(0)] });
    await expect(store.persistInteraction(bad)).rejects.toThrow(/callIndex values must be unique/);
    const notIso = interaction('invalid-2', { startedAt: 'yesterday' });
    await expect(store.persistInteraction(notIso)).rejects.toThrow();
    expect(await raw.interaction.count({ where: { workflowId: { in: [bad.workflowId, notIso.workflowId] } } })).toBe(0);
  });

  it('lists interactions newest first, filtered by user and task type', async () => {
    await store.persistInteraction(interaction('list-a', { userId: 'user-list', taskType: 'code' }));
    await new Promise((r) => setTimeout(r, 5));
    await store.persistInteraction(interaction('list-b', { userId: 'user-list', taskType: 'qa' }));
    await new Promise((r) => setTimeout(r, 5));
    await store.persistInteraction(interaction('list-c', { userId: 'user-list', taskType: 'code' }));

    const all = await store.listInteractions({ userId: 'user-list', limit: 10 });
    expect(all.map((i) => i.requestId)).toEqual(['list-c', 'list-b', 'list-a']);
    expect(all[0]).not.toHaveProperty('providerCalls');
    const code = await store.listInteractions({ userId: 'user-list', taskType: 'code', limit: 10 });
    expect(code.map((i) => i.requestId)).toEqual(['list-c', 'list-a']);
    expect((await store.listInteractions({ userId: 'user-list', limit: 1 })).map((i) => i.requestId)).toEqual(['list-c']);
    expect(await store.listInteractions({ userId: 'nobody', limit: 5 })).toEqual([]);
    await expect(store.listInteractions({ limit: 0 })).rejects.toThrow(RangeError);
  });

  it('records routing policy versions, distinct numbers under concurrency', async () => {
    expect(await store.latestPolicyVersion()).toBeNull();
    const policy = { rules: [{ id: 'summaries-to-cheap-models', when: { taskType: 'summarize' }, use: ['openai:gpt-4o-mini'] }], default: ['anthropic'] };
    expect(await store.recordPolicyVersion({ policy, configHash: 'hash-a', source: 'config.yaml', reason: 'seed' })).toBe(1);

    // recordPolicyVersion always appends, even for a known hash; concurrent calls get distinct numbers.
    const recorded = await Promise.all(
      Array.from({ length: 4 }, (_, i) => store.recordPolicyVersion({ policy: { step: i }, configHash: 'hash-b', source: 'update:ops', reason: `manual ${i}` })),
    );
    expect([...recorded].sort()).toEqual([2, 3, 4, 5]);
    expect(await raw.routingPolicyVersion.count()).toBe(5);

    const latest = await store.latestPolicyVersion();
    expect(latest).toMatchObject({ version: 5, configHash: 'hash-b', source: 'update:ops' });
    expect(latest!.policy).toEqual({ step: recorded.indexOf(5) });
  });
});
