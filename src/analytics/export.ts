/**
 * exportMetrics: the interactions of the last `days` and their provider calls, streamed to a file.
 *
 * - Reads are keyset-paged (completedAt, id), `pageSize` interactions (default 500) with their calls
 *   and feedback scores per query: memory is bounded by the page, not by the table.
 * - Writes go through a stream with backpressure (Readable.from over the pages, csv-stringify for
 *   CSV) into a temporary file beside the target, renamed over it only when every row is written:
 *   a failure (bad path, database gone mid-way) leaves no file, partial or otherwise.
 * - Formats: `csv`, one row per provider call with its interaction's columns repeated (an
 *   interaction without calls, such as a cache hit, is one row with the call columns empty);
 *   `json`, JSON Lines: one interaction per line with its `providerCalls` nested.
 * - No secrets live in these tables (API keys are elsewhere and never exported). Prompts, system
 *   prompts, answers, conversation turns and error messages (a provider's error can quote the
 *   prompt) are user data: left out unless `includeText` is set.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Prisma } from '../generated/prisma-sqlite/client';
import type { DatabaseClient } from '../memory/client';
import { exportPathIssue, ExportOptionsSchema, parseOptions, type ExportFormat, type ExportOptions } from './options';

export interface ExportResult {
  /** Absolute path of the written file. */
  path: string;
  format: ExportFormat;
  /** Interactions and provider calls exported. */
  interactions: number;
  providerCalls: number;
  /** Data rows written: CSV rows (header excluded) or JSON lines. */
  rows: number;
  includeText: boolean;
  since: string;
  until: string;
}

/** CSV columns without text, in order (JSON Lines uses the camelCase names of the same fields). */
export const EXPORT_COLUMNS = [
  'interaction_id',
  'workflow_id',
  'request_id',
  'user_id',
  'task_type',
  'complexity',
  'complexity_score',
  'status',
  'error_type',
  'conversation_id',
  'consensus_strategy',
  'consensus_applied',
  'confidence',
  'agreement',
  'threshold_met',
  'low_confidence',
  'dissenting',
  'cancelled_calls',
  'latency_saved_ms',
  'cache_hit',
  'experiment_id',
  'variant',
  'routing_policy_version',
  'routing_rule',
  'providers_used',
  'tokens_in',
  'tokens_out',
  'cost_usd',
  'processing_time_ms',
  'queued_ms',
  'started_at',
  'completed_at',
  'feedback_count',
  'feedback_mean',
  'call_index',
  'provider',
  'model',
  'call_status',
  'attempts',
  'hedged',
  'call_error_type',
  'latency_ms',
  'first_token_ms',
  'call_tokens_in',
  'call_tokens_out',
  'call_cost_usd',
  'finish_reason',
  'provider_request_id',
] as const;

/** Added at the end with includeText. */
export const EXPORT_TEXT_COLUMNS = ['prompt', 'system_prompt', 'messages', 'response', 'error_message', 'call_error_message'] as const;

const DEFAULT_PAGE_SIZE = 500;

const callSelect = {
  callIndex: true,
  provider: true,
  model: true,
  status: true,
  attempts: true,
  hedged: true,
  errorType: true,
  latencyMs: true,
  firstTokenMs: true,
  tokensIn: true,
  tokensOut: true,
  costUsd: true,
  finishReason: true,
  providerRequestId: true,
} as const;

const interactionSelect = {
  id: true,
  workflowId: true,
  requestId: true,
  userId: true,
  taskType: true,
  complexity: true,
  complexityScore: true,
  status: true,
  errorType: true,
  conversationId: true,
  consensusStrategy: true,
  consensusApplied: true,
  confidence: true,
  agreement: true,
  thresholdMet: true,
  lowConfidence: true,
  dissenting: true,
  cancelledCalls: true,
  latencySavedMs: true,
  cacheHit: true,
  experimentId: true,
  variant: true,
  routingPolicyVersion: true,
  routingRule: true,
  providersUsed: true,
  tokensIn: true,
  tokensOut: true,
  costUsd: true,
  processingTimeMs: true,
  queuedMs: true,
  startedAt: true,
  completedAt: true,
  feedback: { select: { score: true } },
} as const;

type Row = Record<string, unknown>;
type CallRow = Record<string, unknown> & { errorMessage?: string | null };

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The export-facing record of one interaction (camelCase; the CSV columns are its snake_case). */
function interactionRecord(row: Row, includeText: boolean): Row {
  const feedback = row['feedback'] as { score: number }[];
  const record: Row = {
    interactionId: row['id'],
    workflowId: row['workflowId'],
    requestId: row['requestId'],
    userId: row['userId'],
    taskType: row['taskType'],
    complexity: row['complexity'],
    complexityScore: row['complexityScore'],
    status: row['status'],
    errorType: row['errorType'],
    conversationId: row['conversationId'],
    consensusStrategy: row['consensusStrategy'],
    consensusApplied: row['consensusApplied'],
    confidence: row['confidence'],
    agreement: row['agreement'],
    thresholdMet: row['thresholdMet'],
    lowConfidence: row['lowConfidence'],
    dissenting: stringList(row['dissenting']),
    cancelledCalls: row['cancelledCalls'],
    latencySavedMs: row['latencySavedMs'],
    cacheHit: row['cacheHit'],
    experimentId: row['experimentId'],
    variant: row['variant'],
    routingPolicyVersion: row['routingPolicyVersion'],
    routingRule: row['routingRule'],
    providersUsed: stringList(row['providersUsed']),
    tokensIn: row['tokensIn'],
    tokensOut: row['tokensOut'],
    costUsd: row['costUsd'],
    processingTimeMs: row['processingTimeMs'],
    queuedMs: row['queuedMs'],
    startedAt: (row['startedAt'] as Date).toISOString(),
    completedAt: (row['completedAt'] as Date).toISOString(),
    feedbackCount: feedback.length,
    feedbackMean: feedback.length > 0 ? feedback.reduce((s, f) => s + f.score, 0) / feedback.length : null,
  };
  if (includeText) {
    record['prompt'] = row['prompt'];
    record['systemPrompt'] = row['systemPrompt'];
    record['messages'] = row['messages'] ?? null;
    record['response'] = row['response'];
    record['errorMessage'] = row['errorMessage'];
  }
  return record;
}

function callRecord(call: CallRow, includeText: boolean): Row {
  const { errorMessage, ...rest } = call;
  return includeText ? { ...rest, errorMessage: errorMessage ?? null } : rest;
}

const EMPTY_CALL: Row = Object.fromEntries(
  ['callIndex', 'provider', 'model', 'callStatus', 'attempts', 'hedged', 'callErrorType', 'latencyMs', 'firstTokenMs', 'callTokensIn', 'callTokensOut', 'callCostUsd', 'finishReason', 'providerRequestId', 'callErrorMessage'].map((k) => [k, null]),
);

/** The CSV row values of one interaction and one of its calls (null: no call). */
function csvRow(record: Row, call: Row | null, includeText: boolean): unknown[] {
  const c = call
    ? {
        callIndex: call['callIndex'],
        provider: call['provider'],
        model: call['model'],
        callStatus: call['status'],
        attempts: call['attempts'],
        hedged: call['hedged'],
        callErrorType: call['errorType'],
        latencyMs: call['latencyMs'],
        firstTokenMs: call['firstTokenMs'],
        callTokensIn: call['tokensIn'],
        callTokensOut: call['tokensOut'],
        callCostUsd: call['costUsd'],
        finishReason: call['finishReason'],
        providerRequestId: call['providerRequestId'],
        callErrorMessage: call['errorMessage'] ?? null,
      }
    : EMPTY_CALL;
  const list = (v: unknown) => (v as string[]).join(';');
  const values: unknown[] = [
    record['interactionId'], record['workflowId'], record['requestId'], record['userId'], record['taskType'], record['complexity'], record['complexityScore'],
    record['status'], record['errorType'], record['conversationId'], record['consensusStrategy'], record['consensusApplied'], record['confidence'], record['agreement'],
    record['thresholdMet'], record['lowConfidence'], list(record['dissenting']), record['cancelledCalls'], record['latencySavedMs'], record['cacheHit'],
    record['experimentId'], record['variant'], record['routingPolicyVersion'], record['routingRule'], list(record['providersUsed']), record['tokensIn'],
    record['tokensOut'], record['costUsd'], record['processingTimeMs'], record['queuedMs'], record['startedAt'], record['completedAt'], record['feedbackCount'],
    record['feedbackMean'],
    c['callIndex'], c['provider'], c['model'], c['callStatus'], c['attempts'], c['hedged'], c['callErrorType'], c['latencyMs'], c['firstTokenMs'],
    c['callTokensIn'], c['callTokensOut'], c['callCostUsd'], c['finishReason'], c['providerRequestId'],
  ];
  if (includeText) {
    const messages = record['messages'];
    values.push(record['prompt'], record['systemPrompt'], messages === null || messages === undefined ? null : JSON.stringify(messages), record['response'], record['errorMessage'], c['callErrorMessage']);
  }
  return values;
}

/** Refuse a path that cannot be written before anything is read: a missing folder, a folder as target. */
async function checkTarget(target: string): Promise<void> {
  const dir = path.dirname(target);
  const dirStat = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw exportPathIssue(`folder "${dir}" does not exist or cannot be read (${err.code ?? err.message})`);
  });
  if (!dirStat.isDirectory()) throw exportPathIssue(`"${dir}" is not a folder`);
  const existing = await stat(target).catch(() => null);
  if (existing?.isDirectory()) throw exportPathIssue(`"${target}" is a folder, not a file`);
}

export async function exportMetrics(db: DatabaseClient, filePath: string, input: ExportOptions): Promise<ExportResult> {
  if (typeof filePath !== 'string' || filePath.trim() === '') throw exportPathIssue('the output path must be a non-empty string');
  const options = parseOptions(ExportOptionsSchema, input, 'export');
  const includeText = options.includeText ?? false;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const until = options.now ?? new Date();
  const since = new Date(until.getTime() - options.days * 86_400_000);
  const target = path.resolve(filePath);
  await checkTarget(target);

  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx').catch((err: NodeJS.ErrnoException) => {
    throw exportPathIssue(`cannot create a file in "${path.dirname(target)}" (${err.code ?? err.message})`);
  });

  const base: Prisma.InteractionWhereInput = { completedAt: { gte: since, lte: until }, ...(options.taskType !== undefined && { taskType: options.taskType }) };
  const select = {
    ...interactionSelect,
    ...(includeText && { prompt: true, systemPrompt: true, messages: true, response: true, errorMessage: true }),
    providerCalls: { select: { ...callSelect, ...(includeText && { errorMessage: true }) }, orderBy: { callIndex: 'asc' as const } },
  };
  const counts = { interactions: 0, providerCalls: 0, rows: 0 };

  /** Pages of interactions in (completedAt, id) order; the next page starts after the last row read. */
  async function* pages(): AsyncGenerator<Row[]> {
    let after: { completedAt: Date; id: string } | null = null;
    for (;;) {
      const where: Prisma.InteractionWhereInput =
        after === null ? base : { AND: [base, { OR: [{ completedAt: { gt: after.completedAt } }, { completedAt: after.completedAt, id: { gt: after.id } }] }] };
      const page = (await db.interaction.findMany({ where, orderBy: [{ completedAt: 'asc' }, { id: 'asc' }], take: pageSize, select })) as unknown as Row[];
      if (page.length === 0) return;
      yield page;
      if (page.length < pageSize) return;
      const last = page[page.length - 1]!;
      after = { completedAt: last['completedAt'] as Date, id: last['id'] as string };
    }
  }

  async function* csvRows(): AsyncGenerator<unknown[]> {
    for await (const page of pages()) {
      for (const row of page) {
        const record = interactionRecord(row, includeText);
        const calls = row['providerCalls'] as CallRow[];
        counts.interactions++;
        counts.providerCalls += calls.length;
        if (calls.length === 0) {
          counts.rows++;
          yield csvRow(record, null, includeText);
        }
        for (const call of calls) {
          counts.rows++;
          yield csvRow(record, call, includeText);
        }
      }
    }
  }

  async function* jsonLines(): AsyncGenerator<string> {
    for await (const page of pages()) {
      let chunk = '';
      for (const row of page) {
        const calls = row['providerCalls'] as CallRow[];
        counts.interactions++;
        counts.providerCalls += calls.length;
        counts.rows++;
        chunk += `${JSON.stringify({ ...interactionRecord(row, includeText), providerCalls: calls.map((c) => callRecord(c, includeText)) })}\n`;
      }
      yield chunk;
    }
  }

  try {
    const out = handle.createWriteStream();
    if (options.format === 'csv') {
      const columns = [...EXPORT_COLUMNS, ...(includeText ? EXPORT_TEXT_COLUMNS : [])];
      const csv: Transform = stringify({ header: true, columns, cast: { boolean: (v) => (v ? 'true' : 'false'), date: (v) => v.toISOString() } });
      await pipeline(Readable.from(csvRows()), csv, out);
    } else {
      await pipeline(Readable.from(jsonLines()), out);
    }
    await rename(tmp, target);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw error;
  }
  return { path: target, format: options.format, ...counts, includeText, since: since.toISOString(), until: until.toISOString() };
}
