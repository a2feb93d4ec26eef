import { describe, expect, it } from "vitest";
import { type ClaimedSchedule, CRON_SLOTS, planBatch } from "../../services/dispatcher/dispatcher.js";

// The dispatcher's planning step as a pure function: claimed schedules and a time in, what to fire and
// where each schedule's next slot is out. No database.

const at = (iso: string) => new Date(`2026-04-01T${iso}Z`);
const WINDOW = 10 * 60_000;

const claimed = (overrides: Partial<ClaimedSchedule>): ClaimedSchedule => ({
  id: "schedule-a",
  workflowId: "workflow-a",
  workflowEnabled: true,
  cron: "*/5 * * * *",
  timezone: "UTC",
  nextRunAt: at("09:00:00"),
  ...overrides,
});

describe("planBatch", () => {
  it("fires a due slot with a new execution id and moves the schedule to its next slot", () => {
    const plan = planBatch([claimed({})], at("09:00:10"), WINDOW, CRON_SLOTS);
    expect(plan.fire).toEqual([
      {
        executionId: expect.stringMatching(/^[0-9a-z]{21}$/),
        workflowId: "workflow-a",
        scheduleId: "schedule-a",
        slot: at("09:00:00"),
      },
    ]);
    expect(plan.advance).toEqual([{ scheduleId: "schedule-a", nextRunAt: at("09:05:00") }]);
    expect(plan.skipped).toEqual([]);
    expect(plan.invalid).toEqual([]);
  });

  it("after downtime fires the latest missed slot and reports the ones before it, naming the workflow", () => {
    const plan = planBatch([claimed({ nextRunAt: at("08:50:00") })], at("09:07:00"), WINDOW, CRON_SLOTS);
    expect(plan.fire.map((f) => f.slot)).toEqual([at("09:05:00")]);
    expect(plan.skipped).toEqual([
      {
        scheduleId: "schedule-a",
        workflowId: "workflow-a",
        count: 3,
        first: at("08:50:00"),
        before: at("09:05:00"),
        reason: "superseded",
      },
    ]);
  });

  it("lets a disabled workflow's slots pass without a run, and sets an invalid schedule aside", () => {
    const plan = planBatch(
      [
        claimed({ id: "disabled", workflowEnabled: false }),
        claimed({ id: "broken", cron: "61 * * * *" }),
        claimed({ id: "bad-zone", timezone: "Mars/Olympus" }),
      ],
      at("09:00:10"),
      WINDOW,
      CRON_SLOTS,
    );
    expect(plan.fire).toEqual([]);
    expect(plan.skipped).toEqual([]);
    expect(plan.advance).toEqual([
      { scheduleId: "disabled", nextRunAt: at("09:05:00") },
      { scheduleId: "broken", nextRunAt: null },
      { scheduleId: "bad-zone", nextRunAt: null },
    ]);
    expect(plan.invalid.map((i) => i.scheduleId)).toEqual(["broken", "bad-zone"]);
  });

  it("gives each fired slot its own execution id", () => {
    const plan = planBatch(
      [claimed({ id: "a" }), claimed({ id: "b" }), claimed({ id: "c" })],
      at("09:00:00"),
      WINDOW,
      CRON_SLOTS,
    );
    expect(new Set(plan.fire.map((f) => f.executionId)).size).toBe(3);
  });
});
