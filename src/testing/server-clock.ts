/**
 * The time of a time-skipping test server, as seen from the worker's activities (the runtime's
 * `clock`). The server's time jumps ahead when it skips a timer; an activity attempt's
 * `currentAttemptScheduledTimestampMs` is stamped in that time, so inside an activity the clock
 * is that stamp plus the real time the attempt has run. Outside an activity (or in a local
 * activity, whose stamp is the worker's own time) the last offset an activity saw is applied.
 */
import { Context } from '@temporalio/activity';

export interface ServerClock {
  (): number;
  /** Server time minus wall time, as last observed (ms; 0 before any activity ran). */
  offsetMs(): number;
}

export function createServerClock(): ServerClock {
  const firstSeen = new WeakMap<object, { scheduled: number; local: number }>();
  let offset = 0;
  const clock = (): number => {
    const local = Date.now();
    let ctx: Context | null = null;
    try {
      ctx = Context.current();
    } catch {
      ctx = null;
    }
    if (ctx && !ctx.info.isLocal) {
      let seen = firstSeen.get(ctx);
      if (!seen) {
        seen = { scheduled: ctx.info.currentAttemptScheduledTimestampMs, local };
        firstSeen.set(ctx, seen);
        offset = Math.max(offset, seen.scheduled - local);
      }
      return seen.scheduled + (local - seen.local);
    }
    return local + offset;
  };
  return Object.assign(clock, { offsetMs: () => offset });
}
