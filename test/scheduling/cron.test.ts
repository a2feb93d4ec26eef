import { describe, expect, it } from "vitest";
import {
  latestSlotAtOrBefore,
  nextSlotAfter,
  nextSlots,
  ScheduleError,
  validateSchedule,
} from "../../services/scheduling/cron.js";

describe("validateSchedule", () => {
  it("accepts 5- and 6-field expressions and normalises spacing", () => {
    expect(validateSchedule(" */5  * * * * ", "UTC")).toEqual({ cron: "*/5 * * * *", timezone: "UTC" });
    expect(validateSchedule("30 0 * * * *", "Europe/Berlin").cron).toBe("30 0 * * * *");
    expect(validateSchedule("@hourly").timezone).toBe("UTC");
  });

  it.each([
    ["* * * *", "UTC", /has 4 field\(s\)/],
    ["0 0 0 * * * *", "UTC", /has 7 field\(s\)/],
    ["61 * * * *", "UTC", /invalid cron "61 \* \* \* \*": .*minute/],
    ["0 0 30 2 *", "UTC", /never fires/],
    ["", "UTC", /empty/],
    ["0 9 * * *", "Mars/Olympus", /unknown time zone "Mars\/Olympus"/],
    ["0 9 * * *", "", /unknown time zone/],
  ])("rejects %j in %j", (cron, timezone, message) => {
    expect(() => validateSchedule(cron, timezone)).toThrow(ScheduleError);
    expect(() => validateSchedule(cron, timezone)).toThrow(message);
  });
});

describe("nextSlots", () => {
  it("lists the next slots in order, each the one nextSlotAfter gives after the last, DST included", () => {
    const slots = nextSlots("30 2 * * *", "Europe/Berlin", new Date("2026-03-27T12:00:00Z"), 3);
    // The 29th's 02:30 does not exist in Berlin: it runs at 03:00 CEST, as nextSlotAfter says.
    expect(slots.map((slot) => slot.toISOString())).toEqual([
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
    expect(nextSlots("*/5 * * * *", "UTC", new Date("2026-01-01T00:00:00Z"), 0)).toEqual([]);
  });
});

describe("nextSlotAfter", () => {
  it("is strictly after the given time", () => {
    const at = new Date("2026-01-01T00:00:00Z");
    expect(nextSlotAfter("* * * * *", "UTC", at)?.toISOString()).toBe("2026-01-01T00:01:00.000Z");
    expect(nextSlotAfter("*/15 * * * *", "UTC", new Date("2026-01-01T00:14:59.900Z"))?.toISOString()).toBe(
      "2026-01-01T00:15:00.000Z",
    );
  });

  it("supports seconds as a sixth field", () => {
    expect(nextSlotAfter("*/10 * * * * *", "UTC", new Date("2026-01-01T00:00:01Z"))?.toISOString()).toBe(
      "2026-01-01T00:00:10.000Z",
    );
  });

  it("follows the zone's wall clock across a DST change", () => {
    // Europe/Berlin switches to summer time on 2026-03-29: 09:00 local is 08:00Z before, 07:00Z after.
    expect(nextSlotAfter("0 9 * * *", "Europe/Berlin", new Date("2026-03-27T12:00:00Z"))?.toISOString()).toBe(
      "2026-03-28T08:00:00.000Z",
    );
    expect(nextSlotAfter("0 9 * * *", "Europe/Berlin", new Date("2026-03-28T12:00:00Z"))?.toISOString()).toBe(
      "2026-03-29T07:00:00.000Z",
    );
  });

  it("throws ScheduleError for an invalid schedule", () => {
    expect(() => nextSlotAfter("nope", "UTC", new Date())).toThrow(ScheduleError);
  });
});

describe("latestSlotAtOrBefore", () => {
  it("includes a slot exactly at the given time, and finds a slot far back in one search", () => {
    expect(latestSlotAtOrBefore("* * * * * *", "UTC", new Date("2026-01-01T00:00:05Z"))?.toISOString()).toBe(
      "2026-01-01T00:00:05.000Z",
    );
    expect(
      latestSlotAtOrBefore("*/15 * * * *", "UTC", new Date("2026-01-01T00:14:59.900Z"))?.toISOString(),
    ).toBe("2026-01-01T00:00:00.000Z");
    expect(latestSlotAtOrBefore("0 0 29 2 *", "UTC", new Date("2027-03-01T00:00:00Z"))?.toISOString()).toBe(
      "2024-02-29T00:00:00.000Z",
    );
  });

  it("agrees with nextSlotAfter through both DST changes in Europe/Berlin", () => {
    // Spring forward: the 29th's 02:30 does not exist and runs at 03:00 CEST (01:00Z), as nextSlotAfter says.
    expect(
      latestSlotAtOrBefore("30 2 * * *", "Europe/Berlin", new Date("2026-03-29T04:00:00Z"))?.toISOString(),
    ).toBe("2026-03-29T01:00:00.000Z");
    // Fall back: 02:30 happens twice; the daily slot is the first one only.
    expect(
      latestSlotAtOrBefore("30 2 * * *", "Europe/Berlin", new Date("2026-10-25T02:50:00Z"))?.toISOString(),
    ).toBe("2026-10-25T00:30:00.000Z");
    expect(
      latestSlotAtOrBefore("*/30 * * * *", "Europe/Berlin", new Date("2026-10-25T01:10:00Z"))?.toISOString(),
    ).toBe("2026-10-25T01:00:00.000Z");
  });

  it("throws ScheduleError for an invalid schedule", () => {
    expect(() => latestSlotAtOrBefore("61 * * * *", "UTC", new Date())).toThrow(ScheduleError);
  });
});
