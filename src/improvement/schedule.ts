/**
 * The Temporal Schedule that runs the improvement workflow every `improvement.analysis_interval`
 * hours, created from code and kept in line with the configuration: create it, or update it when
 * it exists (ScheduleAlreadyRunning), so calling this on every worker start or from the CLI is
 * safe. Paused while `improvement.enable` is false, unpaused when it is true again.
 *
 *   await ensureImprovementSchedule({ client, config });
 *   await triggerImprovementNow({ client });        // one run now, as the schedule would start it
 */
import type { Client, ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Config } from '../config/schema';
import { TASK_QUEUE } from '../constants';
import type { ImprovementWorkflowInput, improvementWorkflow } from '../../workflows/improvement';
import { describeIntervalSchedule, ensureIntervalSchedule, triggerScheduleNow, type IntervalScheduleState } from '../temporal/interval-schedule';
import { IMPROVEMENT_SCHEDULE_ID, IMPROVEMENT_SCHEDULED_WORKFLOW_ID, IMPROVEMENT_WORKFLOW_TYPE } from './constants';

export interface ImprovementScheduleOptions {
  client: Client;
  config: Pick<Config, 'improvement'>;
  /** Default TASK_QUEUE (the worker's). */
  taskQueue?: string;
  /** Default IMPROVEMENT_SCHEDULE_ID. */
  scheduleId?: string;
  /** Default IMPROVEMENT_SCHEDULED_WORKFLOW_ID (Temporal appends the scheduled time). */
  workflowId?: string;
  /** Extra input of every scheduled run (tests point it at their own routing-policy workflow). */
  workflowInput?: Omit<ImprovementWorkflowInput, 'trigger'>;
}

export type ImprovementScheduleState = IntervalScheduleState;

function action(o: ImprovementScheduleOptions): ScheduleOptionsStartWorkflowAction<typeof improvementWorkflow> {
  return {
    type: 'startWorkflow',
    workflowType: IMPROVEMENT_WORKFLOW_TYPE,
    args: [{ ...o.workflowInput, trigger: 'schedule' }],
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    workflowId: o.workflowId ?? IMPROVEMENT_SCHEDULED_WORKFLOW_ID,
    staticSummary: 'improvement: analyse history, propose and apply routing changes, run experiments',
  };
}

/** Create the schedule, or bring an existing one in line with the configuration. */
export function ensureImprovementSchedule(o: ImprovementScheduleOptions): Promise<ImprovementScheduleState> {
  const { enable, analysis_interval: everyHours } = o.config.improvement;
  return ensureIntervalSchedule(o.client, { scheduleId: o.scheduleId ?? IMPROVEMENT_SCHEDULE_ID, everyHours, enable, enableKey: 'improvement.enable', action: action(o) });
}

/** The schedule as the server has it. */
export function describeImprovementSchedule(o: { client: Client; scheduleId?: string }): Promise<ImprovementScheduleState> {
  return describeIntervalSchedule(o.client, o.scheduleId ?? IMPROVEMENT_SCHEDULE_ID);
}

/**
 * Start one run now, as the schedule would (trigger 'schedule'; skipped by the workflow when
 * improvement.enable is false). A run already in progress is not doubled (overlap SKIP).
 */
export function triggerImprovementNow(o: { client: Client; scheduleId?: string }): Promise<void> {
  return triggerScheduleNow(o.client, o.scheduleId ?? IMPROVEMENT_SCHEDULE_ID);
}
