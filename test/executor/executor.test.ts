import { once } from "node:events";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../services/core/logger.js";
import { executionForMessage, getExecution } from "../../services/db/executions.js";
import { type RunnerExit, startExecutor } from "../../services/executor/index.js";
import { sendWorkflowMessage } from "../../services/queue/send.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { builtRunner } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { until } from "../helpers/wait.js";
import { createPending, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

const { pool, url } = await createTestDatabase();
const testSqs = await createTestSqs();
const server = await startTestServer();

/** The real, built `khctl run` child, started the way the executor starts it. */
const runner = builtRunner({ DATABASE_URL: url });

const okWorkflow = () =>
  workflow([trigger(), action("get", "HTTP Request", { endpoint: `${server.base}/` })], edges("t->get"));

const messageFor = (executionId: string, workflowId: string) => ({
  executionId,
  workflowId,
  scheduleId: null,
  triggerType: "manual" as const,
  triggerTime: new Date().toISOString(),
});

const exitOk: RunnerExit = { pid: 1, exitCode: 0, signal: null, tail: [] };

describe("executor", () => {
  it("runs executions in real child processes (khctl run) and deletes their messages once recorded", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const pending = await Promise.all([createPending(pool, okWorkflow()), createPending(pool, okWorkflow())]);
    for (const p of pending)
      await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(p.executionId, p.workflowId));
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runner,
    });
    const ended: string[] = [];
    executor.events.on("end", (e) => ended.push(`${e.executionId}:${e.status}`));
    await until("2 runs ended", () => ended.length === 2);
    await executor.stop();
    expect(ended.sort()).toEqual(pending.map((p) => `${p.executionId}:success`).sort());
    const stats = await getQueueStats(testSqs.sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("never runs more executions at once than its concurrency cap", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const pending = await Promise.all(Array.from({ length: 6 }, () => createPending(pool, okWorkflow())));
    for (const p of pending)
      await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(p.executionId, p.workflowId));
    const gates: (() => void)[] = [];
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      concurrency: 2,
      // A stub runner: claims and finishes the row like khctl run, but only when the test opens its gate.
      runProcess: async (executionId, { onSpawn }) => {
        onSpawn?.(1);
        await new Promise<void>((resolve) => gates.push(resolve));
        await pool.query(
          "UPDATE workflow_executions SET status = 'success', started_at = now(), completed_at = now() WHERE id = $1",
          [executionId],
        );
        return exitOk;
      },
    });
    let peak = 0;
    executor.events.on("start", (e) => {
      peak = Math.max(peak, e.running);
    });
    let ended = 0;
    executor.events.on("end", () => ended++);
    for (let released = 0; released < 6; released++) {
      // Both slots fill before the test opens one: the cap, not the test's pace, limits concurrency.
      await until("2 runs in progress", () => gates.length === Math.min(2, 6 - released));
      gates.shift()?.();
    }
    await until("6 runs ended", () => ended === 6);
    await executor.stop();
    expect(peak).toBe(2);
  });

  it("does not run an execution twice when its message is delivered again while it runs or after it finished", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const { executionId, workflowId } = await createPending(pool, okWorkflow());
    let runs = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stub = async (id: string) => {
      runs++;
      await pool.query(
        "UPDATE workflow_executions SET status = 'running', started_at = now() WHERE id = $1",
        [id],
      );
      await released;
      await pool.query(
        "UPDATE workflow_executions SET status = 'success', completed_at = now() WHERE id = $1",
        [id],
      );
      return exitOk;
    };
    const a = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runProcess: stub,
    });
    const b = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runProcess: stub,
    });
    const skips: string[] = [];
    for (const executor of [a, b]) executor.events.on("skip", (e) => skips.push(e.status));
    await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(executionId, workflowId));
    await until(
      "the execution running",
      async () => (await getExecution(pool, executionId))?.status === "running",
    );
    // The redelivery SQS makes when a visibility timeout runs out, while the first run is still going.
    await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(executionId, workflowId));
    await until("a skip of the running execution", () => skips.includes("running"));
    release();
    await until(
      "the execution succeeding",
      async () => (await getExecution(pool, executionId))?.status === "success",
    );
    // And once more after it finished.
    await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(executionId, workflowId));
    await until("a skip of the finished execution", () => skips.includes("success"));
    await Promise.all([a.stop(), b.stop()]);
    expect(runs).toBe(1);
    const stats = await getQueueStats(testSqs.sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("a message redelivered after its visibility ran out (the first executor died) does not run the execution again", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const running = await createPending(pool, okWorkflow());
    const finished = await createPending(pool, okWorkflow());
    for (const p of [running, finished]) {
      await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(p.executionId, p.workflowId));
    }
    // A first executor receives both with a 1 s visibility timeout, its runners claim them (one even finishes),
    // and then it dies: no delete, no heartbeat.
    const first = await testSqs.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 1,
      }),
    );
    expect(first.Messages).toHaveLength(2);
    await pool.query(
      "UPDATE workflow_executions SET status = 'running', started_at = now() WHERE id = ANY($1)",
      [[running.executionId, finished.executionId]],
    );
    await pool.query(
      "UPDATE workflow_executions SET status = 'success', completed_at = now() WHERE id = $1",
      [finished.executionId],
    );
    let runs = 0;
    const second = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runProcess: async () => {
        runs++;
        return exitOk;
      },
    });
    const skipped: string[] = [];
    second.events.on("skip", (e) => skipped.push(`${e.executionId}:${e.status}`));
    await until("2 skips", () => skipped.length === 2);
    await second.stop();
    expect(runs).toBe(0);
    expect(skipped.sort()).toEqual(
      [`${finished.executionId}:success`, `${running.executionId}:running`].sort(),
    );
    const stats = await getQueueStats(testSqs.sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("moves a malformed message to the DLQ and goes on with the rest; records a runner that died mid-run", async () => {
    const { queueUrl, deadLetterQueueUrl } = await testSqs.createQueues();
    const { executionId, workflowId } = await createPending(pool, okWorkflow());
    await testSqs.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"workflowId": 42}' }));
    await sendWorkflowMessage(testSqs.sqs, queueUrl, messageFor(executionId, workflowId));
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      deadLetterQueueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runProcess: async (id) => {
        await pool.query(
          "UPDATE workflow_executions SET status = 'running', started_at = now() WHERE id = $1",
          [id],
        );
        return { pid: 1, exitCode: null, signal: "SIGKILL", tail: ["Killed"] };
      },
    });
    const end = once(executor.events, "end");
    const [event] = await end;
    await until(
      "the message in the DLQ",
      async () => (await getQueueStats(testSqs.sqs, queueUrl, deadLetterQueueUrl)).deadLetter === 1,
    );
    await executor.stop();
    expect(event.status).toBe("error");
    expect((await getExecution(pool, executionId))?.error).toMatch(/runner process ended \(signal SIGKILL\)/);
  });

  it("creates one execution for a message without executionId, however often it is delivered", async () => {
    const adoptExecution = async (message: Parameters<typeof executionForMessage>[1], messageId: string) =>
      (await executionForMessage(pool, message, messageId)).id;
    const { workflowId } = await createPending(pool, okWorkflow());
    const manual = { workflowId, triggerType: "manual" as const, triggerTime: new Date().toISOString() };
    const first = await adoptExecution(manual, "message-1");
    expect(await adoptExecution(manual, "message-1")).toBe(first);
    expect(await adoptExecution(manual, "message-2")).not.toBe(first);
    const row = await getExecution(pool, first);
    expect(row).toMatchObject({ status: "pending", trigger_type: "manual" });
    // Marked enqueued: the dispatcher's outbox must not send it a second time.
    expect(row?.enqueued_at).not.toBeNull();

    const { rows } = await pool.query<{ id: string }>(
      "INSERT INTO workflow_schedules (id, workflow_id, cron_expression) VALUES ('sched0000000000000001', $1, '* * * * *') RETURNING id",
      [workflowId],
    );
    const scheduled = {
      workflowId,
      scheduleId: rows[0]?.id,
      triggerType: "schedule" as const,
      triggerTime: "2026-06-01T10:00:00.000Z",
    };
    const a = await adoptExecution(scheduled, "message-3");
    expect(await adoptExecution(scheduled, "message-4")).toBe(a);
    expect((await getExecution(pool, a))?.scheduled_for?.toISOString()).toBe("2026-06-01T10:00:00.000Z");
  });
});
