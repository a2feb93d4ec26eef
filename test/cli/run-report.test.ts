import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createWorkflow } from "../../services/db/workflows.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTempDir } from "../helpers/temp.js";
import { startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// What a person reads after a run: `khctl run --workflow`, `khctl execution`, `khctl logs`.

const { pool, url } = await createTestDatabase();
const server = await startTestServer();
const dir = await createTempDir("kh-run-report");

async function manualWorkflow(): Promise<string> {
  const definition = validateWorkflow(
    workflow(
      [trigger(), action("get", "HTTP Request", { endpoint: `${server.base}/json`, httpMethod: "GET" })],
      edges("t->get"),
      "report check",
    ),
  );
  return (await createWorkflow(pool, { definition })).workflow.id;
}

describe("after a run", () => {
  it("khctl run --workflow prints its table without the runner's info log lines; the duration says it is the run's", async () => {
    const id = await manualWorkflow();
    // LOG_LEVEL unset, as in a user's shell.
    const result = await spawnCli(["run", "--workflow", id], { DATABASE_URL: url, LOG_LEVEL: undefined })
      .result;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/Status\s+success/);
    expect(result.stdout).toMatch(/Duration\s+run \d+(ms|\.\d+s)\n/);
  });

  it("khctl logs of a run no Kubernetes Job ran: one line says so, and Kubernetes is not asked", async () => {
    const id = await manualWorkflow();
    const ran = await spawnCli(["run", "--workflow", id, "--json"], { DATABASE_URL: url }).result;
    const executionId = JSON.parse(ran.stdout).execution.id as string;
    // A kubeconfig whose API server does not answer: asking it would print a connection error.
    const kubeconfig = path.join(dir, "kubeconfig");
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: x, context: {cluster: c, user: u}}]",
        "current-context: x",
      ].join("\n"),
    );
    const result = await spawnCli(["logs", executionId], { DATABASE_URL: url, KUBECONFIG: kubeconfig })
      .result;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      "khctl: no Kubernetes Job ran this execution (an executor did); step log from Postgres\n",
    );
    expect(result.stdout).toMatch(/get \(GET\)|get .*success/);
    expect(result.stdout).toContain(`execution ${executionId} success`);
  });

  it("khctl logs with no Kubernetes configured says so in one line", async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO workflow_executions (id, workflow_id, trigger_type, status)
       VALUES ('pendingexecution00001', $1, 'manual', 'pending') RETURNING id`,
      [await manualWorkflow()],
    );
    const result = await spawnCli(["logs", rows[0]?.id as string], { DATABASE_URL: url }).result;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("khctl: no Kubernetes configured; step log from Postgres\n");
  });
});
