/**
 * The Temporal Schedule that runs the improvement workflow every `improvement.analysis_interval`
 * hours, created from code and kept in line with the configuration: create it, or update it when
 * it exists (ScheduleAlreadyRunning), so calling this on every worker start or from the CLI is
 * safe. Paused while `improvement.enable` is false, unpaused when it is true again.
 *
 *   await ensureImprovementSchedule({ client, config });
 *   await triggerImprovementNow({ client });        // one run now, as the schedule would start it
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { Config } from '../config/schema';
import { TASK_QUEUE } from '../constants';
import type { ImprovementWorkflowInput, improvementWorkflow } from '../../workflows/improvement';
import { IMPROVEMENT_SCHEDULE_ID, IMPROVEMENT_SCHEDULED_WORKFLOW_ID, IMPROVEMENT_WORKFLOW_TYPE } from './constants';

const HOUR_MS = 3_600_000;

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

export interface ImprovementScheduleState {
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
  return { intervals: [{ every: Math.round(hours * HOUR_MS) }] };
}

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

function noteFor(enable: boolean): string {
  return enable ? 'improvement.enable is true' : 'paused: improvement.enable is false in the configuration';
}

function stateOf(scheduleId: string, created: boolean, d: ScheduleDescription): ImprovementScheduleState {
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
export async function ensureImprovementSchedule(o: ImprovementScheduleOptions): Promise<ImprovementScheduleState> {
  const scheduleId = o.scheduleId ?? IMPROVEMENT_SCHEDULE_ID;
  const { enable, analysis_interval: hours } = o.config.improvement;
  const paused = !enable;
  let created = true;
  try {
    await o.client.schedule.create<typeof improvementWorkflow>({
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
    await handle.update<typeof improvementWorkflow>((previous) => ({
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
export async function describeImprovementSchedule(o: { client: Client; scheduleId?: string }): Promise<ImprovementScheduleState> {
  const scheduleId = o.scheduleId ?? IMPROVEMENT_SCHEDULE_ID;
  return stateOf(scheduleId, false, await o.client.schedule.getHandle(scheduleId).describe());
}

/**
 * Start one run now, as the schedule would (trigger 'schedule'; skipped by the workflow when
 * improvement.enable is false). A run already in progress is not doubled (overlap SKIP).
 */
export async function triggerImprovementNow(o: { client: Client; scheduleId?: string }): Promise<void> {
  await o.client.schedule.getHandle(o.scheduleId ?? IMPROVEMENT_SCHEDULE_ID).trigger(ScheduleOverlapPolicy.SKIP);
}
