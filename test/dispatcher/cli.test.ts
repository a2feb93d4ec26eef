import { describe, expect, it } from "vitest";
import { runCliInProcess } from "../cli/cli.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { until } from "../helpers/wait.js";
import { insertScheduledWorkflow } from "./fixtures.js";

const { pool, url } = await createTestDatabase();
const testSqs = await createTestSqs();

async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const previous = { ...process.env };
  Object.assign(process.env, env, { LOG_LEVEL: "silent" });
  // An empty value means "remove it" here.
  for (const [key, value] of Object.entries(env)) if (value === "") delete process.env[key];
  try {
    return await fn();
  } finally {
    process.env = previous;
  }
}

describe("khctl dispatch (once-mode, the CronJob)", () => {
  it("exits 1 when it cannot send, keeps the execution in the outbox, and a rerun sends it exactly once", async () => {
    const { queueUrl, env } = await testSqs.createQueues();
    // One slot due 30 s ago, and the next one months away: a minute passing during the test (a loaded
    // machine) brings no second slot that the rerun would send too.
    const { scheduleId } = await insertScheduledWorkflow(pool, {
      cron: "0 0 1 1 *",
      nextRunAt: new Date(Date.now() - 30_000),
    });
    const down = await withEnv({ ...env, DATABASE_URL: url, AWS_ENDPOINT_URL: "http://127.0.0.1:9" }, () =>
      runCliInProcess(["dispatch"]),
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/khctl: 1 message\(s\) could not be sent; they stay in the outbox/);
    const { rows } = await pool.query<{ id: string; enqueued_at: Date | null }>(
      "SELECT id, enqueued_at FROM workflow_executions WHERE schedule_id = $1",
      [scheduleId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.enqueued_at).toBeNull();

    const up = await withEnv({ ...env, DATABASE_URL: url }, () => runCliInProcess(["dispatch", "--json"]));
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ sent: 1, unsent: 0 });
    const again = await withEnv({ ...env, DATABASE_URL: url }, () => runCliInProcess(["dispatch", "--json"]));
    expect(JSON.parse(again.stdout)).toMatchObject({ sent: 0, dispatched: [] });
    const stats = await withEnv({ ...env }, () => runCliInProcess(["queue", "stats", "--json"]));
    expect(JSON.parse(stats.stdout)).toMatchObject({ visible: 1 });
    expect(queueUrl).toBe(env.SQS_QUEUE_URL);
  });

  it("--loop dispatches as slots come due and exits 0 on SIGTERM", async () => {
    const { env } = await testSqs.createQueues();
    const { scheduleId } = await insertScheduledWorkflow(pool, {
      cron: "* * * * * *",
      nextRunAt: new Date(Date.now() - 500),
    });
    const child = spawnCli(["dispatch", "--loop", "--interval", "0.2"], { ...env, DATABASE_URL: url });
    // Every second: wait for two slots, which needs at least two passes of the loop.
    await until("two slots enqueued", async () => {
      if (child.exitCode !== null) throw new Error(`dispatcher exited early: ${(await child.result).stderr}`);
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM workflow_executions WHERE schedule_id = $1 AND enqueued_at IS NOT NULL",
        [scheduleId],
      );
      return (rows[0]?.n ?? 0) >= 2;
    });
    await pool.query("UPDATE workflow_schedules SET enabled = false WHERE id = $1", [scheduleId]);
    child.kill("SIGTERM");
    const result = await child.result;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/khctl:/);
  });

  it("refuses bad settings with one line naming them", async () => {
    const { env } = await testSqs.createQueues();
    const flag = await withEnv({ ...env, DATABASE_URL: url }, () =>
      runCliInProcess(["dispatch", "--catch-up-window", "soon"]),
    );
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      'khctl: --catch-up-window must be a number of seconds from 0 to 604800, got "soon"\n',
    );
    const variable = await withEnv({ ...env, DATABASE_URL: url, DISPATCH_BATCH_SIZE: "2.5" }, () =>
      runCliInProcess(["dispatch"]),
    );
    expect(variable.code).toBe(1);
    expect(variable.stderr).toBe(
      'khctl: DISPATCH_BATCH_SIZE must be a whole number from 1 to 10000, got "2.5"\n',
    );
    // Above its ceiling (and beyond what a timer can wait): refused, not turned into 1 ms.
    const tooLong = await withEnv({ ...env, DATABASE_URL: url }, () =>
      runCliInProcess(["dispatch", "--interval", "3000000"]),
    );
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/^khctl: --interval must be a number of seconds from 0.1 to 3600, got/);
    const noQueue = await withEnv({ DATABASE_URL: url, SQS_QUEUE_URL: "" }, () =>
      runCliInProcess(["dispatch"]),
    );
    expect(noQueue.code).toBe(1);
    expect(noQueue.stderr).toBe("khctl: SQS_QUEUE_URL is not set\n");
  });
});
