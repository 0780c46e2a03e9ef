/**
 * The platform's floor for bench:overhead: bare workflows that do what a three-provider request
 * does at the least, three calls of a fixed latency in parallel, as activities or as local
 * activities. Nothing else: no planning, no consensus, no database.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface FloorActivities {
  /** Waits `ms` and returns: the no-op stand-in for a provider call of that latency. */
  benchSleep(ms: number): Promise<string>;
}

const remote = proxyActivities<FloorActivities>({ startToCloseTimeout: '10s' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '10s' });

export async function benchFloorActivities(ms: number): Promise<number> {
  const done = await Promise.all([remote.benchSleep(ms), remote.benchSleep(ms), remote.benchSleep(ms)]);
  return done.length;
}

export async function benchFloorLocalActivities(ms: number): Promise<number> {
  const done = await Promise.all([local.benchSleep(ms), local.benchSleep(ms), local.benchSleep(ms)]);
  return done.length;
}
