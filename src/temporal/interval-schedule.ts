/**
 * A Temporal Schedule that starts one workflow every N hours, created from code and kept in line
 * with the configuration: create it, or update it when it exists (ScheduleAlreadyRunning), so
 * calling `ensureIntervalSchedule` on every worker start or from the CLI is safe. Paused while
 * its `enable` setting is false, unpaused when it is true again; overlapping runs are skipped.
 * The improvement and retention schedules are two of these (src/improvement/schedule.ts,
 * src/retention/schedule.ts).
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleOptionsStartWorkflowAction, type ScheduleSpec } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';

const HOUR_MS = 3_600_000;

export interface IntervalScheduleState {
  scheduleId: string;
  /** True when this call created it. */
  created: boolean;
  paused: boolean;
  intervalHours: number;
  note: string | null;
  nextActionTimes: string[];
  recentRuns: { workflowId: string; scheduledAt: string }[];
}

export interface IntervalSchedule<W extends Workflow> {
  scheduleId: string;
  everyHours: number;
  enable: boolean;
  /** The config key of `enable`, for the schedule's note (e.g. 'retention.enable'). */
  enableKey: string;
  action: ScheduleOptionsStartWorkflowAction<W>;
}

function spec(hours: number): ScheduleSpec {
  return { intervals: [{ every: Math.round(hours * HOUR_MS) }] };
}

function noteFor(enable: boolean, key: string): string {
  return enable ? `${key} is true` : `paused: ${key} is false in the configuration`;
}

function stateOf(scheduleId: string, created: boolean, d: ScheduleDescription): IntervalScheduleState {
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

/** Create the schedule, or bring an existing one in line with `s`. */
export async function ensureIntervalSchedule<W extends Workflow>(client: Client, s: IntervalSchedule<W>): Promise<IntervalScheduleState> {
  const paused = !s.enable;
  const note = noteFor(s.enable, s.enableKey);
  let created = true;
  try {
    await client.schedule.create<W>({
      scheduleId: s.scheduleId,
      spec: spec(s.everyHours),
      action: s.action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      state: { paused, note },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    created = false;
    const handle = client.schedule.getHandle(s.scheduleId);
    await handle.update<W>((previous) => ({
      ...previous,
      spec: spec(s.everyHours),
      action: s.action,
      policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' },
      state: { paused, note },
    }));
    // The pause state is set explicitly as well: an update may keep the server's.
    const now = await handle.describe();
    if (now.state.paused !== paused) {
      if (paused) await handle.pause(note);
      else await handle.unpause(note);
    }
  }
  return describeIntervalSchedule(client, s.scheduleId, created);
}

/** The schedule as the server has it. */
export async function describeIntervalSchedule(client: Client, scheduleId: string, created = false): Promise<IntervalScheduleState> {
  return stateOf(scheduleId, created, await client.schedule.getHandle(scheduleId).describe());
}

/** Start one run now, as the schedule would; a run already in progress is not doubled (overlap SKIP). */
export async function triggerScheduleNow(client: Client, scheduleId: string): Promise<void> {
  await client.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
}
