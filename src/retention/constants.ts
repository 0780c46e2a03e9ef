/**
 * Names shared by the retention and erasure workflows, their schedule, the clients, the CLI and
 * the tests. Pure module: safe to import from workflow code.
 */

/** The one schedule that runs the retention workflow every `retention.interval_hours` hours. */
export const RETENTION_SCHEDULE_ID = 'retention-sweep';

/** Workflow type names (the exported functions' names). */
export const RETENTION_WORKFLOW_TYPE = 'retentionWorkflow';
export const ERASE_USER_WORKFLOW_TYPE = 'eraseUserWorkflow';

/** Workflow id of scheduled runs (Temporal appends the scheduled time). */
export const RETENTION_SCHEDULED_WORKFLOW_ID = 'retention-scheduled';

/** Workflow id prefix of runs started by hand; the rest is the start time. */
export const RETENTION_MANUAL_WORKFLOW_PREFIX = 'retention-manual-';

/**
 * Workflow id prefix of erasures; the rest is random. The user id is deliberately not in the id
 * (ids and summaries are visible to anyone who can list workflows; the input is encrypted).
 */
export const ERASE_USER_WORKFLOW_PREFIX = 'user-erasure-';

/** The tables the retention sweep deletes from, in the order a run sweeps them. */
export const RETENTION_TABLES = ['interactions', 'usageLedger', 'responseCache', 'embeddingCache'] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** Rows deleted by one retention run, per kind. */
export interface RetentionCounts {
  interactions: number;
  providerCalls: number;
  feedback: number;
  usageLedger: number;
  responseCache: number;
  embeddingCache: number;
}

export function emptyRetentionCounts(): RetentionCounts {
  return { interactions: 0, providerCalls: 0, feedback: 0, usageLedger: 0, responseCache: 0, embeddingCache: 0 };
}

/** What one erasure removed, per kind (a second erasure of the same user reports zeros). */
export interface ErasureCounts {
  interactions: number;
  providerCalls: number;
  feedback: number;
  /** Distinct conversation ids among the user's interactions. */
  conversations: number;
  /** Response cache entries of the user's requests (database and Redis). */
  responseCache: number;
  /** Cached embeddings of the texts of the user's requests and answers. */
  embeddings: number;
  /** Usage ledger rows of the user's scope, deleted. */
  usageLedgerDeleted: number;
  /** Global-scope ledger rows of the user's requests: amounts kept, workflow id replaced. */
  usageLedgerAnonymized: number;
  /** The user's gateway API keys, deleted. */
  apiKeys: number;
  /** Temporal executions deleted: the user's request workflows and the feedback workflows on them. */
  workflowExecutions: number;
}

export function emptyErasureCounts(): ErasureCounts {
  return {
    interactions: 0,
    providerCalls: 0,
    feedback: 0,
    conversations: 0,
    responseCache: 0,
    embeddings: 0,
    usageLedgerDeleted: 0,
    usageLedgerAnonymized: 0,
    apiKeys: 0,
    workflowExecutions: 0,
  };
}

/** Field-by-field sum (pure; used by the workflows). */
export function addCounts<T extends object>(a: T, b: Partial<T>): T {
  const out = { ...a } as Record<string, number>;
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out as T;
}
