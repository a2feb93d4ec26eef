import { describe, expect, it } from "vitest";
import { planSlot, type SlotSearch } from "../../services/dispatcher/slots.js";
import { latestSlotAtOrBefore, nextSlotAfter } from "../../services/scheduling/cron.js";

const TEN_MINUTES = 600_000;

/** Every 10 minutes on the clock, until `end` (then never again); counts the searches it answers. */
const everyTenMinutes = (end = Number.POSITIVE_INFINITY): SlotSearch & { calls: number } => {
  const slots = {
    calls: 0,
    next: (_cron: string, _tz: string, after: Date) => {
      slots.calls++;
      const next = (Math.floor(after.getTime() / TEN_MINUTES) + 1) * TEN_MINUTES;
      return next > end ? null : new Date(next);
    },
    latest: (_cron: string, _tz: string, at: Date) => {
      slots.calls++;
      return new Date(Math.floor(Math.min(at.getTime(), end) / TEN_MINUTES) * TEN_MINUTES);
    },
  };
  return slots;
};
const at = (hhmm: string) => new Date(`2026-01-01T${hhmm}:00Z`);
const schedule = (nextRunAt: Date) => ({ cron: "*/10 * * * *", timezone: "UTC", nextRunAt });
const WINDOW = 10 * 60_000;

describe("planSlot (the catch-up policy)", () => {
  it("fires a slot that is due now, skips nothing, and moves to the next slot", () => {
    expect(planSlot(schedule(at("10:00")), at("10:00"), WINDOW, everyTenMinutes())).toEqual({
      fire: at("10:00"),
      skipped: null,
      nextRunAt: at("10:10"),
    });
  });

  it("after downtime fires only the latest missed slot within the window; the rest are skipped, superseded", () => {
    expect(planSlot(schedule(at("09:00")), at("10:05"), WINDOW, everyTenMinutes())).toEqual({
      fire: at("10:00"),
      skipped: { count: 6, first: at("09:00"), before: at("10:00"), reason: "superseded" },
      nextRunAt: at("10:10"),
    });
  });

  it("fires nothing when every missed slot is older than the window: skipped, outside the window", () => {
    expect(planSlot(schedule(at("09:00")), at("10:05"), 4 * 60_000, everyTenMinutes())).toEqual({
      fire: null,
      skipped: { count: 7, first: at("09:00"), before: at("10:10"), reason: "outside-window" },
      nextRunAt: at("10:10"),
    });
  });

  it("a schedule that never fires again ends with next_run_at null", () => {
    expect(
      planSlot(
        schedule(at("10:00")),
        at("10:00"),
        WINDOW,
        everyTenMinutes(Date.parse("2026-01-01T10:05:00Z")),
      ),
    ).toEqual({ fire: at("10:00"), skipped: null, nextRunAt: null });
  });

  it("does not walk a very long downtime slot by slot, and reports the count as unknown past 100", () => {
    const slots = everyTenMinutes();
    const plan = planSlot(schedule(new Date("2025-01-01T00:00:00Z")), at("10:05"), WINDOW, slots);
    expect(plan.fire).toEqual(at("10:00"));
    expect(plan.skipped?.count).toBeNull();
    expect(slots.calls).toBeLessThan(200);
  });

  it("with a window of weeks, a year-old every-second schedule costs as many searches as a day-old one", () => {
    const searches = (nextRunAt: string) => {
      let calls = 0;
      const counted: SlotSearch = {
        next: (cron, tz, after) => {
          calls++;
          return nextSlotAfter(cron, tz, after);
        },
        latest: (cron, tz, time) => {
          calls++;
          return latestSlotAtOrBefore(cron, tz, time);
        },
      };
      const now = new Date("2026-06-01T12:00:00.400Z");
      const plan = planSlot(
        { cron: "* * * * * *", timezone: "UTC", nextRunAt: new Date(nextRunAt) },
        now,
        24 * 86_400_000,
        counted,
      );
      expect(plan.fire).toEqual(new Date("2026-06-01T12:00:00Z"));
      expect(plan.nextRunAt).toEqual(new Date("2026-06-01T12:00:01Z"));
      expect(plan.skipped).toMatchObject({ count: null, reason: "superseded" });
      return calls;
    };
    const yearBehind = searches("2025-06-01T12:00:00Z");
    expect(yearBehind).toBe(searches("2026-05-31T12:00:00Z"));
    expect(yearBehind).toBeLessThan(110);
  });

  it("fires a slot exactly at now, and counts the skipped slots before it exactly up to 100", () => {
    const plan = planSlot(
      { cron: "* * * * * *", timezone: "UTC", nextRunAt: new Date("2026-06-01T11:59:00Z") },
      new Date("2026-06-01T12:00:00Z"),
      WINDOW,
      { next: nextSlotAfter, latest: latestSlotAtOrBefore },
    );
    expect(plan.fire).toEqual(new Date("2026-06-01T12:00:00Z"));
    expect(plan.skipped).toMatchObject({ count: 60, before: new Date("2026-06-01T12:00:00Z") });
  });
});
