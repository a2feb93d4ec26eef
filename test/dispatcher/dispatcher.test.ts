import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { parseWorkflowMessage } from "../../services/contracts/message.js";
import { silentLogger } from "../../services/core/logger.js";
import { createExecution } from "../../services/db/executions.js";
import { dispatchOnce, startDispatcherLoop } from "../../services/dispatcher/dispatcher.js";
import type { MessageSender } from "../../services/dispatcher/outbox.js";
import { sendWorkflowMessages } from "../../services/queue/send.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { until } from "../helpers/wait.js";
import { insertScheduledWorkflow, recordingSender } from "./fixtures.js";

const { pool } = await createTestDatabase();
const testSqs = await createTestSqs();

const at = (iso: string) => new Date(iso);

async function executionsOf(scheduleId: string) {
  const { rows } = await pool.query<{
    id: string;
    scheduled_for: Date;
    enqueued_at: Date | null;
    status: string;
  }>(
    "SELECT id, scheduled_for, enqueued_at, status FROM workflow_executions WHERE schedule_id = $1 ORDER BY scheduled_for",
    [scheduleId],
  );
  return rows;
}

async function nextRunOf(scheduleId: string): Promise<Date | null> {
  const { rows } = await pool.query<{ next_run_at: Date | null }>(
    "SELECT next_run_at FROM workflow_schedules WHERE id = $1",
    [scheduleId],
  );
  return rows[0]?.next_run_at ?? null;
}

async function drain(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await testSqs.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ""));
  }
}

describe("dispatchOnce", () => {
  it("fires a due slot once, with scheduled_for = the slot, advances next_run_at, and sends the message", async () => {
    const { scheduleId, workflowId } = await insertScheduledWorkflow(pool, {
      cron: "*/5 * * * *",
      nextRunAt: at("2026-01-01T10:05:00Z"),
    });
    const { queueUrl } = await testSqs.createQueues();
    const send = (messages: Parameters<typeof sendWorkflowMessages>[2]) =>
      sendWorkflowMessages(testSqs.sqs, queueUrl, messages);
    const now = () => at("2026-01-01T10:05:20Z");
    const report = await dispatchOnce({ pool, send, logger: silentLogger, now });
    expect(report.dispatched.map((d) => d.scheduleId)).toContain(scheduleId);
    const rows = await executionsOf(scheduleId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.scheduled_for.toISOString()).toBe("2026-01-01T10:05:00.000Z");
    expect(rows[0]?.enqueued_at).not.toBeNull();
    expect((await nextRunOf(scheduleId))?.toISOString()).toBe("2026-01-01T10:10:00.000Z");
    const bodies = (await drain(queueUrl))
      .map(parseWorkflowMessage)
      .filter((m) => m.scheduleId === scheduleId);
    expect(bodies).toEqual([
      {
        executionId: rows[0]?.id,
        workflowId,
        scheduleId,
        triggerType: "schedule",
        triggerTime: "2026-01-01T10:05:00.000Z",
      },
    ]);
    // Same time again: nothing is due, nothing is sent.
    const again = await dispatchOnce({ pool, send, logger: silentLogger, now });
    expect(again.dispatched.filter((d) => d.scheduleId === scheduleId)).toHaveLength(0);
    expect(await executionsOf(scheduleId)).toHaveLength(1);
  });

  it("never dispatches a slot twice when two dispatchers run concurrently, or when next_run_at is rewound", async () => {
    const schedules = await Promise.all(
      Array.from({ length: 40 }, () =>
        insertScheduledWorkflow(pool, { cron: "* * * * *", nextRunAt: at("2026-02-01T00:00:00Z") }),
      ),
    );
    const ids = new Set(schedules.map((s) => s.scheduleId));
    const sender = recordingSender();
    const now = () => at("2026-02-01T00:00:30Z");
    const pass = () => dispatchOnce({ pool, send: sender, logger: silentLogger, now, batchSize: 3 });
    const reports = await Promise.all([pass(), pass(), pass(), pass()]);
    const dispatched = reports.flatMap((r) => r.dispatched).filter((d) => ids.has(d.scheduleId));
    expect(dispatched).toHaveLength(40);
    // Both dispatchers did part of the work (SKIP LOCKED splits it rather than serialising it).
    expect(reports.filter((r) => r.dispatched.some((d) => ids.has(d.scheduleId))).length).toBeGreaterThan(1);
    const sent = sender.messages.filter((m) => ids.has(m.scheduleId ?? ""));
    expect(sent).toHaveLength(40);
    expect(new Set(sent.map((m) => m.executionId)).size).toBe(40);
    // Rewind every schedule (as a crash before the advance would): the slot key still allows one execution.
    await pool.query("UPDATE workflow_schedules SET next_run_at = $1 WHERE id = ANY($2)", [
      at("2026-02-01T00:00:00Z"),
      [...ids],
    ]);
    await Promise.all([pass(), pass()]);
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*) AS n FROM workflow_executions WHERE schedule_id = ANY($1)",
      [[...ids]],
    );
    expect(rows[0]?.n).toBe(40);
    expect(sender.messages.filter((m) => ids.has(m.scheduleId ?? ""))).toHaveLength(40);
    // Out of the way of the next tests, which run at other (fake) times.
    await pool.query("UPDATE workflow_schedules SET enabled = false WHERE id = ANY($1)", [[...ids]]);
  });

  it("loses nothing and duplicates nothing when the send fails after the commit (outbox recovery)", async () => {
    const { scheduleId } = await insertScheduledWorkflow(pool, {
      cron: "0 * * * *",
      nextRunAt: at("2026-03-01T12:00:00Z"),
    });
    const sender = recordingSender();
    sender.fail = true;
    const now = () => at("2026-03-01T12:00:05Z");
    const failed = await dispatchOnce({ pool, send: sender, logger: silentLogger, now });
    expect(failed.unsent).toBeGreaterThanOrEqual(1);
    const [row] = await executionsOf(scheduleId);
    expect(row?.enqueued_at).toBeNull();
    expect(row?.status).toBe("pending");
    // The slot advanced in the same transaction, so the rerun does not create a second execution.
    expect((await nextRunOf(scheduleId))?.toISOString()).toBe("2026-03-01T13:00:00.000Z");

    sender.fail = false;
    const recovered = await dispatchOnce({ pool, send: sender, logger: silentLogger, now });
    expect(recovered.unsent).toBe(0);
    expect(sender.messages.filter((m) => m.scheduleId === scheduleId).map((m) => m.executionId)).toEqual([
      row?.id,
    ]);
    expect((await executionsOf(scheduleId))[0]?.enqueued_at).not.toBeNull();

    await dispatchOnce({ pool, send: sender, logger: silentLogger, now });
    expect(sender.messages.filter((m) => m.scheduleId === scheduleId)).toHaveLength(1);
    expect(await executionsOf(scheduleId)).toHaveLength(1);
  });

  it("with claims and sends overlapping, marks a row enqueued only once its own send succeeded", async () => {
    const schedules = await Promise.all(
      Array.from({ length: 12 }, () =>
        insertScheduledWorkflow(pool, { cron: "0 * * * *", nextRunAt: at("2026-04-01T08:00:00Z") }),
      ),
    );
    const ids = new Set(schedules.map((s) => s.scheduleId));
    const now = () => at("2026-04-01T08:00:10Z");
    // The second send call of the pass, and every later try of its messages, fails: SQS refusing them.
    const sent: string[] = [];
    let calls = 0;
    const refused = new Set<string>();
    const sender: MessageSender = async (messages) => {
      calls++;
      if (calls === 2) for (const m of messages) refused.add(m.executionId as string);
      const failed = messages.filter((m) => refused.has(m.executionId as string));
      const ok = messages.filter((m) => !refused.has(m.executionId as string));
      sent.push(...ok.map((m) => m.executionId as string));
      return { sent: ok, failed: failed.map((message) => ({ message, error: "injected" })) };
    };
    const report = await dispatchOnce({ pool, send: sender, logger: silentLogger, now, batchSize: 3 });
    expect(report.dispatched.filter((d) => ids.has(d.scheduleId))).toHaveLength(12);
    expect(refused.size).toBe(3);
    const rows = (await Promise.all([...ids].map((id) => executionsOf(id)))).flat();
    expect(rows).toHaveLength(12);
    // Other tests' rows may be in the outbox too (the pass flushes it all): look at this test's only.
    const ours = (executionIds: Iterable<string>) =>
      [...executionIds].filter((id) => rows.some((r) => r.id === id)).sort();
    expect(
      rows
        .filter((r) => r.enqueued_at === null)
        .map((r) => r.id)
        .sort(),
    ).toEqual(ours(refused));
    expect(
      rows
        .filter((r) => r.enqueued_at !== null)
        .map((r) => r.id)
        .sort(),
    ).toEqual(ours(sent));
    // SQS takes them again: the next pass sends exactly those, once.
    refused.clear();
    await dispatchOnce({ pool, send: sender, logger: silentLogger, now, batchSize: 3 });
    expect(ours(sent)).toHaveLength(12);
    expect(new Set(ours(sent)).size).toBe(12);
    await pool.query("UPDATE workflow_schedules SET enabled = false WHERE id = ANY($1)", [[...ids]]);
  });

  it("the outbox sends a manual run created for the queue, never one a process runs itself", async () => {
    const { workflowId } = await insertScheduledWorkflow(pool, { cron: "0 0 1 1 *", nextRunAt: null });
    const queued = await createExecution(pool, { workflowId, triggerType: "manual" });
    const inProcess = await createExecution(pool, { workflowId, triggerType: "manual", enqueued: true });
    const sender = recordingSender();
    await dispatchOnce({ pool, send: sender, logger: silentLogger, now: () => at("2026-03-02T00:00:00Z") });
    const sent = sender.messages.map((m) => m.executionId);
    expect(sent).toContain(queued);
    expect(sent).not.toContain(inProcess);
  });

  it("catch-up: fires only the most recent missed slot within the window and reports the skipped ones", async () => {
    const sender = recordingSender();
    const now = () => at("2026-04-01T09:00:30Z");
    const recent = await insertScheduledWorkflow(pool, {
      cron: "* * * * *",
      nextRunAt: at("2026-04-01T08:55:00Z"),
    });
    const old = await insertScheduledWorkflow(pool, {
      cron: "0 * * * *",
      nextRunAt: at("2026-04-01T06:00:00Z"),
    });
    const report = await dispatchOnce({
      pool,
      send: sender,
      logger: silentLogger,
      now,
      catchUpWindowMs: 600_000,
    });

    // Every minute, down since 08:55: one run, for 09:00; 08:55..08:59 skipped.
    expect((await executionsOf(recent.scheduleId)).map((r) => r.scheduled_for.toISOString())).toEqual([
      "2026-04-01T09:00:00.000Z",
    ]);
    expect(report.skipped.find((s) => s.scheduleId === recent.scheduleId)).toMatchObject({
      count: 5,
      first: at("2026-04-01T08:55:00Z"),
      before: at("2026-04-01T09:00:00Z"),
    });
    expect((await nextRunOf(recent.scheduleId))?.toISOString()).toBe("2026-04-01T09:01:00.000Z");

    // Hourly, last due 06:00..09:00 but 09:00 is within the window: it fires, 06-08 are skipped.
    expect((await executionsOf(old.scheduleId)).map((r) => r.scheduled_for.toISOString())).toEqual([
      "2026-04-01T09:00:00.000Z",
    ]);
    expect(report.skipped.find((s) => s.scheduleId === old.scheduleId)?.count).toBe(3);

    // A daily slot missed by hours: outside the window, nothing fires, next_run_at moves to tomorrow.
    const daily = await insertScheduledWorkflow(pool, {
      cron: "0 6 * * *",
      nextRunAt: at("2026-04-01T06:00:00Z"),
    });
    const second = await dispatchOnce({
      pool,
      send: sender,
      logger: silentLogger,
      now,
      catchUpWindowMs: 600_000,
    });
    expect(await executionsOf(daily.scheduleId)).toHaveLength(0);
    expect(second.skipped.find((s) => s.scheduleId === daily.scheduleId)?.count).toBe(1);
    expect((await nextRunOf(daily.scheduleId))?.toISOString()).toBe("2026-04-02T06:00:00.000Z");
  });

  it("skips disabled workflows, initialises a missing next_run_at, and sets an invalid schedule aside", async () => {
    const sender = recordingSender();
    const now = () => at("2026-05-01T00:00:10Z");
    const disabled = await insertScheduledWorkflow(pool, {
      cron: "* * * * *",
      nextRunAt: at("2026-05-01T00:00:00Z"),
    });
    await pool.query("UPDATE workflows SET enabled = false WHERE id = $1", [disabled.workflowId]);
    const fresh = await insertScheduledWorkflow(pool, { cron: "*/10 * * * *", nextRunAt: null });
    const broken = await insertScheduledWorkflow(pool, {
      cron: "61 * * * *",
      nextRunAt: at("2026-05-01T00:00:00Z"),
    });
    const report = await dispatchOnce({ pool, send: sender, logger: silentLogger, now });
    expect(await executionsOf(disabled.scheduleId)).toHaveLength(0);
    // Its slots pass without runs: next_run_at moves on, so it does not stay in the due set.
    expect((await nextRunOf(disabled.scheduleId))?.toISOString()).toBe("2026-05-01T00:01:00.000Z");
    expect(report.skipped.map((s) => s.scheduleId)).not.toContain(disabled.scheduleId);
    expect((await nextRunOf(fresh.scheduleId))?.toISOString()).toBe("2026-05-01T00:10:00.000Z");
    expect(await nextRunOf(broken.scheduleId)).toBeNull();
    expect(report.invalid).toBeGreaterThanOrEqual(1);
  });
});

describe("the dispatcher loop", () => {
  it("wakes at the next slot instead of waiting out its interval", async () => {
    const sender = recordingSender();
    const { scheduleId } = await insertScheduledWorkflow(pool, {
      cron: "* * * * * *",
      nextRunAt: new Date(Date.now() + 1_000),
    });
    const loop = startDispatcherLoop({ pool, send: sender, logger: silentLogger, intervalMs: 3_600_000 });
    try {
      // Every second a slot; with an hour between passes only the first pass would have run.
      await until("three slots dispatched", async () => (await executionsOf(scheduleId)).length >= 3);
    } finally {
      await pool.query("UPDATE workflow_schedules SET enabled = false WHERE id = $1", [scheduleId]);
      await loop.stop();
    }
  });
});
