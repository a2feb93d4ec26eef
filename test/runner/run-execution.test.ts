import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { listStepLogs } from "../../services/db/execution-logs.js";
import { createExecution, getExecution } from "../../services/db/executions.js";
import { getScheduleForWorkflow } from "../../services/db/schedules.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { runExecution, runWorkflowNow } from "../../services/runner/index.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { createTestDatabase } from "../helpers/database.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { createPending, loadExample, startTestServer } from "./fixtures.js";

const { pool } = await createTestDatabase();
const server = await startTestServer();

const httpNode = (id: string, endpoint: string, extra: Record<string, unknown> = {}) =>
  action(id, "HTTP Request", { endpoint, httpMethod: "GET", ...extra });

describe("runExecution", () => {
  it("runs examples/public-internet-check.json and writes exactly these rows", async () => {
    const { workflowId, executionId } = await createPending(
      pool,
      loadExample("public-internet-check.json", server.base),
      {
        who: "test",
      },
    );
    const before = await getExecution(pool, executionId);
    expect(before).toMatchObject({ status: "pending", started_at: null, total_steps: 0, completed_steps: 0 });

    const result = await runExecution(pool, executionId, { stepTimeoutMs: 5_000 });
    expect(result).toEqual({ outcome: "ran", executionId, status: "success" });

    const row = await getExecution(pool, executionId);
    if (!row) throw new Error("execution row is gone");
    expect(row).toMatchObject({
      id: executionId,
      workflow_id: workflowId,
      schedule_id: null,
      scheduled_for: null,
      trigger_type: "manual",
      status: "success",
      input: { who: "test" },
      error: null,
      total_steps: 6,
      completed_steps: 6,
      current_node_id: null,
    });
    expect(row.started_at).toBeInstanceOf(Date);
    expect(row.completed_at).toBeInstanceOf(Date);
    expect((row.completed_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
    // duration_ms comes from Postgres' microsecond timestamps; the JS Dates are truncated to milliseconds.
    const spanMs = (row.completed_at as Date).getTime() - (row.started_at as Date).getTime();
    expect(Math.abs((row.duration_ms as number) - spanMs)).toBeLessThanOrEqual(1);
    // Output: the leaves that succeeded (report-other was skipped).
    expect(Object.keys(row.output as object)).toEqual(["report-ok"]);
    expect(row.output).toMatchObject({
      "report-ok": { status: 200, data: { json: { check: "ok", status: 200 } } },
    });

    const logs = await listStepLogs(pool, executionId);
    const byNode = Object.fromEntries(logs.map((log) => [log.node_id, log]));
    expect(logs.map((log) => log.node_id).sort()).toEqual(
      ["check-site", "is-ok", "is-other", "report-ok", "report-other", "trigger"].sort(),
    );
    for (const log of logs) {
      expect(log.execution_id).toBe(executionId);
      expect(log.id).toMatch(/^[0-9a-z]{21}$/);
      expect(log.completed_at).toBeInstanceOf(Date);
      expect(log.duration_ms).toBeGreaterThanOrEqual(0);
    }
    expect(byNode.trigger).toMatchObject({
      node_name: "Manual Trigger",
      node_type: "trigger",
      status: "success",
      input: { who: "test" },
      output: { who: "test", triggeredAt: (row.started_at as Date).toISOString() },
      error: null,
    });
    expect(byNode["check-site"]).toMatchObject({
      node_name: "Check Site",
      node_type: "HTTP Request",
      status: "success",
      input: { actionType: "HTTP Request", endpoint: `${server.base}/`, httpMethod: "GET" },
      output: { status: 200, data: "<h1>up</h1>" },
      error: null,
    });
    expect(byNode["is-ok"]).toMatchObject({
      node_type: "Condition",
      status: "success",
      input: { condition: "{{@check-site:Check Site.status}} === 200" },
      output: { result: true },
    });
    expect(byNode["is-other"]).toMatchObject({ status: "success", output: { result: false } });
    expect(byNode["report-ok"]).toMatchObject({
      status: "success",
      input: { httpBody: { check: "ok", status: 200, at: (row.started_at as Date).toISOString() } },
    });
    expect(byNode["report-other"]).toMatchObject({
      node_name: "Report Other",
      status: "skipped",
      input: null,
      output: null,
      error: 'condition of node "is-other" (Is Other 2xx) was false',
      duration_ms: 0,
    });
  });

  it("records a failed step as error, still 'ran', and counts every step", async () => {
    const { executionId } = await createPending(
      pool,
      workflow(
        [
          trigger(),
          httpNode("bad", `${server.base}/status/500`),
          httpNode("after", `${server.base}/`),
          httpNode("ok", `${server.base}/`),
        ],
        edges("t->bad", "bad->after", "t->ok"),
      ),
    );
    const result = await runExecution(pool, executionId);
    expect(result).toMatchObject({ outcome: "ran", status: "error" });
    const row = await getExecution(pool, executionId);
    expect(row).toMatchObject({
      status: "error",
      error: `node "bad" (BAD): GET ${server.base}/status/500 returned HTTP 500 Internal Server Error`,
      total_steps: 4,
      completed_steps: 4,
    });
    const logs = Object.fromEntries((await listStepLogs(pool, executionId)).map((log) => [log.node_id, log]));
    expect(logs.bad).toMatchObject({ status: "error", output: { status: 500, data: "status" } });
    expect(logs.after).toMatchObject({
      status: "skipped",
      error: 'upstream node "bad" (BAD) did not succeed',
    });
    expect(logs.ok).toMatchObject({ status: "success" });
  });

  it("two runners at once: exactly one runs, the other says not-claimed", async () => {
    const before = server.requests.length;
    const { executionId } = await createPending(
      pool,
      workflow([trigger(), httpNode("h", `${server.base}/json`)], edges("t->h")),
    );
    const results = await Promise.all([runExecution(pool, executionId), runExecution(pool, executionId)]);
    expect(results.map((result) => result.outcome).sort()).toEqual(["not-claimed", "ran"]);
    expect(results.find((result) => result.outcome === "not-claimed")?.status).toMatch(/^(running|success)$/);
    expect(server.requests.length - before).toBe(1);
    const again = await runExecution(pool, executionId);
    expect(again).toEqual({ outcome: "not-claimed", executionId, status: "success" });
  });

  it("says not-claimed for a missing execution and records nothing", async () => {
    expect(await runExecution(pool, "nosuchexecution000000")).toEqual({
      outcome: "not-claimed",
      executionId: "nosuchexecution000000",
      status: "missing",
    });
  });

  it("counts progress atomically across many parallel steps", async () => {
    const ids = Array.from({ length: 12 }, (_, index) => `p${index}`);
    const { executionId } = await createPending(
      pool,
      workflow(
        [trigger(), ...ids.map((id) => httpNode(id, `${server.base}/json`))],
        edges(...ids.map((id) => `t->${id}`)),
      ),
    );
    await runExecution(pool, executionId);
    expect(await getExecution(pool, executionId)).toMatchObject({
      status: "success",
      total_steps: 13,
      completed_steps: 13,
    });
  });

  it("a step timeout fails the step and aborts its fetch", async () => {
    const { executionId } = await createPending(
      pool,
      workflow([trigger(), httpNode("slow", `${server.base}/slow`)], edges("t->slow")),
    );
    const closed = once(server.events, "slow-closed");
    const result = await runExecution(pool, executionId, { stepTimeoutMs: 150 });
    await closed;
    expect(result).toMatchObject({
      status: "error",
      error: 'node "slow" (SLOW): step timed out after 150ms',
    });
    expect((await listStepLogs(pool, executionId)).find((log) => log.node_id === "slow")).toMatchObject({
      status: "error",
      error: "step timed out after 150ms",
    });
  });

  it("the run timeout ends the run as error, with the step in flight cancelled", async () => {
    const { executionId } = await createPending(
      pool,
      workflow(
        [trigger(), httpNode("slow", `${server.base}/slow`), httpNode("next", `${server.base}/`)],
        edges("t->slow", "slow->next"),
      ),
    );
    const result = await runExecution(pool, executionId, { stepTimeoutMs: 0, runTimeoutMs: 200 });
    expect(result).toMatchObject({ status: "error", error: "run timed out after 200ms" });
    const logs = await listStepLogs(pool, executionId);
    expect(logs.map((log) => [log.node_id, log.status])).toEqual([
      ["t", "success"],
      ["slow", "cancelled"],
    ]);
  });

  it("an abort signal (SIGTERM) records cancelled with the reason", async () => {
    const { executionId } = await createPending(
      pool,
      workflow([trigger(), httpNode("slow", `${server.base}/slow`)], edges("t->slow")),
    );
    const controller = new AbortController();
    server.events.once("slow", () => controller.abort("SIGTERM"));
    const result = await runExecution(pool, executionId, { signal: controller.signal });
    expect(result).toEqual({ outcome: "ran", executionId, status: "cancelled", error: "cancelled: SIGTERM" });
    expect(await getExecution(pool, executionId)).toMatchObject({
      status: "cancelled",
      error: "cancelled: SIGTERM",
    });
  });

  it("updates the schedule's last_* fields and run_count with the real outcome", async () => {
    const definition = validateWorkflow(
      workflow(
        [
          trigger("t", { triggerType: "Schedule", scheduleCron: "* * * * *" }),
          httpNode("h", `${server.base}/status/404`),
        ],
        edges("t->h"),
      ),
    );
    const { workflow: row, schedule } = await createWorkflow(pool, {
      definition,
      schedule: { cron: "* * * * *", timezone: "UTC", nextRunAt: new Date() },
    });
    const scheduledFor = new Date("2026-01-01T10:00:00Z");
    const executionId = await createExecution(pool, {
      workflowId: row.id,
      triggerType: "schedule",
      scheduleId: schedule?.id,
      scheduledFor,
    });
    // The same slot again is the same execution.
    expect(
      await createExecution(pool, {
        workflowId: row.id,
        triggerType: "schedule",
        scheduleId: schedule?.id,
        scheduledFor,
      }),
    ).toBe(executionId);
    await runExecution(pool, executionId);
    const execution = await getExecution(pool, executionId);
    expect(await getScheduleForWorkflow(pool, row.id)).toMatchObject({
      last_status: "error",
      last_error: `node "h" (H): GET ${server.base}/status/404 returned HTTP 404 Not Found`,
      last_run_at: execution?.started_at,
      run_count: 1,
    });
    const trigger0 = (await listStepLogs(pool, executionId))[0];
    expect(trigger0?.output).toEqual({ triggeredAt: "2026-01-01T10:00:00.000Z" });
  });

  it("records an error without running when the stored workflow's graph is invalid", async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO workflows (id, name, nodes, edges) VALUES ('brokenworkflow0000000', 'broken', $1, '[]') RETURNING id`,
      [
        JSON.stringify([
          { id: "x", data: { type: "action", label: "X", config: { actionType: "Condition" } } },
        ]),
      ],
    );
    const executionId = await createExecution(pool, {
      workflowId: rows[0]?.id as string,
      triggerType: "manual",
    });
    const result = await runExecution(pool, executionId);
    expect(result).toMatchObject({ outcome: "ran", status: "error" });
    expect(await getExecution(pool, executionId)).toMatchObject({
      status: "error",
      error:
        'workflow brokenworkflow0000000 is invalid: workflow has no trigger: add one node with data.type "trigger"',
      total_steps: 1,
      completed_steps: 0,
    });
    expect(await listStepLogs(pool, executionId)).toEqual([]);
  });

  it("a stored workflow: an unknown action type (a KeeperHub plugin step) is a step error, other branches run, a stray node is ignored", async () => {
    const nodes = [
      trigger(),
      action("plugin", "web3/check-balance", { address: "0x0" }, { label: "Check Balance" }),
      action("ok", "HTTP Request", { endpoint: `${server.base}/json` }),
      action("stray", "HTTP Request", { endpoint: `${server.base}/json` }),
    ];
    const { rows } = await pool.query<{ id: string }>(
      "INSERT INTO workflows (id, name, nodes, edges) VALUES ('pluginworkflow0000000', 'plugin', $1, $2) RETURNING id",
      [JSON.stringify(nodes), JSON.stringify(edges("t->plugin", "t->ok"))],
    );
    const executionId = await createExecution(pool, {
      workflowId: rows[0]?.id as string,
      triggerType: "manual",
    });
    const result = await runExecution(pool, executionId);
    expect(result).toMatchObject({ outcome: "ran", status: "error" });
    expect(result.outcome === "ran" && result.error).toMatch(
      /^node "plugin" \(Check Balance\): unknown action type "web3\/check-balance" \(known: .*HTTP Request/,
    );
    const logs = Object.fromEntries((await listStepLogs(pool, executionId)).map((log) => [log.node_id, log]));
    expect(logs.plugin).toMatchObject({ status: "error", node_type: "web3/check-balance" });
    expect(logs.ok).toMatchObject({ status: "success" });
    expect(logs.stray).toBeUndefined();
    expect(await getExecution(pool, executionId)).toMatchObject({ total_steps: 3, completed_steps: 3 });
  });

  it("runWorkflowNow creates a manual execution and runs it", async () => {
    const { workflow: row } = await createWorkflow(pool, {
      definition: validateWorkflow(loadExample("public-internet-check.json", server.base)),
    });
    const result = await runWorkflowNow(pool, row.id, { input: { a: 1 } });
    expect(result).toMatchObject({ outcome: "ran", status: "success" });
    const row2 = await getExecution(pool, result.executionId);
    expect(row2).toMatchObject({ trigger_type: "manual", input: { a: 1 } });
    // Marked enqueued at creation, so the dispatcher's outbox never queues a run this process does itself.
    expect(row2?.enqueued_at).toBeInstanceOf(Date);
    await expect(runWorkflowNow(pool, "nosuchworkflow")).rejects.toThrow(
      "workflow nosuchworkflow does not exist",
    );
  });
});
