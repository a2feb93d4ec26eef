import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { listStepLogs } from "../../services/db/execution-logs.js";
import { getExecution } from "../../services/db/executions.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { within } from "../helpers/wait.js";
import { createPending, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

const { pool, url } = await createTestDatabase();
const server = await startTestServer();

describe("khctl run (the real CLI process)", () => {
  it("on SIGTERM during a slow step: aborts the fetch, records cancelled with the reason, exits 0 promptly", async () => {
    const { executionId } = await createPending(
      pool,
      workflow(
        [
          trigger(),
          action("slow", "HTTP Request", { endpoint: `${server.base}/slow` }, { label: "Slow Call" }),
          action("after", "HTTP Request", { endpoint: `${server.base}/` }),
        ],
        edges("t->slow", "slow->after"),
      ),
    );
    const slowStarted = once(server.events, "slow");
    const fetchClosed = once(server.events, "slow-closed");
    const child = spawnCli(["run", executionId], { DATABASE_URL: url });
    await within(slowStarted, 20_000, "the slow step starting");
    expect(await getExecution(pool, executionId)).toMatchObject({
      status: "running",
      current_node_id: "slow",
    });

    child.kill("SIGTERM");
    const result = await within(child.result, 5_000, "exit after SIGTERM");
    await within(fetchClosed, 5_000, "the in-flight fetch being aborted");

    expect(result.stderr).not.toMatch(/khctl:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`execution ${executionId}: cancelled (cancelled: SIGTERM)\n`);
    expect(await getExecution(pool, executionId)).toMatchObject({
      status: "cancelled",
      error: "cancelled: SIGTERM",
      completed_steps: 2,
      total_steps: 3,
      current_node_id: null,
    });
    const logs = await listStepLogs(pool, executionId);
    expect(logs.map((log) => [log.node_id, log.status, log.error])).toEqual([
      ["t", "success", null],
      ["slow", "cancelled", "cancelled: SIGTERM"],
    ]);
    expect(server.requests).not.toContain("GET /");
  });

  it("exits 1 with one line naming the variable when DATABASE_URL is missing", async () => {
    const result = await spawnCli(["run", "abcdefghijklmnopqrstu"], { DATABASE_URL: undefined }).result;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("khctl: DATABASE_URL is not set\n");
  });
});
