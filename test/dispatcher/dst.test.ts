import { describe, expect, it } from "vitest";
import { silentLogger } from "../../services/core/logger.js";
import { dispatchOnce } from "../../services/dispatcher/dispatcher.js";
import { createTestDatabase } from "../helpers/database.js";
import { insertScheduledWorkflow, recordingSender } from "./fixtures.js";

const { pool } = await createTestDatabase();

/** Runs the dispatcher every `stepMinutes` of fake time from `from` to `to`, as the every-minute CronJob would. */
async function runNight(from: string, to: string, stepMinutes: number): Promise<void> {
  const sender = recordingSender();
  for (let t = Date.parse(from); t <= Date.parse(to); t += stepMinutes * 60_000) {
    await dispatchOnce({ pool, send: sender, logger: silentLogger, now: () => new Date(t) });
  }
}

async function slotsOf(scheduleId: string): Promise<string[]> {
  const { rows } = await pool.query<{ scheduled_for: Date }>(
    "SELECT scheduled_for FROM workflow_executions WHERE schedule_id = $1 ORDER BY scheduled_for",
    [scheduleId],
  );
  return rows.map((row) => row.scheduled_for.toISOString());
}

async function disable(scheduleId: string): Promise<void> {
  await pool.query("UPDATE workflow_schedules SET enabled = false WHERE id = $1", [scheduleId]);
}

describe("DST in Europe/Berlin (dispatcher on a fake clock)", () => {
  it("spring forward (2026-03-29, 02:00 -> 03:00): a 02:30 daily slot runs once, at 03:00 CEST", async () => {
    const daily = await insertScheduledWorkflow(pool, {
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      nextRunAt: new Date("2026-03-28T01:30:00Z"),
    });
    await runNight("2026-03-28T01:30:00Z", "2026-03-29T04:00:00Z", 10);
    await disable(daily.scheduleId);
    // 02:30 CET on the 28th, then the 29th's 02:30 does not exist: it fires once at 03:00 CEST (01:00Z).
    expect(await slotsOf(daily.scheduleId)).toEqual(["2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z"]);
  });

  it("fall back (2026-10-25, 03:00 -> 02:00): a 02:30 daily slot runs once; a half-hourly one runs at every real half hour", async () => {
    const daily = await insertScheduledWorkflow(pool, {
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      nextRunAt: new Date("2026-10-25T00:30:00Z"),
    });
    const halfHourly = await insertScheduledWorkflow(pool, {
      cron: "*/30 * * * *",
      timezone: "Europe/Berlin",
      nextRunAt: new Date("2026-10-24T23:00:00Z"),
    });
    await runNight("2026-10-24T23:00:00Z", "2026-10-25T02:50:00Z", 5);
    await disable(daily.scheduleId);
    await disable(halfHourly.scheduleId);
    // 02:30 happens twice on the wall clock (CEST, then CET); the daily schedule runs at the first only.
    expect(await slotsOf(daily.scheduleId)).toEqual(["2026-10-25T00:30:00.000Z"]);
    // Every 30 real minutes, through both passes of the 02:00-03:00 hour: no gap, no double.
    expect(await slotsOf(halfHourly.scheduleId)).toEqual([
      "2026-10-24T23:00:00.000Z",
      "2026-10-24T23:30:00.000Z",
      "2026-10-25T00:00:00.000Z", // 02:00 CEST
      "2026-10-25T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T01:00:00.000Z", // 02:00 CET
      "2026-10-25T01:30:00.000Z", // 02:30 CET
      "2026-10-25T02:00:00.000Z",
      "2026-10-25T02:30:00.000Z",
    ]);
  });
});
