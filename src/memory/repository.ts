/**
 * The orchestrator's memory: finished interactions with their provider calls, and the history of
 * routing policies. One store per process, over SQLite or PostgreSQL (see client.ts).
 *
 * Records cross the Temporal wire as JSON before they get here, so timestamps are ISO-8601
 * strings, and every write is safe to repeat: activities are retried.
 */
import { z } from 'zod';
import { InvalidRequest, zodIssues } from '../errors';
import { parseFingerprint, type RequestFingerprint } from '../request-fingerprint';
import { ChatMessageSchema, ComplexitySchema, type ChatMessage, type Complexity, type OrchestrationResult, type ProviderUsage } from '../types';
import { createPrismaClient, JSON_DB_NULL, type CreatePrismaClientOptions, type DatabaseClient } from './client';
import { databaseConnectionError, isConnectionError, parseDatabaseUrl } from './database-url';

export interface ProviderCallRecord {
  /** Position of the call within its interaction; unique per interaction. */
  callIndex: number;
  provider: string;
  model: string;
  attempts: number;
  /** 'cancelled': stopped by early stop or a hedge that lost. */
  status: 'succeeded' | 'failed' | 'cancelled';
  /** Started by hedging a slow call (default false). */
  hedged?: boolean | undefined;
  errorType: string | null;
  errorMessage: string | null;
  latencyMs: number | null;
  /** A streamed call: ms from its start to its first token (null or absent: not streamed, or no token came). */
  firstTokenMs?: number | null | undefined;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  finishReason: string | null;
  providerRequestId: string | null;
}

/** What `persistInteraction` writes: one finished (or failed) request and all its provider calls. */
export interface InteractionRecord {
  /**
   * The idempotency key: the same run writing the same workflowId again replaces its own row,
   * never duplicates; a row written by another run of the workflow id is never overwritten.
   */
  workflowId: string;
  /** The Temporal run writing the row (absent in records of workflow code from before runs were kept). */
  runId?: string | null | undefined;
  /** Per-field hashes of the request (src/request-fingerprint.ts). */
  requestFingerprint?: RequestFingerprint | null | undefined;
  /** The result the run returned (completed requests): a later run of the same id returns it. */
  result?: OrchestrationResult | null | undefined;
  /** Time from the workflow's start to its first workflow task (waiting for a worker). */
  queuedMs?: number | null | undefined;
  requestId: string | null;
  userId: string;
  taskType: string;
  complexity: Complexity;
  complexityScore: number;
  /** The prompt; for a conversation, its last user turn. */
  prompt: string;
  /** The conversation's turns (system, user, assistant), when the request came as one. */
  messages?: ChatMessage[] | null | undefined;
  /** The conversation this interaction is a turn of (`conversations show <id>`). */
  conversationId?: string | null | undefined;
  systemPrompt: string | null;
  response: string | null;
  confidence: number | null;
  agreement: number | null;
  consensusStrategy: string;
  consensusApplied: boolean;
  status: 'completed' | 'failed';
  errorType: string | null;
  errorMessage: string | null;
  routingPolicyVersion: number;
  routingRule: string | null;
  /** Why the route came out in this order (performance_based routing); null for static routes. */
  routingDecision?: unknown;
  /** Consensus quality: whether agreement met the threshold, the dissenting providers, the strategy's details. */
  thresholdMet?: boolean | null | undefined;
  lowConfidence?: boolean | undefined;
  dissenting?: string[] | undefined;
  consensusDetails?: unknown;
  /** Calls cancelled by early stop or hedging, and the latency that saved (null when unknown). */
  cancelledCalls?: number | undefined;
  latencySavedMs?: number | null | undefined;
  /** Answered from the response cache. */
  cacheHit?: boolean | undefined;
  /** A/B experiment assignment. */
  experimentId?: string | null | undefined;
  variant?: string | null | undefined;
  providersUsed: string[];
  tokensIn: number;
  tokensOut: number;
  /** US dollars, as a float. */
  costUsd: number;
  /** Whole milliseconds (fractions are rounded). */
  processingTimeMs: number;
  /**
   * Dates, or ISO-8601 strings: a Date in an activity argument arrives as its ISO string after
   * crossing the Temporal wire, so both are accepted. Read back as ISO strings.
   */
  startedAt: string | Date;
  completedAt: string | Date;
  providerCalls: ProviderCallRecord[];
}

export interface StoredProviderCall extends ProviderCallRecord {
  id: string;
  firstTokenMs: number | null;
  createdAt: string;
}

/** What persistInteraction did: wrote (or rewrote its own run's) row, or kept another run's row. */
export type PersistOutcome = { stored: true } | { stored: false; existingRunId: string | null };

/**
 * What an earlier run of a workflow id left: its status, the request it answered (fingerprint,
 * null for rows from before fingerprints were kept) and, for a completed one, its result.
 */
export interface StoredRun {
  runId: string | null;
  status: 'completed' | 'failed';
  errorType: string | null;
  errorMessage: string | null;
  fingerprint: RequestFingerprint | null;
  /** What every row stored of its request (compared when there is no fingerprint). */
  request: { prompt: string; systemPrompt: string | null; userId: string; taskType: string };
  /** Completed rows: the stored result (rebuilt from the columns for rows from before results were kept). */
  result: OrchestrationResult | null;
}

export interface StoredInteraction extends Omit<InteractionRecord, 'providerCalls' | 'startedAt' | 'completedAt' | 'requestFingerprint' | 'result'> {
  id: string;
  startedAt: string;
  completedAt: string;
  createdAt: string;
  providerCalls: StoredProviderCall[];
}

export type InteractionSummary = Omit<StoredInteraction, 'providerCalls'>;

export interface ListInteractionsOptions {
  userId?: string;
  taskType?: string;
  /** 1..500, newest first. */
  limit: number;
}

export interface PolicyVersionInput {
  /** Any JSON-serialisable value. */
  policy: unknown;
  configHash: string;
  /** Who or what changed it: 'config-file', 'update:<user>', 'optimizer', ... */
  source: string;
  reason: string;
}

export const FeedbackInputSchema = z
  .object({
    /** Idempotency key (a retried write finds the row it made); a new uuid when absent. */
    id: z.uuid().optional(),
    workflowId: z.string().min(1),
    score: z.number().min(0, 'score must be in [0, 1]').max(1, 'score must be in [0, 1]'),
    comment: z.string().max(4000).nullable().default(null),
    /** Who gave it: 'cli:alice', 'sdk', 'app:<name>'. */
    source: z.string().min(1).max(200).default('sdk'),
  })
  .strict();
export type FeedbackInput = z.input<typeof FeedbackInputSchema>;

export interface PolicyVersion {
  version: number;
  policy: unknown;
  configHash: string;
  source: string;
  reason: string;
  createdAt: string;
}

export interface MemoryStore {
  /**
   * Write the interaction and all its provider calls in one transaction; idempotent by workflowId.
   * A row written by another run of the workflow id (runId differs) is kept as it is.
   */
  persistInteraction(record: InteractionRecord): Promise<PersistOutcome>;
  /** What an earlier run of this workflow id stored, if anything. */
  storedRun(workflowId: string): Promise<StoredRun | null>;
  getInteraction(workflowId: string): Promise<StoredInteraction | null>;
  listInteractions(options: ListInteractionsOptions): Promise<InteractionSummary[]>;
  /** The interactions of one conversation, oldest first, with their provider calls (at most 500 turns). */
  listConversation(conversationId: string): Promise<StoredInteraction[]>;
  /** Record a new policy version (latest + 1); returns its number. */
  recordPolicyVersion(input: PolicyVersionInput): Promise<number>;
  latestPolicyVersion(): Promise<PolicyVersion | null>;
  /**
   * Explicit feedback on a finished interaction's answer (score in [0, 1]); it feeds the quality
   * figures of routing. InvalidRequest when the score is out of range or no such interaction exists.
   */
  recordFeedback(input: FeedbackInput): Promise<{ id: string; interactionId: string }>;
  /** Resolves when the database answers; DatabaseConnectionError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const timestamp = z.union([z.date(), z.iso.datetime({ offset: true })]);
const nonNegativeInt = z.number().int().nonnegative();
const finite = z.number().finite();

const ProviderCallRecordSchema = z.object({
  callIndex: nonNegativeInt,
  provider: z.string().min(1),
  model: z.string().min(1),
  attempts: nonNegativeInt,
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  hedged: z.boolean().optional(),
  errorType: z.string().nullable(),
  errorMessage: z.string().nullable(),
  latencyMs: finite.nonnegative().nullable(),
  firstTokenMs: finite.nonnegative().nullable().optional(),
  tokensIn: nonNegativeInt,
  tokensOut: nonNegativeInt,
  costUsd: finite.nonnegative(),
  finishReason: z.string().nullable(),
  providerRequestId: z.string().nullable(),
}) satisfies z.ZodType<ProviderCallRecord>;

/** Runtime check of a record that arrived over the wire. */
export const InteractionRecordSchema = z.object({
  workflowId: z.string().min(1),
  runId: z.string().min(1).nullable().optional(),
  requestFingerprint: z.custom<RequestFingerprint>((v) => parseFingerprint(v) !== null, 'not a request fingerprint').nullable().optional(),
  result: z
    .custom<OrchestrationResult>((v) => typeof v === 'object' && v !== null && typeof (v as { response?: unknown }).response === 'string' && typeof (v as { metadata?: unknown }).metadata === 'object', 'not an orchestration result')
    .nullable()
    .optional(),
  queuedMs: finite.nonnegative().nullable().optional(),
  requestId: z.string().nullable(),
  userId: z.string().min(1),
  taskType: z.string().min(1),
  complexity: ComplexitySchema,
  complexityScore: finite,
  prompt: z.string(),
  messages: z.array(ChatMessageSchema).nullable().optional(),
  conversationId: z.string().min(1).max(200).nullable().optional(),
  systemPrompt: z.string().nullable(),
  response: z.string().nullable(),
  confidence: finite.nullable(),
  agreement: finite.nullable(),
  consensusStrategy: z.string(),
  consensusApplied: z.boolean(),
  status: z.enum(['completed', 'failed']),
  errorType: z.string().nullable(),
  errorMessage: z.string().nullable(),
  routingPolicyVersion: z.number().int(),
  routingRule: z.string().nullable(),
  routingDecision: z.unknown().optional(),
  thresholdMet: z.boolean().nullable().optional(),
  lowConfidence: z.boolean().optional(),
  dissenting: z.array(z.string()).optional(),
  consensusDetails: z.unknown().optional(),
  cancelledCalls: nonNegativeInt.optional(),
  latencySavedMs: finite.nonnegative().nullable().optional(),
  cacheHit: z.boolean().optional(),
  experimentId: z.string().nullable().optional(),
  variant: z.string().nullable().optional(),
  providersUsed: z.array(z.string()),
  tokensIn: nonNegativeInt,
  tokensOut: nonNegativeInt,
  costUsd: finite.nonnegative(),
  processingTimeMs: finite.nonnegative(),
  startedAt: timestamp,
  completedAt: timestamp,
  providerCalls: z.array(ProviderCallRecordSchema).refine((calls) => new Set(calls.map((c) => c.callIndex)).size === calls.length, 'callIndex values must be unique'),
}) satisfies z.ZodType<InteractionRecord>;

const MAX_LIST_LIMIT = 500;
const MAX_VERSION_ATTEMPTS = 10;

function isUniqueViolation(error: unknown): boolean {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'P2002';
}

function toJson(value: unknown, what: string): NonNullable<unknown> {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not JSON-serialisable`);
  return JSON.parse(text) as NonNullable<unknown>;
}

function asStringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The result of a completed row written before results were stored, rebuilt from its columns
 * (figures that were not stored, such as escalations and waits, read as 0).
 */
function resultFromColumns(row: InteractionSummary, calls: StoredProviderCall[]): OrchestrationResult {
  const providers: ProviderUsage[] = calls.map((c) => ({
    provider: c.provider,
    model: c.model,
    tokensIn: c.tokensIn,
    tokensOut: c.tokensOut,
    latencyMs: c.latencyMs ?? 0,
    costUsd: c.costUsd,
    status: c.status,
    errorType: c.errorType,
    ...(c.firstTokenMs !== null && { firstTokenMs: c.firstTokenMs }),
  }));
  return {
    response: row.response ?? '',
    metadata: {
      workflowId: row.workflowId,
      requestId: row.requestId,
      taskType: row.taskType,
      userId: row.userId,
      providersUsed: row.providersUsed,
      confidence: row.confidence,
      consensusApplied: row.consensusApplied,
      consensusStrategy: row.consensusStrategy,
      agreement: row.agreement,
      dissenting: row.dissenting ?? [],
      thresholdMet: row.thresholdMet ?? null,
      lowConfidence: row.lowConfidence ?? false,
      escalated: 0,
      consensusDetails: row.consensusDetails ?? null,
      cancelledCalls: row.cancelledCalls ?? 0,
      latencySavedMs: row.latencySavedMs ?? null,
      hedgedCalls: calls.filter((c) => c.hedged).length,
      cacheHit: row.cacheHit ?? false,
      cachedFrom: null,
      waitedMs: 0,
      complexity: row.complexity,
      complexityScore: row.complexityScore,
      processingTimeMs: row.processingTimeMs,
      ...(row.queuedMs != null && { queuedMs: row.queuedMs }),
      providers,
      tokensIn: row.tokensIn,
      tokensOut: row.tokensOut,
      costUsd: row.costUsd,
      routingPolicyVersion: row.routingPolicyVersion,
      routingRule: row.routingRule,
      routingDecision: (row.routingDecision ?? null) as OrchestrationResult['metadata']['routingDecision'],
    },
  };
}

export interface CreateMemoryStoreOptions extends CreatePrismaClientOptions {
  /** Use this client instead of creating one (the store still closes it). */
  client?: DatabaseClient;
}

export function createMemoryStore(databaseUrl: string, options: CreateMemoryStoreOptions = {}): MemoryStore {
  const target = parseDatabaseUrl(databaseUrl);
  const db = options.client ?? createPrismaClient(databaseUrl, options);

  /** Unreachable-database failures become DatabaseConnectionError (password redacted); others pass through. */
  async function guard<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isConnectionError(error)) throw databaseConnectionError(target.url, error, action);
      throw error;
    }
  }

  type InteractionRow = NonNullable<Awaited<ReturnType<DatabaseClient['interaction']['findUnique']>>>;
  type ProviderCallRow = Awaited<ReturnType<DatabaseClient['providerCall']['findMany']>>[number];

  function summaryFromRow(row: InteractionRow): InteractionSummary {
    return {
      id: row.id,
      workflowId: row.workflowId,
      requestId: row.requestId,
      userId: row.userId,
      taskType: row.taskType,
      complexity: ComplexitySchema.parse(row.complexity),
      complexityScore: row.complexityScore,
      prompt: row.prompt,
      systemPrompt: row.systemPrompt,
      response: row.response,
      confidence: row.confidence,
      agreement: row.agreement,
      consensusStrategy: row.consensusStrategy,
      consensusApplied: row.consensusApplied,
      status: row.status === 'failed' ? 'failed' : 'completed',
      errorType: row.errorType,
      errorMessage: row.errorMessage,
      routingPolicyVersion: row.routingPolicyVersion,
      routingRule: row.routingRule,
      routingDecision: row.routingDecision ?? null,
      thresholdMet: row.thresholdMet,
      lowConfidence: row.lowConfidence,
      dissenting: asStringArray(row.dissenting),
      consensusDetails: row.consensusDetails ?? null,
      cancelledCalls: row.cancelledCalls,
      latencySavedMs: row.latencySavedMs,
      cacheHit: row.cacheHit,
      experimentId: row.experimentId,
      variant: row.variant,
      providersUsed: asStringArray(row.providersUsed),
      tokensIn: row.tokensIn,
      tokensOut: row.tokensOut,
      costUsd: row.costUsd,
      processingTimeMs: row.processingTimeMs,
      // Absent rather than null on rows from before they were kept (and on records that omit them).
      ...(row.queuedMs !== null && { queuedMs: row.queuedMs }),
      ...(row.runId !== null && { runId: row.runId }),
      // A conversation's turns and id; absent on prompt requests and rows from before conversations.
      ...(row.messages !== null && { messages: z.array(ChatMessageSchema).parse(row.messages) }),
      ...(row.conversationId !== null && { conversationId: row.conversationId }),
      startedAt: row.startedAt.toISOString(),
      completedAt: row.completedAt.toISOString(),
      createdAt: row.createdAt.toISOString(),
    };
  }

  function callFromRow(row: ProviderCallRow): StoredProviderCall {
    return {
      id: row.id,
      callIndex: row.callIndex,
      provider: row.provider,
      model: row.model,
      attempts: row.attempts,
      status: row.status === 'failed' || row.status === 'cancelled' ? row.status : 'succeeded',
      hedged: row.hedged,
      errorType: row.errorType,
      errorMessage: row.errorMessage,
      latencyMs: row.latencyMs,
      firstTokenMs: row.firstTokenMs,
      tokensIn: row.tokensIn,
      tokensOut: row.tokensOut,
      costUsd: row.costUsd,
      finishReason: row.finishReason,
      providerRequestId: row.providerRequestId,
      createdAt: row.createdAt.toISOString(),
    };
  }

  async function latestRow() {
    return db.routingPolicyVersion.findFirst({ orderBy: { version: 'desc' } });
  }

  async function insertNextVersion(input: PolicyVersionInput, after: number): Promise<number | null> {
    try {
      const row = await db.routingPolicyVersion.create({
        data: {
          version: after + 1,
          policy: toJson(input.policy, 'policy') as never,
          configHash: input.configHash,
          source: input.source,
          reason: input.reason,
        },
        select: { version: true },
      });
      return row.version;
    } catch (error) {
      // Another worker took that number first: the caller re-reads and decides again.
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  return {
    persistInteraction: (input) =>
      guard('persist an interaction', async () => {
        const record = InteractionRecordSchema.parse(input);
        const {
          providerCalls, startedAt, completedAt, processingTimeMs, routingDecision, consensusDetails, dissenting, latencySavedMs,
          thresholdMet, lowConfidence, cancelledCalls, cacheHit, experimentId, variant, runId, requestFingerprint, result, queuedMs, messages, conversationId, ...columns
        } = record;
        // A nullable JSON column takes a value or DbNull (Prisma refuses a plain null there).
        const json = (value: unknown, what: string) => ({ [what]: (value === undefined || value === null ? JSON_DB_NULL : toJson(value, what)) as never });
        const data = {
          ...columns,
          ...json(routingDecision, 'routingDecision'),
          ...json(consensusDetails, 'consensusDetails'),
          ...json(dissenting, 'dissenting'),
          ...json(requestFingerprint, 'requestFingerprint'),
          ...json(result, 'result'),
          ...json(messages, 'messages'),
          conversationId: conversationId ?? null,
          runId: runId ?? null,
          queuedMs: queuedMs == null ? null : Math.round(queuedMs),
          latencySavedMs: latencySavedMs == null ? null : Math.round(latencySavedMs),
          thresholdMet: thresholdMet ?? null,
          lowConfidence: lowConfidence ?? false,
          cancelledCalls: cancelledCalls ?? 0,
          cacheHit: cacheHit ?? false,
          experimentId: experimentId ?? null,
          variant: variant ?? null,
          processingTimeMs: Math.round(processingTimeMs),
          startedAt: new Date(startedAt),
          completedAt: new Date(completedAt),
        };
        const calls = [...providerCalls].sort((a, b) => a.callIndex - b.callIndex).map(({ hedged, firstTokenMs, ...call }) => ({ ...call, hedged: hedged ?? false, firstTokenMs: firstTokenMs ?? null }));
        const writer = runId ?? null;
        // A row is rewritten only by the run that wrote it (a retried or replayed persist): the
        // calls are then replaced as a set, so (interactionId, callIndex) never duplicates. A row
        // from another run of the workflow id is never overwritten: its calls and cost stay.
        // Runs of one workflow id never overlap, so the check and the write cannot interleave with
        // another run's write.
        const create = async (): Promise<PersistOutcome> => {
          await db.interaction.create({ data: { ...data, providerCalls: { create: calls } }, select: { id: true } });
          return { stored: true };
        };
        const decide = async (): Promise<PersistOutcome> => {
          const existing = await db.interaction.findUnique({ where: { workflowId: record.workflowId }, select: { id: true, runId: true } });
          if (!existing) return create();
          if (existing.runId !== writer) return { stored: false, existingRunId: existing.runId };
          // One statement: Prisma runs a nested write in a single transaction.
          await db.interaction.update({ where: { id: existing.id }, data: { ...data, providerCalls: { deleteMany: {}, create: calls } }, select: { id: true } });
          return { stored: true };
        };
        // The common case is the first write of a workflow id: one statement. A row already there (a
        // retried or replayed persist, another run of the id, or a racing writer) is a unique
        // violation, rolled back with its nested calls, and the stored row's writer decides.
        try {
          return await create();
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          return await decide();
        }
      }),

    storedRun: (workflowId) =>
      guard('read a stored run', async () => {
        const row = await db.interaction.findUnique({ where: { workflowId }, include: { providerCalls: { orderBy: { callIndex: 'asc' } } } });
        if (!row) return null;
        const status = row.status === 'failed' ? 'failed' : 'completed';
        const stored = row.result as OrchestrationResult | null;
        return {
          runId: row.runId,
          status,
          errorType: row.errorType,
          errorMessage: row.errorMessage,
          fingerprint: parseFingerprint(row.requestFingerprint),
          // A request that had no system prompt arrived without the field (hashed as null alike).
          request: { prompt: row.prompt, systemPrompt: row.systemPrompt, userId: row.userId, taskType: row.taskType },
          result: status === 'completed' ? (stored ?? resultFromColumns(summaryFromRow(row), row.providerCalls.map(callFromRow))) : null,
        };
      }),

    recordFeedback: (input) =>
      guard('record feedback', async () => {
        const parsed = FeedbackInputSchema.safeParse(input);
        if (!parsed.success) {
          const issues = zodIssues(parsed.error);
          throw new InvalidRequest(`invalid feedback: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
        }
        const { id, workflowId, score, comment, source } = parsed.data;
        const interaction = await db.interaction.findUnique({ where: { workflowId }, select: { id: true, status: true } });
        if (!interaction) throw new InvalidRequest(`no finished request with workflow id "${workflowId}"`, [{ path: 'workflowId', message: 'not found' }]);
        if (interaction.status !== 'completed') throw new InvalidRequest(`request "${workflowId}" failed: there is no answer to rate`, [{ path: 'workflowId', message: 'request failed' }]);
        if (id !== undefined) {
          const existing = await db.feedback.findUnique({ where: { id }, select: { id: true } });
          if (existing) return { id, interactionId: interaction.id };
        }
        const row = await db.feedback.create({ data: { ...(id !== undefined && { id }), interactionId: interaction.id, score, comment, source }, select: { id: true } });
        return { id: row.id, interactionId: interaction.id };
      }),

    getInteraction: (workflowId) =>
      guard('read an interaction', async () => {
        const row = await db.interaction.findUnique({
          where: { workflowId },
          include: { providerCalls: { orderBy: { callIndex: 'asc' } } },
        });
        if (!row) return null;
        return { ...summaryFromRow(row), providerCalls: row.providerCalls.map(callFromRow) };
      }),

    listInteractions: ({ userId, taskType, limit }) =>
      guard('list interactions', async () => {
        if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
        const rows = await db.interaction.findMany({
          where: { ...(userId !== undefined ? { userId } : {}), ...(taskType !== undefined ? { taskType } : {}) },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          take: Math.min(limit, MAX_LIST_LIMIT),
        });
        return rows.map(summaryFromRow);
      }),

    listConversation: (conversationId) =>
      guard('list a conversation', async () => {
        const rows = await db.interaction.findMany({
          where: { conversationId },
          include: { providerCalls: { orderBy: { callIndex: 'asc' } } },
          orderBy: [{ startedAt: 'asc' }, { createdAt: 'asc' }, { id: 'asc' }],
          take: MAX_LIST_LIMIT,
        });
        return rows.map((row) => ({ ...summaryFromRow(row), providerCalls: row.providerCalls.map(callFromRow) }));
      }),

    recordPolicyVersion: (input) =>
      guard('record a routing policy version', async () => {
        for (let attempt = 0; attempt < MAX_VERSION_ATTEMPTS; attempt++) {
          const latest = await latestRow();
          const version = await insertNextVersion(input, latest?.version ?? 0);
          if (version !== null) return version;
        }
        throw new Error(`could not record a routing policy version after ${MAX_VERSION_ATTEMPTS} attempts (heavy contention)`);
      }),

    latestPolicyVersion: () =>
      guard('read the routing policy version', async () => {
        const row = await latestRow();
        if (!row) return null;
        return {
          version: row.version,
          policy: row.policy,
          configHash: row.configHash,
          source: row.source,
          reason: row.reason,
          createdAt: row.createdAt.toISOString(),
        };
      }),

    ping: () =>
      guard('ping the database', async () => {
        await db.$queryRaw`SELECT 1`;
      }),

    close: () => db.$disconnect(),
  };
}
