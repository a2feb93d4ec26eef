import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { MAX_SENDS } from "../../services/contracts/names.js";
import { silentLogger } from "../../services/core/logger.js";
import {
  createExecution,
  failExecution,
  finishExecution,
  getExecution,
} from "../../services/db/executions.js";
import type { ScheduleRow } from "../../services/db/schedules.js";
import { staleRunPolicy } from "../../services/db/stale-run-policy.js";
import {
  type LostRun,
  type RunnerExit,
  startExecutor,
  sweepStaleRuns,
} from "../../services/executor/index.js";
import { sendWorkflowMessage } from "../../services/queue/send.js";
import { insertScheduledWorkflow } from "../dispatcher/fixtures.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";

const { pool } = await createTestDatabase();
const testSqs = await createTestSqs();

/**
 * The runs' timeout in these tests: 300 s (the default), so "lost" is started_at more than 360 s ago; a
 * pending run is lost an hour after its message was sent.
 */
const policy = staleRunPolicy({ runTimeoutMs: 300_000, lostRunGraceSeconds: 60, pendingLimitSeconds: 3600 });

/** A scheduled execution left `running` since `startedSecondsAgo` (database clock), as a dead executor leaves it. */
async function runningExecution(
  startedSecondsAgo: number,
): Promise<{ executionId: string; scheduleId: string }> {
  const { workflowId, scheduleId } = await insertScheduledWorkflow(pool, {
    cron: "* * * * *",
    nextRunAt: null,
  });
  const executionId = await createExecution(pool, {
    workflowId,
    triggerType: "schedule",
    scheduleId,
    scheduledFor: new Date(Date.now() - startedSecondsAgo * 1000),
  });
  await pool.query(
    `UPDATE workflow_executions
     SET status = 'running', started_at = now() - make_interval(secs => $2), total_steps = 2
     WHERE id = $1`,
    [executionId, startedSecondsAgo],
  );
  return { executionId, scheduleId };
}

async function schedule(id: string): Promise<ScheduleRow> {
  const { rows } = await pool.query<ScheduleRow>("SELECT * FROM workflow_schedules WHERE id = $1", [id]);
  return rows[0] as ScheduleRow;
}

/** Sweeps and returns what it marked among the given executions (other tests' rows share the database). */
async function sweep(ids: string[], ours: string[] = []): Promise<LostRun[]> {
  const lost = await sweepStaleRuns({
    db: pool,
    logger: silentLogger,
    policy,
    isOurs: (id) => ours.includes(id),
  });
  return lost.filter((l) => ids.includes(l.executionId));
}

describe("stale-run sweep", () => {
  it("counts a run as lost after the run timeout plus the grace; never without a run timeout", () => {
    expect(policy).toEqual({ runningAfterSeconds: 360, pendingAfterSeconds: 3600 });
    const tight = staleRunPolicy({ runTimeoutMs: 1_500, lostRunGraceSeconds: 0, pendingLimitSeconds: 0 });
    expect(tight).toEqual({ runningAfterSeconds: 2, pendingAfterSeconds: null });
    expect(
      staleRunPolicy({ runTimeoutMs: 0, lostRunGraceSeconds: 60, pendingLimitSeconds: 10 })
        .runningAfterSeconds,
    ).toBeNull();
  });

  it("marks a run left running past the timeout error, and records it on its schedule", async () => {
    const { executionId, scheduleId } = await runningExecution(3600);
    const lost = await sweep([executionId]);
    expect(lost).toEqual([{ executionId, scheduleId, error: expect.stringMatching(/^runner lost: /) }]);

    const row = await getExecution(pool, executionId);
    expect(row?.status).toBe("error");
    expect(row?.error).toMatch(
      /^runner lost: still running 360\ds after it started, past the run timeout plus grace \(360s\); the executor running it stopped/,
    );
    expect(row?.completed_at).toBeInstanceOf(Date);
    expect(row?.duration_ms).toBeGreaterThanOrEqual(3_600_000);
    const after = await schedule(scheduleId);
    expect(after.last_status).toBe("error");
    expect(after.last_error).toBe(row?.error);
    expect(after.run_count).toBe(1);
    expect(after.last_run_at?.getTime()).toBe(row?.started_at?.getTime());

    // A second sweep finds nothing more to do and counts nothing twice.
    expect(await sweep([executionId])).toEqual([]);
    expect((await schedule(scheduleId)).run_count).toBe(1);
  });

  it("leaves a recent run, a finished one and a pending one never sent (the outbox's) alone", async () => {
    const recent = await runningExecution(300);
    const finished = await runningExecution(3600);
    await finishExecution(pool, finished.executionId, { status: "success", output: {} });
    const pending = await insertScheduledWorkflow(pool, { cron: "* * * * *", nextRunAt: null });
    const pendingId = await createExecution(pool, { workflowId: pending.workflowId, triggerType: "manual" });
    await pool.query("UPDATE workflow_executions SET created_at = now() - interval '2 hours' WHERE id = $1", [
      pendingId,
    ]);
    const ids = [recent.executionId, finished.executionId, pendingId];

    expect(await sweep(ids)).toEqual([]);
    expect((await getExecution(pool, recent.executionId))?.status).toBe("running");
    expect((await getExecution(pool, finished.executionId))?.status).toBe("success");
    expect((await getExecution(pool, pendingId))?.status).toBe("pending");
    expect((await schedule(recent.scheduleId)).run_count).toBe(0);
    expect((await schedule(finished.scheduleId)).run_count).toBe(0);
  });

  it("sends a pending run's message again when no runner took it within the pending limit, MAX_SENDS times, then records it as never started", async () => {
    const pending = await insertScheduledWorkflow(pool, { cron: "* * * * *", nextRunAt: null });
    const create = () => createExecution(pool, { workflowId: pending.workflowId, triggerType: "manual" });
    const [sentOnce, sentOften, sentRecently] = [await create(), await create(), await create()];
    const sent = (id: string, count: number, ago: string) =>
      pool.query(
        "UPDATE workflow_executions SET enqueued_at = now() - $3::interval, send_count = $2 WHERE id = $1",
        [id, count, ago],
      );
    await sent(sentOnce, 1, "2 hours");
    await sent(sentOften, MAX_SENDS, "2 hours");
    await sent(sentRecently, 1, "0 seconds");

    const lost = await sweep([sentOnce, sentOften, sentRecently]);
    // Sent again: back in the outbox, still pending.
    expect(await getExecution(pool, sentOnce)).toMatchObject({ status: "pending", enqueued_at: null });
    // Sent as often as allowed: recorded as never started.
    expect(lost.map((l) => l.executionId)).toEqual([sentOften]);
    expect(lost[0]?.error).toMatch(
      new RegExp(
        `^never started: its message was sent ${MAX_SENDS} times, the last 7\\d{3}s ago, and no runner took it within the pending limit \\(3600s\\)`,
      ),
    );
    expect((await getExecution(pool, sentOften))?.status).toBe("error");
    expect(await getExecution(pool, sentRecently)).toMatchObject({
      status: "pending",
      enqueued_at: expect.any(Date),
    });
  });

  it("leaves a run this executor runs right now alone, however old", async () => {
    const ours = await runningExecution(3600);
    const theirs = await runningExecution(3600);
    const lost = await sweep([ours.executionId, theirs.executionId], [ours.executionId]);
    expect(lost.map((l) => l.executionId)).toEqual([theirs.executionId]);
    expect((await getExecution(pool, ours.executionId))?.status).toBe("running");
    expect((await schedule(ours.scheduleId)).run_count).toBe(0);
  });

  it("does nothing when runs have no timeout", async () => {
    const { executionId } = await runningExecution(100_000);
    const noTimeout = staleRunPolicy({ runTimeoutMs: 0, lostRunGraceSeconds: 60, pendingLimitSeconds: 0 });
    const lost = await sweepStaleRuns({
      db: pool,
      logger: silentLogger,
      policy: noTimeout,
      isOurs: () => false,
    });
    expect(lost.filter((l) => l.executionId === executionId)).toEqual([]);
    expect((await getExecution(pool, executionId))?.status).toBe("running");
  });

  it("re-checks the age in its UPDATE: failExecution with onlyIfOverdue skips a younger run", async () => {
    const { executionId, scheduleId } = await runningExecution(600);
    const olderThan = (seconds: number) => ({
      onlyIfOverdue: { runningAfterSeconds: seconds, pendingAfterSeconds: null },
    });
    expect(await failExecution(pool, executionId, "runner lost: test", olderThan(3600))).toBe(false);
    expect((await getExecution(pool, executionId))?.status).toBe("running");
    expect(await failExecution(pool, executionId, "runner lost: test", olderThan(60))).toBe(true);
    expect((await schedule(scheduleId)).last_status).toBe("error");
  });
});

describe("executor with the stale-run sweep", () => {
  it("sweeps at start and on its interval, but never the runs it is running", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const before = await runningExecution(3600);
    const ours = await insertScheduledWorkflow(pool, { cron: "* * * * *", nextRunAt: null });
    const oursId = await createExecution(pool, { workflowId: ours.workflowId, triggerType: "manual" });
    await sendWorkflowMessage(testSqs.sqs, queueUrl, {
      executionId: oursId,
      workflowId: ours.workflowId,
      scheduleId: null,
      triggerType: "manual",
      triggerTime: new Date().toISOString(),
    });

    let theirs: { executionId: string } | undefined;
    const lost: string[] = [];
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      staleRuns: { policy, intervalMs: 50 },
      runProcess: async (executionId): Promise<RunnerExit> => {
        // Our run, claimed long ago as far as the database can tell; then another executor's run is lost.
        await pool.query(
          "UPDATE workflow_executions SET status = 'running', started_at = now() - interval '2 hours' WHERE id = $1",
          [executionId],
        );
        theirs = await runningExecution(3600);
        if (lost.includes(theirs.executionId)) release();
        await released;
        await finishExecution(pool, executionId, { status: "success", output: {} });
        return { pid: 1, exitCode: 0, signal: null, tail: [] };
      },
    });
    executor.events.on("lost", (l) => {
      lost.push(l.executionId);
      if (l.executionId === theirs?.executionId) release();
    });
    const [ended] = (await once(executor.events, "end")) as [{ executionId: string; status: string }];
    await executor.stop();

    expect(lost).toContain(before.executionId);
    expect(lost).toContain(theirs?.executionId);
    expect(lost).not.toContain(oursId);
    expect(ended).toMatchObject({ executionId: oursId, status: "success" });
    expect((await getExecution(pool, before.executionId))?.status).toBe("error");
  });
});
