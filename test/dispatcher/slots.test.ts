import { describe, expect, it } from "vitest";
import { type NextSlot, planSlot } from "../../services/dispatcher/slots.js";

/** Every 10 minutes on the clock, until `end` (then never again). */
const everyTenMinutes =
  (end = Number.POSITIVE_INFINITY): NextSlot =>
  (_cron, _tz, after) => {
    const next = (Math.floor(after.getTime() / 600_000) + 1) * 600_000;
    return next > end ? null : new Date(next);
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
    let calls = 0;
    const counting: NextSlot = (cron, tz, after) => {
      calls++;
      return everyTenMinutes()(cron, tz, after);
    };
    const plan = planSlot(schedule(new Date("2025-01-01T00:00:00Z")), at("10:05"), WINDOW, counting);
    expect(plan.fire).toEqual(at("10:00"));
    expect(plan.skipped?.count).toBeNull();
    expect(calls).toBeLessThan(200);
  });
});
