import { once } from "node:events";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { ENV } from "../../services/contracts/names.js";
import { newId } from "../../services/core/ids.js";
import { getExecution } from "../../services/db/executions.js";
import { freePort } from "../../services/embedded/postgres.js";
import { startEmbeddedSqs } from "../../services/embedded/sqs.js";
import { createSqsClient } from "../../services/queue/client.js";
import { ensureQueues } from "../../services/queue/ensure.js";
import { sendWorkflowMessage } from "../../services/queue/send.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { scaled, until, within } from "../helpers/wait.js";
import { createPending, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

const { pool, url } = await createTestDatabase();
const testSqs = await createTestSqs();
const server = await startTestServer();
/** The long poll `khctl queue ensure` gives the queue: a stop must not wait for it. */
const LONG_POLL_SECONDS = 20;

/** A pending execution of a workflow `trigger -> step`, and its message on the queue; returns its id. */
async function enqueueRun(sqs: SQSClient, queueUrl: string, step: { id: string }): Promise<string> {
  const { executionId, workflowId } = await createPending(
    pool,
    workflow([trigger(), step], edges(`t->${step.id}`)),
  );
  await sendWorkflowMessage(sqs, queueUrl, {
    executionId,
    workflowId,
    triggerType: "manual",
    triggerTime: new Date().toISOString(),
  });
  return executionId;
}

describe("khctl executor (the real CLI process)", () => {
  it(
    "started while SQS is out of reach: says so in one warning, keeps running, and runs a message once SQS is up",
    async () => {
      const port = await freePort();
      const endpoint = `http://127.0.0.1:${port}`;
      const queueName = `late-queue-${newId().slice(0, 8)}`;
      const child = spawnCli(["executor", "--shutdown-timeout", "5"], {
        DATABASE_URL: url,
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
        [ENV.awsEndpointUrl]: endpoint,
        [ENV.awsRegion]: "us-east-1",
        [ENV.awsAccessKeyId]: "test",
        [ENV.awsSecretAccessKey]: "test",
        // The queue URL as the emulator will name it (fauxqs knows a queue by its whole URL).
        [ENV.sqsQueueUrl]: `http://sqs.us-east-1.localhost:${port}/000000000000/${queueName}`,
      });
      const sqsServer = { stop: async () => {} };
      const sqs = createSqsClient({ endpoint, region: "us-east-1" }, {});
      try {
        await child.waitForOutput("SQS could not be asked at start");
        await child.waitForOutput("executor started");
        expect(child.exitCode).toBeNull();

        // LocalStack comes up (and has no queues): the executor's receives reach it, and it runs what is sent.
        Object.assign(sqsServer, await startEmbeddedSqs({ port }));
        const { queueUrl } = await ensureQueues(sqs, {
          queueName,
          deadLetterQueueName: `${queueName}-dlq`,
          receiveWaitSeconds: 1,
        });
        const executionId = await enqueueRun(
          sqs,
          queueUrl,
          action("c", "Condition", { condition: "1 + 1 === 2" }),
        );
        await until(
          "the execution sent after SQS came up to succeed",
          async () => (await getExecution(pool, executionId))?.status === "success",
          60_000,
        );
        child.kill("SIGTERM");
        const result = await within(child.result, 30_000, "the executor exiting after SIGTERM");
        expect(result.code).toBe(0);
        expect(result.stderr).not.toMatch(/khctl:/);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        sqs.destroy();
        await sqsServer.stop();
      }
    },
    scaled(90_000),
  );

  it("on SIGTERM during a run: stops receiving, cancels the run after the shutdown timeout, exits 0, nothing orphaned", async () => {
    const { queueUrl, env } = await testSqs.createQueues();
    const executionId = await enqueueRun(
      testSqs.sqs,
      queueUrl,
      action("slow", "HTTP Request", { endpoint: `${server.base}/slow` }),
    );
    const slowStarted = once(server.events, "slow");
    const fetchClosed = once(server.events, "slow-closed");
    const child = spawnCli(["executor", "--shutdown-timeout", "0.5", "--concurrency", "2"], {
      ...env,
      DATABASE_URL: url,
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    });
    await within(slowStarted, 20_000, "the run reaching its slow step");
    expect((await getExecution(pool, executionId))?.status).toBe("running");

    child.kill("SIGTERM");
    const result = await within(child.result, 15_000, "the executor exiting after SIGTERM");
    await within(fetchClosed, 5_000, "the run's request being aborted");
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/khctl:/);
    expect(await getExecution(pool, executionId)).toMatchObject({
      status: "cancelled",
      error: "cancelled: SIGTERM",
    });
    // The run is recorded, so its message is deleted rather than redelivered.
    const stats = await getQueueStats(testSqs.sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
    // The child runner is gone too: its pid (from the executor's log) no longer exists.
    const started = result.stderr
      .split("\n")
      .filter((line) => line.includes("execution started"))
      .map((line) => JSON.parse(line) as { pid: number });
    expect(started).toHaveLength(1);
    expect(() => process.kill(started[0]?.pid as number, 0)).toThrow();
  });

  it(
    "idle after a run, its 20 s long poll in flight: SIGTERM aborts the poll, exits 0 at once, nothing hidden",
    async () => {
      const { queueUrl, env } = await testSqs.createQueues({ receiveWaitSeconds: LONG_POLL_SECONDS });
      const child = spawnCli(["executor"], {
        ...env,
        DATABASE_URL: url,
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
      });
      try {
        const executionId = await enqueueRun(
          testSqs.sqs,
          queueUrl,
          action("c", "Condition", { condition: "1 + 1 === 2" }),
        );
        await until(
          "the run to succeed",
          async () => (await getExecution(pool, executionId))?.status === "success",
          30_000,
        );
        // Back in a 20 s long poll now: a stop that waited for it would take up to that long.
        child.kill("SIGTERM");
        const result = await within(child.result, 10_000, "the idle executor exiting after SIGTERM");
        expect(result.code).toBe(0);
        expect(result.stderr).not.toMatch(/khctl:/);
        const stats = await getQueueStats(testSqs.sqs, queueUrl);
        expect(stats.visible + stats.inFlight).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    },
    scaled(60_000),
  );

  it(
    "SIGTERM with a run in flight: the run finishes within the grace and is recorded, then it exits 0",
    async () => {
      const { queueUrl, env } = await testSqs.createQueues({ receiveWaitSeconds: LONG_POLL_SECONDS });
      const held = once(server.events, "held") as Promise<[() => void]>;
      const executionId = await enqueueRun(
        testSqs.sqs,
        queueUrl,
        action("h", "HTTP Request", { endpoint: `${server.base}/held` }),
      );
      const child = spawnCli(["executor", "--shutdown-timeout", "60"], {
        ...env,
        DATABASE_URL: url,
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
      });
      try {
        const [answer] = await within(held, 20_000, "the run reaching its held step");
        child.kill("SIGTERM");
        await child.waitForOutput("SIGTERM: stopping (work in flight gets up to 60 s");
        answer();
        // The run ends now; the consumer's 20 s poll (started with the run) must not hold the exit.
        const result = await within(child.result, 10_000, "the executor exiting once its run ended");
        expect(result.code).toBe(0);
        expect(await getExecution(pool, executionId)).toMatchObject({ status: "success", error: null });
        const stats = await getQueueStats(testSqs.sqs, queueUrl);
        expect(stats.visible + stats.inFlight).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    },
    scaled(60_000),
  );

  it("a second signal is acknowledged and cancels the run at once, whatever the shutdown timeout", async () => {
    const { queueUrl, env } = await testSqs.createQueues();
    const executionId = await enqueueRun(
      testSqs.sqs,
      queueUrl,
      action("slow", "HTTP Request", { endpoint: `${server.base}/slow` }),
    );
    const slowStarted = once(server.events, "slow");
    // An hour to finish after the first signal: only the second one can end the run in time.
    const child = spawnCli(["executor", "--shutdown-timeout", "3600"], {
      ...env,
      DATABASE_URL: url,
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
    });
    await within(slowStarted, 20_000, "the run reaching its slow step");
    child.kill("SIGTERM");
    await child.waitForOutput("SIGTERM: stopping (work in flight gets up to 3600 s");
    // Past the window in which a second signal counts as the same one relayed.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    child.kill("SIGTERM");
    const result = await within(child.result, 15_000, "the executor exiting after the second SIGTERM");
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("SIGTERM again: stopping now, aborting work in flight");
    expect(await getExecution(pool, executionId)).toMatchObject({ status: "cancelled" });
  });
});
