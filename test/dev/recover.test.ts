import { describe, expect, it } from "vitest";
import { createExecution, getExecution } from "../../services/db/executions.js";
import { recoverPreviousRun } from "../../services/dev/environment.js";
import { insertScheduledWorkflow } from "../dispatcher/fixtures.js";
import { createTestDatabase } from "../helpers/database.js";

const { pool } = await createTestDatabase();

/** An execution in the given state, as a `khctl dev` stopped mid-way leaves it. */
async function execution(
  state: { status: string; enqueued: boolean },
  schedule?: { workflowId: string; scheduleId: string },
): Promise<string> {
  const { workflowId, scheduleId } =
    schedule ?? (await insertScheduledWorkflow(pool, { cron: "* * * * *", nextRunAt: null }));
  const id = await createExecution(pool, {
    workflowId,
    triggerType: "schedule",
    scheduleId,
    scheduledFor: new Date(Date.UTC(2026, 0, 1, 0, Math.floor(Math.random() * 1_000_000))),
  });
  await pool.query(
    `UPDATE workflow_executions
     SET status = $2,
         enqueued_at = CASE WHEN $3 THEN now() END,
         started_at = CASE WHEN $2 <> 'pending' THEN now() END,
         completed_at = CASE WHEN $2 IN ('success', 'error', 'cancelled') THEN now() END
     WHERE id = $1`,
    [id, state.status, state.enqueued],
  );
  return id;
}

describe("khctl dev start-up recovery (the queue was in memory and is gone)", () => {
  it("re-queues pending runs, records interrupted runs as error on their schedule, and leaves finished ones", async () => {
    const interruptedSchedule = await insertScheduledWorkflow(pool, { cron: "* * * * *", nextRunAt: null });
    const sentButLost = await execution({ status: "pending", enqueued: true });
    const neverSent = await execution({ status: "pending", enqueued: false });
    const interrupted = await execution({ status: "running", enqueued: true }, interruptedSchedule);
    const finished = await execution({ status: "success", enqueued: true });

    const result = await recoverPreviousRun(pool);

    expect(result).toEqual({ interrupted: 1, requeued: 1 });
    expect((await getExecution(pool, sentButLost))?.enqueued_at).toBeNull();
    expect((await getExecution(pool, neverSent))?.enqueued_at).toBeNull();
    const lost = await getExecution(pool, interrupted);
    expect(lost?.status).toBe("error");
    expect(lost?.error).toMatch(/^interrupted: khctl dev stopped during the run/);
    expect(lost?.completed_at).toBeInstanceOf(Date);
    const { rows } = await pool.query("SELECT last_status, run_count FROM workflow_schedules WHERE id = $1", [
      interruptedSchedule.scheduleId,
    ]);
    expect(rows[0]).toEqual({ last_status: "error", run_count: 1 });
    const done = await getExecution(pool, finished);
    expect(done?.status).toBe("success");
    expect(done?.enqueued_at).toBeInstanceOf(Date);

    // A second start finds nothing left to recover.
    expect(await recoverPreviousRun(pool)).toEqual({ interrupted: 0, requeued: 0 });
  });
});
