import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../services/core/logger.js";
import { listStepLogs } from "../../services/db/execution-logs.js";
import { getExecution } from "../../services/db/executions.js";
import { startExecutor, sweepStaleRuns } from "../../services/executor/index.js";
import { sendWorkflowMessage } from "../../services/queue/send.js";
import { builtRunner, spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { scaled, within } from "../helpers/wait.js";
import { createPending, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

/**
 * A runner that dies mid-step never records that step's end. Whoever then records the run's end (the
 * executor that sees its child die, or the stale-run sweep after the executor died with its runners) closes
 * the step too: no step row stays `running` under a finished run (migration 0004).
 */

const { pool, url } = await createTestDatabase();
const testSqs = await createTestSqs();
const server = await startTestServer();

/** A workflow whose second step waits on a request that never answers; its execution queued. */
async function queuedSlowRun(queueUrl: string): Promise<string> {
  const { executionId, workflowId } = await createPending(
    pool,
    workflow(
      [trigger(), action("slow", "HTTP Request", { endpoint: `${server.base}/slow` })],
      edges("t->slow"),
    ),
  );
  await sendWorkflowMessage(testSqs.sqs, queueUrl, {
    executionId,
    workflowId,
    triggerType: "manual",
    triggerTime: new Date().toISOString(),
  });
  return executionId;
}

/** Its step rows still `running`: what must be none once the execution is finished. */
async function openSteps(executionId: string): Promise<string[]> {
  return (await listStepLogs(pool, executionId))
    .filter((log) => log.status === "running")
    .map((log) => log.node_id);
}

describe("a runner killed mid-step", () => {
  it("SIGKILL of the runner child: the executor records the run error and closes the step with the same reason", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const executionId = await queuedSlowRun(queueUrl);
    const slowReached = once(server.events, "slow");
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runner: builtRunner({ DATABASE_URL: url }),
    });
    try {
      const [started] = await within(once(executor.events, "start"), 20_000, "the runner starting");
      await within(slowReached, 20_000, "the run reaching its slow step");
      expect(await openSteps(executionId)).toEqual(["slow"]);
      const ended = once(executor.events, "end");
      process.kill(started.pid as number, "SIGKILL");
      await within(ended, 20_000, "the executor seeing its runner die");
    } finally {
      await executor.stop();
    }

    const execution = await getExecution(pool, executionId);
    expect(execution).toMatchObject({ status: "error" });
    expect(execution?.error).toMatch(/^runner process ended \(signal SIGKILL\)/);
    const steps = Object.fromEntries(
      (await listStepLogs(pool, executionId)).map((log) => [log.node_id, log]),
    );
    expect(steps.t?.status).toBe("success");
    expect(steps.slow).toMatchObject({ status: "error", error: execution?.error });
    expect(steps.slow?.completed_at).toEqual(execution?.completed_at);
  });

  it(
    "SIGKILL of the executor with its runners: the stale-run sweep records the run error and closes the step",
    async () => {
      const { queueUrl, env } = await testSqs.createQueues();
      const executionId = await queuedSlowRun(queueUrl);
      const slowReached = once(server.events, "slow");
      // Its own process group: the kill reaches the executor and every runner it started, as a container's would.
      const child = spawnCli(["executor"], { ...env, DATABASE_URL: url }, { detached: true });
      try {
        await within(slowReached, 20_000, "the run reaching its slow step");
        process.kill(-(child.pid as number), "SIGKILL");
        await within(child.result, 20_000, "the executor dying");
      } finally {
        if (child.exitCode === null && child.signalCode === null)
          process.kill(-(child.pid as number), "SIGKILL");
      }
      // Nobody is left to record the end: the run and its step stay open until the stale-run policy acts.
      expect((await getExecution(pool, executionId))?.status).toBe("running");
      expect(await openSteps(executionId)).toEqual(["slow"]);

      const lost = await sweepStaleRuns({
        db: pool,
        logger: silentLogger,
        policy: { runningAfterSeconds: 0, pendingAfterSeconds: null },
        isOurs: () => false,
      });
      expect(lost.map((run) => run.executionId)).toContain(executionId);
      const execution = await getExecution(pool, executionId);
      expect(execution?.status).toBe("error");
      expect(execution?.error).toMatch(/^runner lost: /);
      expect(await openSteps(executionId)).toEqual([]);
      const slow = (await listStepLogs(pool, executionId)).find((log) => log.node_id === "slow");
      expect(slow).toMatchObject({ status: "error", error: execution?.error });
    },
    scaled(60_000),
  );
});
