/**
 * The Temporal Schedule that runs the retention workflow every `retention.interval_hours` hours,
 * created from code and kept in line with the configuration: create it, or update it when it
 * exists (ScheduleAlreadyRunning), so calling this on every worker start is safe. Paused while
 * `retention.enable` is false, unpaused when it is true again.
 *
 *   await ensureRetentionSchedule({ client, config });
 *   await triggerRetentionNow({ client });     // one run now, as the schedule would start it
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { Config } from '../config/schema';
import { TASK_QUEUE } from '../constants';
import type { retentionWorkflow } from '../../workflows/retention';
import { RETENTION_SCHEDULE_ID, RETENTION_SCHEDULED_WORKFLOW_ID, RETENTION_WORKFLOW_TYPE } from './constants';

const HOUR_MS = 3_600_000;

export interface RetentionScheduleOptions {
  client: Client;
  config: Pick<Config, 'retention'>;
  /** Default TASK_QUEUE (the worker's). */
  taskQueue?: string;
  /** Default RETENTION_SCHEDULE_ID. */
  scheduleId?: string;
  /** Default RETENTION_SCHEDULED_WORKFLOW_ID (Temporal appends the scheduled time). */
  workflowId?: string;
}

export interface RetentionScheduleState {
  scheduleId: string;
  /** True when this call created it. */
  created: boolean;
  paused: boolean;
  intervalHours: number;
  note: string | null;
  nextActionTimes: string[];
  recentRuns: { workflowId: string; scheduledAt: string }[];
}

function spec(hours: number): ScheduleSpec {
  return { intervals: [{ every: hours * HOUR_MS }] };
}

function action(o: RetentionScheduleOptions): ScheduleOptionsStartWorkflowAction<typeof retentionWorkflow> {
  return {
    type: 'startWorkflow',
    workflowType: RETENTION_WORKFLOW_TYPE,
    args: [{ trigger: 'schedule' }],
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    workflowId: o.workflowId ?? RETENTION_SCHEDULED_WORKFLOW_ID,
    staticSummary: 'retention: delete interactions, cache entries and embeddings past their retention',
  };
}

function noteFor(enable: boolean): string {
  return enable ? 'retention.enable is true' : 'paused: retention.enable is false in the configuration';
}

function stateOf(scheduleId: string, created: boolean, d: ScheduleDescription): RetentionScheduleState {
  const every = d.spec.intervals?.[0]?.every;
  return {
    scheduleId,
    created,
    paused: d.state.paused,
    intervalHours: typeof every === 'number' ? every / HOUR_MS : Number.NaN,
    note: d.state.note ?? null,
    nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map((a) => ({ workflowId: a.action.workflow.workflowId, scheduledAt: a.scheduledAt.toISOString() })),
  };
}

/** Create the schedule, or bring an existing one in line with the configuration. */
export async function ensureRetentionSchedule(o: RetentionScheduleOptions): Promise<RetentionScheduleState> {
  const scheduleId = o.scheduleId ?? RETENTION_SCHEDULE_ID;
  const { enable, interval_hours: hours } = o.config.retention;
  const paused = !enable;
  let created = true;
  try {
    await o.client.schedule.create<typeof retentionWorkflow>({
      scheduleId,
      spec: spec(hours),
      action: action(o),
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      state: { paused, note: noteFor(enable) },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    created = false;
    const handle = o.client.schedule.getHandle(scheduleId);
    await handle.update<typeof retentionWorkflow>((previous) => ({
      ...previous,
      spec: spec(hours),
      action: action(o),
      policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      state: { paused, note: noteFor(enable) },
    }));
    // The pause state is set explicitly as well: an update may keep the server's.
    const now = await handle.describe();
    if (now.state.paused !== paused) {
      if (paused) await handle.pause(noteFor(enable));
      else await handle.unpause(noteFor(enable));
    }
  }
  return stateOf(scheduleId, created, await o.client.schedule.getHandle(scheduleId).describe());
}

/** The schedule as the server has it. */
export async function describeRetentionSchedule(o: { client: Client; scheduleId?: string }): Promise<RetentionScheduleState> {
  const scheduleId = o.scheduleId ?? RETENTION_SCHEDULE_ID;
  return stateOf(scheduleId, false, await o.client.schedule.getHandle(scheduleId).describe());
}

/** Start one run now, as the schedule would (skipped by the workflow when retention.enable is false). */
export async function triggerRetentionNow(o: { client: Client; scheduleId?: string }): Promise<void> {
  await o.client.schedule.getHandle(o.scheduleId ?? RETENTION_SCHEDULE_ID).trigger(ScheduleOverlapPolicy.SKIP);
}
