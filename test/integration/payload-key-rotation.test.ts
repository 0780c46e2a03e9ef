/**
 * Key rotation, with the real worker program (`npm run worker`, in a namespace of its own):
 * requests made while the worker runs with PAYLOAD_KEYS=A; the worker restarted with
 * PAYLOAD_KEYS=B,A. The old histories replay and their results decode with [B, A]; new requests'
 * payloads carry key id B; a request started under A and picked up after the restart finishes
 * (its A input decodes, what the worker writes is B); a client with only [B] cannot read an old
 * result and is told it needs key A.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestratorClient } from '../../client/orchestrator-client';
import { replayHistories } from '../../client/replay';
import { loadEnv } from '../../src/config/env';
import { newPayloadKeyEntry } from '../../src/privacy/payload-keys';
import { dataConverterFor } from '../../src/temporal/data-converter';
import type { OrchestrationResult } from '../../src/types';
import { requiredService } from '../helpers/services';
import { ensureNamespace, spawnNpmWorker, type SpawnedWorker } from '../helpers/spawned-worker';

const NAMESPACE = 'payload-rotation-test';
const KEY_A = newPayloadKeyEntry(`rot-a-${Date.now().toString(36)}`);
const KEY_B = newPayloadKeyEntry(`rot-b-${Date.now().toString(36)}`);
const idOf = (entry: string) => entry.slice(0, entry.indexOf(':'));
const A = idOf(KEY_A);
const B = idOf(KEY_B);
const run = Date.now().toString(36);

const dir = mkdtempSync(join(tmpdir(), 'payload-rotation-'));
const databaseUrl = `file:${join(dir, 'worker.db')}`;
const workers: SpawnedWorker[] = [];
const clients: OrchestratorClient[] = [];
let raw: Client;
let rawConnection: Connection;

function clientWith(keys: string): Promise<OrchestratorClient> {
  const env = loadEnv({ TEMPORAL_ADDRESS: requiredService('TEST_TEMPORAL_ADDRESS'), TEMPORAL_NAMESPACE: NAMESPACE, PAYLOAD_KEYS: keys });
  return OrchestratorClient.connect({ env }).then((c) => (clients.push(c), c));
}

/** The key id of every payload of a history as stored (fetched without a codec), and how many payloads are plain. */
async function storedKeyIds(workflowId: string, runId?: string): Promise<{ keyIds: Set<string>; started: string | null; encrypted: number; plainUserPayloads: number }> {
  const history = await raw.workflow.getHandle(workflowId, runId).fetchHistory();
  const keyIds = new Set<string>();
  let encrypted = 0;
  let plainUserPayloads = 0;
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return;
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    const o = node as Record<string, unknown>;
    if (o['data'] instanceof Uint8Array && o['metadata'] && typeof o['metadata'] === 'object') {
      const m = o['metadata'] as Record<string, Uint8Array>;
      const text = (k: string) => (m[k] ? Buffer.from(m[k]).toString('utf8') : '');
      if (text('encoding') === 'binary/encrypted') {
        encrypted++;
        keyIds.add(text('encryption-key-id'));
      } else if (!/searchAttributes|markerRecordedEventAttributes\.details\.(data|patch-data)/.test(path)) plainUserPayloads++;
      return;
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
  };
  walk(history, '$');
  const startedPayload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const started = startedPayload?.metadata?.['encryption-key-id'] ? Buffer.from(startedPayload.metadata['encryption-key-id']).toString('utf8') : null;
  return { keyIds, started, encrypted, plainUserPayloads };
}

function encryptionLine(worker: SpawnedWorker): Record<string, unknown> | undefined {
  return worker.logLines().find((l) => l['msg'] === 'payload encryption');
}

beforeAll(async () => {
  await ensureNamespace(NAMESPACE);
  rawConnection = await Connection.connect({ address: requiredService('TEST_TEMPORAL_ADDRESS') });
  raw = new Client({ connection: rawConnection, namespace: NAMESPACE });
}, 300_000);

afterAll(async () => {
  for (const w of workers) w.kill();
  for (const c of clients) await c.close().catch(() => undefined);
  await rawConnection?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('payload key rotation (npm run worker, A then [B, A])', () => {
  it('old histories replay and decode after the restart, new payloads use B, only-B clients are told they need A', async () => {
    // 1. Key A.
    const workerA = await spawnNpmWorker(NAMESPACE, { DATABASE_URL: databaseUrl, PAYLOAD_KEYS: KEY_A });
    workers.push(workerA);
    expect(encryptionLine(workerA)).toMatchObject({ payloadEncryption: 'on', keyId: A, keyIds: [A], keySource: 'PAYLOAD_KEYS' });
    const clientA = await clientWith(KEY_A);
    const oldResults: OrchestrationResult[] = [];
    oldResults.push(await clientA.processRequest({ prompt: 'What is 17 * 23?', taskType: 'question_answering', userId: 'rot-user', requireConsensus: true, requestId: `rot-old-1-${run}` }));
    oldResults.push(await clientA.processRequest({ prompt: 'Name a prime number above 50.', taskType: 'question_answering', userId: 'rot-user', providers: ['openai'], requestId: `rot-old-2-${run}` }));
    const oldIds = oldResults.map((r) => r.metadata.workflowId);
    for (const id of oldIds) {
      const stored = await storedKeyIds(id);
      expect([...stored.keyIds]).toEqual([A]);
      expect(stored.encrypted).toBeGreaterThan(3);
      expect(stored.plainUserPayloads).toBe(0);
    }
    await workerA.stop();

    // 2. A request started under A while no worker runs: the restarted worker picks it up.
    const pending = await clientA.start({ prompt: 'What is 6 * 7?', taskType: 'question_answering', userId: 'rot-user', providers: ['openai'], requestId: `rot-pending-${run}` });

    // 3. Restart with [B, A].
    const workerBA = await spawnNpmWorker(NAMESPACE, { DATABASE_URL: databaseUrl, PAYLOAD_KEYS: `${KEY_B},${KEY_A}` });
    workers.push(workerBA);
    expect(encryptionLine(workerBA)).toMatchObject({ payloadEncryption: 'on', keyId: B, keyIds: [B, A], keySource: 'PAYLOAD_KEYS' });
    const clientBA = await clientWith(`${KEY_B},${KEY_A}`);

    // Old results decode with [B, A]; old histories replay against the current code with [B, A].
    for (const [i, id] of oldIds.entries()) expect(await clientBA.getResult(id)).toEqual(oldResults[i]);
    const replayed = await replayHistories({ sources: oldIds, client: clientBA.client, dataConverter: dataConverterFor(loadEnv({ PAYLOAD_KEYS: `${KEY_B},${KEY_A}` })) });
    expect(replayed.results.map((r) => ({ id: r.workflowId, ok: r.ok, error: r.error?.message ?? null }))).toEqual(oldIds.map((id) => ({ id, ok: true, error: null })));

    // The pending request: its input was written with A, everything after the restart with B.
    const pendingResult = await clientBA.getResult(pending.workflowId);
    expect(pendingResult.response).toMatch(/42/);
    const mixed = await storedKeyIds(pending.workflowId);
    expect(mixed.started).toBe(A);
    expect([...mixed.keyIds].sort()).toEqual([A, B].sort());

    // New requests: every payload B, from the client's start to the worker's result.
    const fresh = await clientBA.processRequest({ prompt: 'What is 12 + 30?', taskType: 'question_answering', userId: 'rot-user', requireConsensus: true, requestId: `rot-new-${run}` });
    expect(fresh.response).toMatch(/42/);
    const stored = await storedKeyIds(fresh.metadata.workflowId);
    expect([...stored.keyIds]).toEqual([B]);
    expect(stored.started).toBe(B);
    expect(stored.plainUserPayloads).toBe(0);
    const replayedNew = await replayHistories({ sources: [fresh.metadata.workflowId, pending.workflowId], client: clientBA.client, dataConverter: dataConverterFor(loadEnv({ PAYLOAD_KEYS: `${KEY_B},${KEY_A}` })) });
    expect(replayedNew.ok).toBe(true);

    // A client that has only B: the new result reads, an old one fails naming key A.
    const clientB = await clientWith(KEY_B);
    expect(await clientB.getResult(fresh.metadata.workflowId)).toEqual(fresh);
    const refused = await clientB.getResult(oldIds[0]!).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(refused?.message).toMatch(new RegExp(`payload is encrypted with key '${A}', which is not among the configured keys \\(${B}\\): add it to PAYLOAD_KEYS`));
    const replayOnlyB = await replayHistories({ sources: [oldIds[0]!], client: clientB.client, dataConverter: dataConverterFor(loadEnv({ PAYLOAD_KEYS: KEY_B })) });
    expect(replayOnlyB.ok).toBe(false);
    expect(replayOnlyB.results[0]?.error?.detail).toContain(`'${A}'`);

    // The keys themselves were never logged.
    for (const w of [workerA, workerBA]) {
      expect(w.output()).not.toContain(KEY_A.split(':')[1]);
      expect(w.output()).not.toContain(KEY_B.split(':')[1]);
    }
    await workerBA.stop();
  }, 600_000);
});
