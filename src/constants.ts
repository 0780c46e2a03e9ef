/**
 * Names shared by the worker, the clients, the tests and the benchmarks.
 * Pure module: safe to import from workflow code.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

/** Task queue for request workflows and their activities. */
export const TASK_QUEUE = 'llm-orchestration';

/** Workflow id prefix for request workflows; the rest is the request id (a business id). */
export const REQUEST_WORKFLOW_PREFIX = 'llm-request-';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';
export const DEFAULT_EMULATOR_PORT = 8390;
export const DEFAULT_DATABASE_URL = 'file:./.data/orchestrator.db';
export const DEFAULT_CONFIG_PATH = 'config.yaml';

/** Prompts above this many characters are refused before any workflow starts. */
export const MAX_PROMPT_CHARS = 200_000;

/** A conversation (`messages`) holds at most this many turns. */
export const MAX_MESSAGES = 200;

/** Custom search attributes of request workflows (Keyword type). */
export const SearchAttributes = {
  taskType: defineSearchAttributeKey('TaskType', 'KEYWORD'),
  userId: defineSearchAttributeKey('UserId', 'KEYWORD'),
  complexity: defineSearchAttributeKey('Complexity', 'KEYWORD'),
  requestStatus: defineSearchAttributeKey('RequestStatus', 'KEYWORD'),
} as const;

export const SEARCH_ATTRIBUTE_NAMES = Object.values(SearchAttributes).map((k) => k.name);

export function requestWorkflowId(requestId: string): string {
  return `${REQUEST_WORKFLOW_PREFIX}${requestId}`;
}

/** Feedback workflows: `feedback-<feedback id>`. */
export const FEEDBACK_WORKFLOW_PREFIX = 'feedback-';
