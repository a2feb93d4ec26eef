/**
 * The catch-up policy, as a pure function: which slot of a schedule to fire now, which missed slots to
 * skip, and the schedule's next slot. Times are the database clock's.
 *
 * - A due slot fires once (one execution per slot; the table's UNIQUE (schedule_id, scheduled_for) backs it).
 * - After downtime, only the most recent missed slot fires, and only if it is within the catch-up window
 *   (now - slot <= window); older missed slots are skipped and reported.
 */

export type NextSlot = (cron: string, timezone: string, after: Date) => Date | null;

/** Why missed slots did not fire (see SlotPlan.skipped). */
export type SkipReason = "superseded" | "outside-window";

export interface DueSchedule {
  readonly cron: string;
  readonly timezone: string;
  /** The earliest slot not yet dispatched (workflow_schedules.next_run_at). */
  readonly nextRunAt: Date;
}

export interface SlotPlan {
  /** The slot to fire now, or null when every missed slot is outside the window. */
  readonly fire: Date | null;
  /**
   * Missed slots not fired: those from `first` up to, not including, `before` (the fired slot, or the next
   * slot when none fires). `count` is null when there were more than 100 (counting walks the slots).
   * `reason`: "superseded" when a later missed slot fires in their place, "outside-window" when none
   * does (every missed slot is older than the catch-up window).
   */
  readonly skipped: {
    count: number | null;
    first: Date;
    before: Date | null;
    reason: SkipReason;
  } | null;
  /** The first slot after now (the new next_run_at), or null when the schedule never fires again. */
  readonly nextRunAt: Date | null;
}

/** Counting skipped slots stops here (an every-second cron down for days would be millions of steps). */
const COUNT_LIMIT = 100;

export function planSlot(
  schedule: DueSchedule,
  now: Date,
  catchUpWindowMs: number,
  next: NextSlot,
): SlotPlan {
  const { cron, timezone } = schedule;
  const windowStart = new Date(now.getTime() - catchUpWindowMs);
  // Jump over slots older than the window without walking them one by one.
  let cursor: Date | null =
    schedule.nextRunAt < windowStart
      ? next(cron, timezone, new Date(windowStart.getTime() - 1))
      : schedule.nextRunAt;
  let fire: Date | null = null;
  while (cursor && cursor <= now) {
    fire = cursor;
    cursor = next(cron, timezone, cursor);
  }
  const before = fire ?? cursor;
  const missed = before === null || schedule.nextRunAt < before;
  const skipped = missed
    ? {
        count: countSlots(schedule, before, next),
        first: schedule.nextRunAt,
        before,
        reason: (fire ? "superseded" : "outside-window") as SkipReason,
      }
    : null;
  return { fire, skipped, nextRunAt: cursor };
}

/** Slots from nextRunAt up to, not including, `before`; null when more than COUNT_LIMIT. */
function countSlots(schedule: DueSchedule, before: Date | null, next: NextSlot): number | null {
  let count = 0;
  let cursor: Date | null = schedule.nextRunAt;
  while (cursor && (before === null || cursor < before)) {
    if (++count > COUNT_LIMIT) return null;
    cursor = next(schedule.cron, schedule.timezone, cursor);
  }
  return count;
}
