/**
 * Erasing a user (the right to erasure), from any client: starts the eraseUserWorkflow on the
 * worker (which holds the database, the cache and the payload keys) and waits for its report.
 *
 *   const { counts } = await eraseUser({ client }, 'u1');
 *   // { interactions: 12, providerCalls: 30, feedback: 2, conversations: 1, responseCache: 3, embeddings: 40, ... }
 *
 * Safe to run twice: the second run reports zeros. An empty user id is InvalidRequest before
 * anything starts. A failed erasure is the WorkflowFailedError; `OrchestratorClient.eraseUser`
 * turns it into the typed error it names. The erasure's own workflow id holds no user id (`user-erasure-<uuid>`).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { TASK_QUEUE } from '../src/constants';
import { InvalidRequest } from '../src/errors';
import { ERASE_USER_WORKFLOW_PREFIX, ERASE_USER_WORKFLOW_TYPE } from '../src/retention/constants';
import { checkUserId } from '../src/retention/user-id';
import type { EraseUserWorkflowResult, eraseUserWorkflow } from '../workflows/retention';

export interface EraseUserOptions {
  /** Requests per batch (default 100). */
  batchSize?: number;
  /** How long one batch waits for the server to finish deleting its executions (default 60 s). */
  deletionTimeoutMs?: number;
}

export type EraseUserResult = EraseUserWorkflowResult & { workflowId: string };

export async function eraseUser(o: { client: Client; taskQueue?: string }, userId: string, options: EraseUserOptions = {}): Promise<EraseUserResult> {
  const checked = checkUserId(userId);
  for (const [name, value] of [['batchSize', options.batchSize], ['deletionTimeoutMs', options.deletionTimeoutMs]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new InvalidRequest(`invalid erasure: ${name}: must be a positive integer, got ${value}`, [{ path: name, message: 'must be a positive integer' }]);
    }
  }
  const workflowId = `${ERASE_USER_WORKFLOW_PREFIX}${randomUUID()}`;
  const result = await o.client.workflow.execute<typeof eraseUserWorkflow>(ERASE_USER_WORKFLOW_TYPE, {
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    workflowId,
    args: [{ userId: checked, ...(options.batchSize !== undefined && { batchSize: options.batchSize }), ...(options.deletionTimeoutMs !== undefined && { deletionTimeoutMs: options.deletionTimeoutMs }) }],
    staticSummary: "erasure: delete a user's requests, cache entries, embeddings, histories and keys",
  });
  return { ...result, workflowId };
}
