/**
 * The Temporal side of erasing a user: find the executions of the user's requests (visibility,
 * the `UserId` search attribute) and of given workflow ids, read every text their histories hold
 * (payloads decoded with the client's data converter, so encrypted histories are read too), and
 * delete them through WorkflowService.DeleteWorkflowExecution (a running one is terminated first
 * by the server). Deletion is asynchronous on the server: `waitUntilDeleted` polls
 * DescribeWorkflowExecution until NotFound.
 */
import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { LoadedDataConverter, Payload } from '@temporalio/common';
import { SearchAttributes } from '../constants';

/** gRPC status NOT_FOUND. */
const GRPC_NOT_FOUND = 5;

export interface ExecutionRef {
  workflowId: string;
  runId: string;
}

/** The server has no such execution (never had, or it was deleted). */
export function isNotFound(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof WorkflowNotFoundError) return true;
    if (isGrpcServiceError(e) && Number(e.code) === GRPC_NOT_FOUND) return true;
  }
  return false;
}

/** A double-quoted string literal of Temporal's list filter. */
export function visibilityString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `UserId = "<id>"`: the request workflows of a user (the workflow sets it at its start). */
export function userExecutionsQuery(userId: string): string {
  return `${SearchAttributes.userId.name} = ${visibilityString(userId)}`;
}

/** Up to `limit` executions (every run) matching a list filter. */
export async function listExecutions(client: Client, query: string, limit: number): Promise<ExecutionRef[]> {
  const out: ExecutionRef[] = [];
  for await (const info of client.workflow.list({ query, pageSize: Math.min(Math.max(limit, 1), 1000) })) {
    out.push({ workflowId: info.workflowId, runId: info.runId });
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Up to `limit` executions of the user's requests. A user id with a double quote or a backslash is
 * not matched by `UserId = "..."` on every visibility store (the dev server's SQLite store finds
 * nothing, however escaped): then the executions whose UserId starts with the part before that
 * character are listed and compared exactly here.
 */
export async function listUserExecutions(client: Client, userId: string, limit: number): Promise<ExecutionRef[]> {
  const special = userId.search(/["\\]/);
  if (special < 0) return listExecutions(client, userExecutionsQuery(userId), limit);
  const prefix = userId.slice(0, special);
  const query = prefix.length > 0 ? `${SearchAttributes.userId.name} STARTS_WITH ${visibilityString(prefix)}` : `${SearchAttributes.userId.name} IS NOT NULL`;
  const out: ExecutionRef[] = [];
  for await (const info of client.workflow.list({ query, pageSize: 1000 })) {
    if (info.typedSearchAttributes.get(SearchAttributes.userId) !== userId) continue;
    out.push({ workflowId: info.workflowId, runId: info.runId });
    if (out.length >= limit) break;
  }
  return out;
}

/** Every run of these workflow ids that visibility knows (chunks of `WorkflowId IN (...)`). */
export async function executionsOfWorkflowIds(client: Client, workflowIds: readonly string[]): Promise<ExecutionRef[]> {
  const out: ExecutionRef[] = [];
  for (let i = 0; i < workflowIds.length; i += 50) {
    const chunk = workflowIds.slice(i, i + 50);
    out.push(...(await listExecutions(client, `WorkflowId IN (${chunk.map(visibilityString).join(', ')})`, 10_000)));
  }
  return out;
}

function isPayload(value: object): value is Payload {
  const v = value as { data?: unknown; metadata?: unknown };
  return v.data instanceof Uint8Array && v.metadata !== null && typeof v.metadata === 'object';
}

async function decodePayload(converter: LoadedDataConverter, payload: Payload): Promise<unknown> {
  let decoded: Payload[] = [payload];
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return converter.payloadConverter.fromPayload(decoded[0]!);
}

/** Every string inside a value (object keys excluded). */
export function collectStrings(value: unknown, out: Set<string>, depth = 0): void {
  if (depth > 64) return;
  if (typeof value === 'string') {
    if (value.length > 0) out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectStrings(v, out, depth + 1);
    return;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) collectStrings(v, out, depth + 1);
  }
}

export interface HistoryTexts {
  /** False when the execution does not exist (any more). */
  found: boolean;
  /** Payloads that could not be decoded (e.g. encrypted with a key this process does not have). */
  undecodable: number;
}

/**
 * Add every string of every payload in the execution's history (inputs, results, signals, memo,
 * failures' details, summaries) to `out`. Payloads are found by shape wherever they sit in the
 * history's events, so no event type is missed.
 */
export async function collectHistoryTexts(client: Client, ref: ExecutionRef, out: Set<string>): Promise<HistoryTexts> {
  let history: unknown;
  try {
    history = await client.workflow.getHandle(ref.workflowId, ref.runId).fetchHistory();
  } catch (err) {
    if (isNotFound(err)) return { found: false, undecodable: 0 };
    throw err;
  }
  const converter = client.options.loadedDataConverter;
  const payloads: Payload[] = [];
  const seen = new Set<object>();
  const walk = (value: unknown, depth: number): void => {
    if (depth > 40 || value === null || typeof value !== 'object' || value instanceof Uint8Array || seen.has(value)) return;
    seen.add(value);
    if (isPayload(value)) {
      payloads.push(value);
      return;
    }
    for (const v of Array.isArray(value) ? value : Object.values(value)) walk(v, depth + 1);
  };
  walk(history, 0);
  let undecodable = 0;
  for (const payload of payloads) {
    try {
      collectStrings(await decodePayload(converter, payload), out);
    } catch {
      undecodable++;
    }
  }
  return { found: true, undecodable };
}

/** Ask the server to delete one run (terminated first when running). False: it did not exist. */
export async function deleteExecution(client: Client, ref: ExecutionRef): Promise<boolean> {
  try {
    await client.workflowService.deleteWorkflowExecution({ namespace: client.options.namespace, workflowExecution: { workflowId: ref.workflowId, runId: ref.runId } });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Whether the server still has the run (deletion is asynchronous). */
export async function executionExists(client: Client, ref: ExecutionRef): Promise<boolean> {
  try {
    await client.workflowService.describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId: ref.workflowId, runId: ref.runId } });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Poll until every run is gone or `timeoutMs` passed; returns the runs still there. */
export async function waitUntilDeleted(client: Client, refs: readonly ExecutionRef[], options: { timeoutMs: number; intervalMs?: number; onPoll?: () => void }): Promise<ExecutionRef[]> {
  const deadline = Date.now() + options.timeoutMs;
  let left = [...refs];
  for (;;) {
    const exists = await Promise.all(left.map((r) => executionExists(client, r)));
    left = left.filter((_, i) => exists[i]);
    options.onPoll?.();
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}
