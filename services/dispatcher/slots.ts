/**
 * The catch-up policy, as a pure function: which slot of a schedule to fire now, which missed slots to
 * skip, and the schedule's next slot. Times are the database clock's.
 *
 * - A due slot fires once (one execution per slot; the table's UNIQUE (schedule_id, scheduled_for) backs it).
 * - After downtime, only the most recent missed slot fires, and only if it is within the catch-up window
 *   (now - slot <= window); older missed slots are skipped and reported.
 */

export type NextSlot = (cron: string, timezone: string, after: Date) => Date | null;

/** The latest slot at or before `at`, or null when there is none (scheduling/cron.ts). */
export type LatestSlot = (cron: string, timezone: string, at: Date) => Date | null;

/** The two searches the policy needs over a schedule's slots; planSlot calls each a bounded number of times. */
export interface SlotSearch {
  readonly next: NextSlot;
  readonly latest: LatestSlot;
}

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
   * slot when none fires). `count` is null when there were more than 100 (counting steps through them).
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

/** Counting skipped slots stops here: the count costs one forward step per slot, whatever the downtime. */
const COUNT_LIMIT = 100;

/**
 * Constant work per schedule, however long it was down: one search back from now for the latest slot, one
 * forward for the next, and at most COUNT_LIMIT + 1 steps to count the skipped slots.
 */
export function planSlot(
  schedule: DueSchedule,
  now: Date,
  catchUpWindowMs: number,
  slots: SlotSearch,
): SlotPlan {
  const { cron, timezone } = schedule;
  if (schedule.nextRunAt > now) return { fire: null, skipped: null, nextRunAt: schedule.nextRunAt };
  // next_run_at is the first slot not dispatched; a later slot at or before now supersedes it.
  const latest = slots.latest(cron, timezone, now);
  const due = latest && latest > schedule.nextRunAt ? latest : schedule.nextRunAt;
  const fire = now.getTime() - due.getTime() <= catchUpWindowMs ? due : null;
  const nextRunAt = slots.next(cron, timezone, now);
  const before = fire ?? nextRunAt;
  const missed = before === null || schedule.nextRunAt < before;
  const skipped = missed
    ? {
        count: countSlots(schedule, before, slots.next),
        first: schedule.nextRunAt,
        before,
        reason: (fire ? "superseded" : "outside-window") as SkipReason,
      }
    : null;
  return { fire, skipped, nextRunAt };
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
