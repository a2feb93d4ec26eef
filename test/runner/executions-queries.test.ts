import { describe, expect, it } from "vitest";
import { listStepLogs, recordStepEnd } from "../../services/db/execution-logs.js";
import {
  claimExecution,
  finishExecution,
  getExecution,
  insertExecution,
} from "../../services/db/executions.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { createTestDatabase } from "../helpers/database.js";
import { trigger, workflow } from "../workflow/fixtures.js";

const { pool } = await createTestDatabase();
const { workflow: stored } = await createWorkflow(pool, {
  definition: validateWorkflow(workflow([trigger()], [])),
});

describe("execution queries", () => {
  it("claim is a conditional UPDATE: of many concurrent claims exactly one wins", async () => {
    const { id } = await insertExecution(pool, { workflowId: stored.id, triggerType: "manual" });
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimExecution(pool, id, 3)));
    expect(claims.filter((claim) => claim !== null)).toHaveLength(1);
    expect(await getExecution(pool, id)).toMatchObject({ status: "running", total_steps: 3 });
    expect(await claimExecution(pool, id, 3)).toBeNull();
  });

  it("insert is idempotent for a given id and for a schedule slot", async () => {
    const first = await insertExecution(pool, {
      workflowId: stored.id,
      triggerType: "manual",
      input: { a: 1 },
    });
    expect(first.created).toBe(true);
    expect(first.id).toMatch(/^[0-9a-z]{21}$/);
    expect(
      await insertExecution(pool, { id: first.id, workflowId: stored.id, triggerType: "manual" }),
    ).toEqual({
      id: first.id,
      created: false,
    });
    expect(await getExecution(pool, first.id)).toMatchObject({ status: "pending", input: { a: 1 } });
  });

  it("progress counters are atomic increments; finish sets the end fields once", async () => {
    const { id } = await insertExecution(pool, { workflowId: stored.id, triggerType: "manual" });
    await claimExecution(pool, id, 50);
    // 50 steps ending at once, as parallel branches do: each counts once, with its log row.
    const now = new Date();
    await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        recordStepEnd(pool, {
          executionId: id,
          nodeId: `n${n}`,
          nodeName: `Node ${n}`,
          nodeType: "action",
          input: {},
          startedAt: now,
          status: "success",
          completedAt: now,
          durationMs: 0,
        }),
      ),
    );
    expect(await getExecution(pool, id)).toMatchObject({ completed_steps: 50 });
    expect(await listStepLogs(pool, id)).toHaveLength(50);
    const finished = await finishExecution(pool, id, { status: "success", output: [1, { b: 2 }] });
    expect(finished).toMatchObject({ status: "success", output: [1, { b: 2 }], error: null });
    expect(finished?.duration_ms).toBeGreaterThanOrEqual(0);
    expect(await finishExecution(pool, id, { status: "error", error: "late" })).toBeNull();
  });
});
