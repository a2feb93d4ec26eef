import type { Message } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { newId } from "../../services/core/ids.js";
import { getExecution } from "../../services/db/executions.js";
import { decide } from "../../services/intake/decide.js";
import { createTestDatabase } from "../helpers/database.js";
import { insertExecution, insertWorkflow } from "../spawner/fixtures.js";

// The one rule set for what a message means, for the executor and the spawner alike (intake/decide.ts).

const { pool } = await createTestDatabase();

const message = (body: unknown, id = newId()): Message => ({
  MessageId: id,
  Body: typeof body === "string" ? body : JSON.stringify(body),
});
const manual = (workflowId: string, executionId?: string) => ({
  ...(executionId ? { executionId } : {}),
  workflowId,
  scheduleId: null,
  triggerType: "manual",
  triggerTime: new Date().toISOString(),
});

describe("decide (the intake's rules)", () => {
  it("a body that is not a workflow message is dead-lettered", async () => {
    expect(await decide(message("not json"), pool)).toMatchObject({ action: "dead-letter" });
    expect(await decide(message({ workflowId: 7 }), pool)).toMatchObject({ action: "dead-letter" });
  });

  it("a message whose input nests deeper than runs keep is dead-lettered before it is recorded, naming where", async () => {
    const workflowId = await insertWorkflow(pool);
    const deep = `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`;
    const body = JSON.stringify(manual(workflowId)).replace(/}$/, `,"input":${deep}}`);
    const decision = await decide(message(body), pool);
    expect(decision).toMatchObject({ action: "dead-letter" });
    expect(decision.action === "dead-letter" && decision.reason).toMatch(
      /^malformed message: .*input\.a\.a.*64 levels/,
    );
    const { rows } = await pool.query("SELECT 1 FROM workflow_executions WHERE workflow_id = $1", [
      workflowId,
    ]);
    expect(rows).toEqual([]);
  });

  it("a message whose workflow does not exist is dead-lettered (a permanent database error), naming it", async () => {
    const decision = await decide(message(manual("no-such-workflow")), pool);
    expect(decision).toMatchObject({ action: "dead-letter" });
    expect(decision.action === "dead-letter" && decision.reason).toMatch(/workflow no-such-workflow/);
  });

  it("launches a pending execution; skips a running or finished one", async () => {
    const workflowId = await insertWorkflow(pool);
    for (const [status, action] of [
      ["pending", "launch"],
      ["running", "skip"],
      ["success", "skip"],
      ["cancelled", "skip"],
    ] as const) {
      const id = await insertExecution(pool, { workflowId, status });
      const decision = await decide(message(manual(workflowId, id)), pool);
      expect(decision.action, status).toBe(action);
    }
  });

  it("records a named execution whose row is missing from the message, marked enqueued (the outbox never resends it)", async () => {
    const workflowId = await insertWorkflow(pool);
    const id = newId();
    const decision = await decide(message(manual(workflowId, id)), pool);
    expect(decision).toMatchObject({ action: "launch", execution: { id, status: "pending" } });
    const row = await getExecution(pool, id);
    expect(row?.enqueued_at).toBeInstanceOf(Date);
  });

  it("a message without an execution id (an older dispatcher) gets one row however often it comes", async () => {
    const workflowId = await insertWorkflow(pool);
    const redelivered = message(manual(workflowId), "message-1");
    const first = await decide(redelivered, pool);
    const again = await decide(redelivered, pool);
    expect(first.action).toBe("launch");
    expect(again.action === "launch" && again.execution.id).toBe(
      first.action === "launch" && first.execution.id,
    );
  });
});
