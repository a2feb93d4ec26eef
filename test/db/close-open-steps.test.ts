import { runner } from "node-pg-migrate";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { newId } from "../../services/core/ids.js";
import { listStepLogs, recordStepStart } from "../../services/db/execution-logs.js";
import { failExecution, finishExecution, getExecution } from "../../services/db/executions.js";
import { migrate, migrationsDir } from "../../services/db/migrate.js";
import type { Queryable } from "../../services/db/pool.js";
import { createEmptyDatabase, createTestDatabase } from "../helpers/database.js";
import { insertExecution, insertWorkflow } from "../spawner/fixtures.js";

/**
 * Migration 0004: whoever records an execution's end closes its open step rows in the same statement
 * (error, the execution's reason, its end time); the migration closes those older runs left open.
 */

const STEP_START = new Date(Date.now() - 5_000);

/** A step row `running` under the execution, as a runner killed mid-step leaves it. */
async function openStep(db: Queryable, executionId: string, nodeId = "slow"): Promise<void> {
  await db.query(
    `INSERT INTO workflow_execution_logs (id, execution_id, node_id, node_type, status, started_at)
     VALUES ($1, $2, $3, 'HTTP Request', 'running', $4)`,
    [newId(), executionId, nodeId, STEP_START],
  );
}

/** The step rows of an execution, by node id. */
async function steps(db: Queryable, executionId: string) {
  return Object.fromEntries((await listStepLogs(db, executionId)).map((log) => [log.node_id, log]));
}

const { pool } = await createTestDatabase();

describe("closing a run closes its open steps", () => {
  it("failExecution (dead runner, reconciler, stale-run policy): open steps become error with the reason", async () => {
    const workflowId = await insertWorkflow(pool);
    const id = await insertExecution(pool, { workflowId, status: "running" });
    await openStep(pool, id);
    await pool.query(
      `INSERT INTO workflow_execution_logs (id, execution_id, node_id, status, started_at, completed_at, duration_ms)
       VALUES ($1, $2, 'done', 'success', $3, $3, 0)`,
      [newId(), id, STEP_START],
    );

    expect(await failExecution(pool, id, "runner process ended (signal SIGKILL)")).toBe(true);

    const execution = await getExecution(pool, id);
    const { slow, done } = await steps(pool, id);
    expect(slow).toMatchObject({ status: "error", error: "runner process ended (signal SIGKILL)" });
    expect(slow?.completed_at).toEqual(execution?.completed_at);
    expect(slow?.duration_ms).toBeGreaterThanOrEqual(4_000);
    // A step that ended keeps its own record.
    expect(done).toMatchObject({ status: "success", error: null, duration_ms: 0 });
  });

  it("finishExecution (the runner's own end): an open step is closed, with a reason when the run gave none", async () => {
    const workflowId = await insertWorkflow(pool);
    const failed = await insertExecution(pool, { workflowId, status: "running" });
    const cancelled = await insertExecution(pool, { workflowId, status: "running" });
    await openStep(pool, failed);
    await openStep(pool, cancelled);

    await finishExecution(pool, failed, { status: "error", error: "recording failed: boom" });
    await finishExecution(pool, cancelled, { status: "cancelled" });

    expect((await steps(pool, failed)).slow).toMatchObject({
      status: "error",
      error: "recording failed: boom",
    });
    expect((await steps(pool, cancelled)).slow).toMatchObject({
      status: "error",
      error: "the run ended (cancelled) before this step finished",
    });
  });

  it("a step cannot open under an execution that has ended; a running one's steps stay open", async () => {
    const workflowId = await insertWorkflow(pool);
    const ended = await insertExecution(pool, { workflowId, status: "error" });
    const running = await insertExecution(pool, { workflowId, status: "running" });
    const start = { nodeId: "a", nodeName: "A", nodeType: "Condition", input: {}, startedAt: new Date() };

    expect(await recordStepStart(pool, { ...start, executionId: ended })).toBe(false);
    expect(await recordStepStart(pool, { ...start, executionId: running })).toBe(true);

    expect(await listStepLogs(pool, ended)).toEqual([]);
    expect((await steps(pool, running)).a).toMatchObject({ status: "running", completed_at: null });
    expect((await getExecution(pool, running))?.current_node_id).toBe("a");
  });
});

describe("migration 0004 on a database that already has open steps under ended runs", () => {
  it("closes them with the execution's reason and end, and leaves running runs and ended steps alone", async () => {
    const url = await createEmptyDatabase();
    const migrations = { databaseUrl: url, dir: migrationsDir(), migrationsTable: "pgmigrations" };
    await runner({ ...migrations, direction: "up", count: 3, log: () => {} });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const workflowId = await insertWorkflow(client);
      const failed = await insertExecution(client, { workflowId, status: "running" });
      const succeeded = await insertExecution(client, { workflowId, status: "running" });
      const running = await insertExecution(client, { workflowId, status: "running" });
      for (const id of [failed, succeeded, running]) await openStep(client, id);
      // Ended as the old code ended runs: the step rows stayed running.
      await client.query(
        "UPDATE workflow_executions SET status = 'error', error = 'runner lost', completed_at = now() WHERE id = $1",
        [failed],
      );
      await client.query(
        "UPDATE workflow_executions SET status = 'success', completed_at = now() WHERE id = $1",
        [succeeded],
      );
      expect((await steps(client, failed)).slow?.status).toBe("running");

      expect((await migrate(url)).applied).toEqual(["0004_close_open_steps"]);

      const failedRow = await getExecution(client, failed);
      expect((await steps(client, failed)).slow).toMatchObject({
        status: "error",
        error: "runner lost",
        completed_at: failedRow?.completed_at,
      });
      expect((await steps(client, succeeded)).slow).toMatchObject({
        status: "error",
        error: "the run ended (success) before this step finished",
      });
      expect((await steps(client, running)).slow).toMatchObject({ status: "running", completed_at: null });
      const { rows } = await client.query<{ open: number }>(
        `SELECT count(*)::int AS open FROM workflow_execution_logs l JOIN workflow_executions e ON e.id = l.execution_id
         WHERE l.status = 'running' AND e.status IN ('success', 'error', 'cancelled')`,
      );
      expect(rows[0]?.open).toBe(0);
    } finally {
      await client.end();
    }
  });
});
