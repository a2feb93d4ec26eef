import { describe, expect, it } from "vitest";
import { newId } from "../../services/core/ids.js";
import { type ExecutionLogRow, listStepLogs } from "../../services/db/execution-logs.js";
import { getExecution } from "../../services/db/executions.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { runExecution } from "../../services/runner/index.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { MAX_VALUE_DEPTH } from "../../services/workflow/values.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { within } from "../helpers/wait.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { createPending, startTestServer } from "./fixtures.js";

/**
 * Values nested deeper than the 64 levels configs and run inputs may have never reach anything recursive
 * (JSON.stringify overflows the stack ~5,000 levels down): a step whose response nests that deep fails on
 * its own, and the rest of the run goes on as after any failed step.
 */

const { pool, url } = await createTestDatabase();
const server = await startTestServer();

/** ~30 KB of JSON nested 5,000 levels deep. */
const DEEP = 5_000;
const get = (id: string, path: string) =>
  action(id, "HTTP Request", { endpoint: `${server.base}${path}`, httpMethod: "GET" });

async function stepsOf(executionId: string): Promise<Record<string, ExecutionLogRow>> {
  return Object.fromEntries((await listStepLogs(pool, executionId)).map((log) => [log.node_id, log]));
}

const tooDeep = (what: string) =>
  `${what} nested more than ${MAX_VALUE_DEPTH} levels deep (at ${what}${what === "output" ? ".data" : ""}.a.a.a`;

describe("values nested too deep", () => {
  it("khctl run: a 5,000-level JSON response fails its step; its child is skipped, the other branch runs", async () => {
    const { executionId } = await createPending(
      pool,
      workflow(
        [trigger(), get("deep", `/deep/${DEEP}`), get("after", "/"), get("other", "/")],
        edges("t->deep", "deep->after", "t->other"),
      ),
    );
    const run = await within(
      spawnCli(["run", executionId], { DATABASE_URL: url }).result,
      30_000,
      "khctl run",
    );
    expect(run.stderr).not.toMatch(/recording failed|call stack/i);
    expect(run.code).toBe(0);

    const execution = await getExecution(pool, executionId);
    expect(execution?.status).toBe("error");
    expect(execution?.error).toContain(`node "deep" (DEEP): ${tooDeep("output")}`);
    const steps = await stepsOf(executionId);
    expect(steps.deep).toMatchObject({ status: "error", output: null, completed_at: expect.any(Date) });
    expect(steps.deep?.error).toMatch(
      /^output nested more than 64 levels deep \(at output\.data(\.a)+\.?…\)$/,
    );
    expect(steps.after).toMatchObject({
      status: "skipped",
      error: 'upstream node "deep" (DEEP) did not succeed',
    });
    expect(steps.other).toMatchObject({ status: "success", output: { status: 200, data: "<h1>up</h1>" } });
    expect(steps.t?.status).toBe("success");
    expect(Object.values(steps).filter((step) => step.status === "running")).toEqual([]);
    expect(execution?.completed_steps).toBe(4);
  });

  it("a non-2xx response that deep: the HTTP error and the depth, without the output", async () => {
    const { executionId } = await createPending(
      pool,
      workflow([trigger(), get("deep", `/deep/${DEEP}?status=500`)], edges("t->deep")),
    );
    expect(await runExecution(pool, executionId)).toMatchObject({ outcome: "ran", status: "error" });
    const { deep } = await stepsOf(executionId);
    expect(deep).toMatchObject({ status: "error", output: null });
    expect(deep?.error).toMatch(/returned HTTP 500 Internal Server Error; output nested more than 64 levels/);
  });

  it("deep JSON text a template puts in a body: sent as is, recorded as a note instead of itself", async () => {
    const { executionId } = await createPending(
      pool,
      workflow(
        [
          trigger(),
          get("text", `/deep/${DEEP}?type=text/plain`),
          action("send", "HTTP Request", {
            endpoint: `${server.base}/`,
            httpMethod: "POST",
            httpBody: "{{@text:TEXT.data}}",
          }),
        ],
        edges("t->text", "text->send"),
      ),
    );
    expect(await runExecution(pool, executionId)).toMatchObject({ outcome: "ran", status: "success" });
    const { text, send } = await stepsOf(executionId);
    expect((text?.output as { data?: string } | undefined)?.data).toHaveLength(DEEP * 6 + 1);
    expect(send).toMatchObject({
      status: "success",
      input: { httpBody: `[not shown: nested more than ${MAX_VALUE_DEPTH} levels deep]` },
    });
  });

  it("a run input that deep (from a queue message, say) fails the trigger; nothing else runs", async () => {
    const definition = validateWorkflow(workflow([trigger(), get("next", "/")], edges("t->next")));
    const { workflow: row } = await createWorkflow(pool, { definition });
    const executionId = newId();
    // Written as text: the driver's own JSON.stringify would overflow on it.
    await pool.query(
      "INSERT INTO workflow_executions (id, workflow_id, trigger_type, input) VALUES ($1, $2, 'manual', $3::text::jsonb)",
      [executionId, row.id, `${'{"a":'.repeat(DEEP)}1${"}".repeat(DEEP)}`],
    );
    expect(await runExecution(pool, executionId)).toMatchObject({ outcome: "ran", status: "error" });
    const steps = await stepsOf(executionId);
    expect(steps.t).toMatchObject({ status: "error", input: null, output: null });
    expect(steps.t?.error).toContain(`run ${tooDeep("input")}`);
    expect(steps.next).toMatchObject({ status: "skipped" });
  });
});
