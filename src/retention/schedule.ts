/**
 * The Temporal Schedule that runs the retention workflow every `retention.interval_hours` hours,
 * created from code and kept in line with the configuration: create it, or update it when it
 * exists (ScheduleAlreadyRunning), so calling this on every worker start is safe. Paused while
 * `retention.enable` is false, unpaused when it is true again.
 *
 *   await ensureRetentionSchedule({ client, config });
 *   await triggerRetentionNow({ client });     // one run now, as the schedule would start it
 */
import type { Client, ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Config } from '../config/schema';
import { TASK_QUEUE } from '../constants';
import type { retentionWorkflow } from '../../workflows/retention';
import { describeIntervalSchedule, ensureIntervalSchedule, triggerScheduleNow, type IntervalScheduleState } from '../temporal/interval-schedule';
import { RETENTION_SCHEDULE_ID, RETENTION_SCHEDULED_WORKFLOW_ID, RETENTION_WORKFLOW_TYPE } from './constants';

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

export type RetentionScheduleState = IntervalScheduleState;

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

/** Create the schedule, or bring an existing one in line with the configuration. */
export function ensureRetentionSchedule(o: RetentionScheduleOptions): Promise<RetentionScheduleState> {
  const { enable, interval_hours: everyHours } = o.config.retention;
  return ensureIntervalSchedule(o.client, { scheduleId: o.scheduleId ?? RETENTION_SCHEDULE_ID, everyHours, enable, enableKey: 'retention.enable', action: action(o) });
}

/** The schedule as the server has it. */
export function describeRetentionSchedule(o: { client: Client; scheduleId?: string }): Promise<RetentionScheduleState> {
  return describeIntervalSchedule(o.client, o.scheduleId ?? RETENTION_SCHEDULE_ID);
}

/** Start one run now, as the schedule would (skipped by the workflow when retention.enable is false). */
export function triggerRetentionNow(o: { client: Client; scheduleId?: string }): Promise<void> {
  return triggerScheduleNow(o.client, o.scheduleId ?? RETENTION_SCHEDULE_ID);
}
