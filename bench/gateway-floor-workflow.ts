/**
 * The floor bench:gateway compares against: a bare workflow that calls three no-op activities in
 * parallel (what a three-provider request does at the least), on the same server.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface FloorActivities {
  benchNoopActivity(): Promise<string>;
}

const { benchNoopActivity } = proxyActivities<FloorActivities>({ startToCloseTimeout: '10s' });

export async function benchThreeNoopActivities(): Promise<number> {
  const done = await Promise.all([benchNoopActivity(), benchNoopActivity(), benchNoopActivity()]);
  return done.length;
}
