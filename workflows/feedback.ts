/**
 * recordFeedback: a person's rating of an answer, stored through the worker (clients need no
 * database credentials) and visible in the Web UI. The score feeds routing's quality figures.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FeedbackInput } from '../src/memory/repository';

const store = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', maximumAttempts: 10, nonRetryableErrorTypes: ['InvalidRequest'] },
});

export async function recordFeedbackWorkflow(input: FeedbackInput & { id: string }): Promise<{ id: string; interactionId: string }> {
  return store.recordFeedback(input);
}
