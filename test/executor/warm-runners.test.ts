import { describe, expect, it } from "vitest";
import { silentLogger } from "../../services/core/logger.js";
import { startExecutor } from "../../services/executor/index.js";
import { sendWorkflowMessage } from "../../services/queue/send.js";
import { builtRunner, spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { warmRunnerPids } from "../helpers/processes.js";
import { createTestSqs } from "../helpers/sqs.js";
import { until, within } from "../helpers/wait.js";
import { createPending, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// Warm runners: started ahead of their executions, each takes exactly one and exits.

const { pool, url } = await createTestDatabase();
const testSqs = await createTestSqs();
const server = await startTestServer();

const okWorkflow = () =>
  workflow([trigger(), action("get", "HTTP Request", { endpoint: `${server.base}/` })], edges("t->get"));

describe("warm runners", () => {
  it("run each execution in a process of its own, never twice, and leave nothing behind after the stop", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      concurrency: 2,
      waitTimeSeconds: 1,
      warmRunners: 2,
      runner: builtRunner({ DATABASE_URL: url }),
    });
    const started: { executionId: string; pid: number | undefined }[] = [];
    executor.events.on("start", (e) => started.push({ executionId: e.executionId, pid: e.pid }));
    try {
      await until("two warm runners waiting", async () => (await warmRunnerPids(url)).length === 2);
      const warm = await warmRunnerPids(url);
      const runs = await Promise.all(Array.from({ length: 5 }, () => createPending(pool, okWorkflow())));
      for (const run of runs) {
        await sendWorkflowMessage(testSqs.sqs, queueUrl, {
          executionId: run.executionId,
          workflowId: run.workflowId,
          triggerType: "manual",
          triggerTime: new Date().toISOString(),
        });
      }
      const ids = runs.map((run) => run.executionId);
      await until("all five runs recorded", async () => {
        const { rows } = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM workflow_executions WHERE id = ANY($1) AND status = 'success'",
          [ids],
        );
        return rows[0]?.n === 5;
      });
      // A process per execution: five distinct pids, the first ones the runners that were waiting.
      expect(new Set(started.map((s) => s.pid)).size).toBe(5);
      expect(started.some((s) => warm.includes(s.pid as number))).toBe(true);
      const { rows } = await pool.query<{ execution_id: string; n: number }>(
        "SELECT execution_id, count(*)::int AS n FROM workflow_execution_logs WHERE execution_id = ANY($1) AND node_id = 't' GROUP BY execution_id",
        [ids],
      );
      expect(rows.map((r) => r.n)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await executor.stop();
    }
    await until("no warm runner left", async () => (await warmRunnerPids(url)).length === 0);
  });

  it("khctl run --id-from-stdin runs the execution named on stdin; stdin closed without one is a quiet exit 0", async () => {
    const idle = spawnCli(["run", "--id-from-stdin"], { DATABASE_URL: url }, { stdin: "pipe" });
    idle.stdin?.end();
    expect(await within(idle.result, 20_000, "the idle runner exiting")).toMatchObject({
      code: 0,
      stdout: "",
    });

    const { executionId } = await createPending(pool, okWorkflow());
    const runner = spawnCli(["run", "--id-from-stdin"], { DATABASE_URL: url }, { stdin: "pipe" });
    runner.stdin?.end(`${executionId}\n`);
    const result = await within(runner.result, 20_000, "the runner finishing");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`execution ${executionId}: success`);
  });
});
