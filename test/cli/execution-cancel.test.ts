import { describe, expect, it } from "vitest";
import { claimExecution, createExecution, getExecution } from "../../services/db/executions.js";
import { getScheduleForWorkflow } from "../../services/db/schedules.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { nextSlotAfter } from "../../services/scheduling/cron.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// `khctl execution cancel` from the real khctl, and what a cancel records (db/executions.ts cancelExecution).

const { pool, url } = await createTestDatabase();
const khctl = (...args: string[]) => spawnCli(args, { DATABASE_URL: url }).result;

const cron = "*/5 * * * *";
const { workflow: stored } = await createWorkflow(pool, {
  definition: validateWorkflow(
    workflow(
      [
        trigger("t", { triggerType: "Schedule", scheduleCron: cron }),
        action("c", "Condition", { condition: "true" }),
      ],
      edges("t->c"),
      "Cancel me",
    ),
  ),
  schedule: { cron, timezone: "UTC", nextRunAt: nextSlotAfter(cron, "UTC", new Date()) },
});
const schedule = await getScheduleForWorkflow(pool, stored.id);
let slot = Date.UTC(2026, 0, 1);
/** A pending execution of the next five-minute slot. */
const scheduled = () => {
  slot += 300_000;
  return createExecution(pool, {
    workflowId: stored.id,
    triggerType: "schedule",
    scheduleId: schedule?.id,
    scheduledFor: new Date(slot),
    enqueued: true,
  });
};

describe("khctl execution cancel", () => {
  it("cancels a pending run: it never started, so its schedule does not count it", async () => {
    const id = await scheduled();
    const result = await khctl("execution", "cancel", id);
    expect(result).toMatchObject({
      code: 0,
      stdout: `execution ${id} cancelled: it had not started, and never will\n`,
      stderr: "",
    });
    expect(await getExecution(pool, id)).toMatchObject({
      status: "cancelled",
      started_at: null,
      duration_ms: null,
      error: "cancelled with khctl execution cancel",
    });
    expect((await getScheduleForWorkflow(pool, stored.id))?.run_count).toBe(0);
  });

  it("cancels a running run (--json): recorded at once, and counted on its schedule as the runner would", async () => {
    const id = await scheduled();
    await claimExecution(pool, id, 1);
    const result = await khctl("execution", "cancel", id, "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ executionId: id, cancelled: true, was: "running" });
    expect((await getExecution(pool, id))?.status).toBe("cancelled");
    expect(await getScheduleForWorkflow(pool, stored.id)).toMatchObject({
      run_count: 1,
      last_status: "cancelled",
      last_error: "cancelled with khctl execution cancel",
    });
  });

  it("refuses a finished run, and an unknown id, in one line (exit 1); nothing changes", async () => {
    const id = await scheduled();
    await pool.query(
      "UPDATE workflow_executions SET status = 'success', completed_at = now() WHERE id = $1",
      [id],
    );
    const refused = await khctl("execution", "cancel", id);
    expect(refused).toMatchObject({
      code: 1,
      stdout: "",
      stderr: `khctl: execution ${id} is already success: only a pending or running run can be cancelled\n`,
    });
    expect((await getExecution(pool, id))?.status).toBe("success");
    const missing = await khctl("execution", "cancel", "z".repeat(21));
    expect(missing).toMatchObject({ code: 1, stderr: `khctl: execution ${"z".repeat(21)} does not exist\n` });
  });
});
