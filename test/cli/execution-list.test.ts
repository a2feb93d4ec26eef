import { describe, expect, it } from "vitest";
import { createWorkflow } from "../../services/db/workflows.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// `khctl execution list` from the real khctl: filters, keyset pages, --json, --watch.

const { pool, url } = await createTestDatabase();
const env = { DATABASE_URL: url };
const khctl = (...args: string[]) => spawnCli(args, env).result;

async function stored(name: string): Promise<string> {
  const definition = workflow(
    [trigger(), action("c", "Condition", { condition: "true" })],
    edges("t->c"),
    name,
  );
  return (await createWorkflow(pool, { definition: validateWorkflow(definition) })).workflow.id;
}

let counter = 0;
/** An execution created `minutesAgo` before now, with an id that sorts by creation. */
async function execution(
  workflowId: string,
  status: string,
  trigger: string,
  minutesAgo: number,
): Promise<string> {
  counter += 1;
  const id = `x${String(counter).padStart(4, "0")}${workflowId.slice(0, 16)}`;
  await pool.query(
    `INSERT INTO workflow_executions (id, workflow_id, trigger_type, status, error, created_at, scheduled_for,
       completed_at)
     VALUES ($1, $2, $3, $4, $5, now() - make_interval(mins => $6),
       CASE WHEN $3 = 'schedule' THEN now() END, CASE WHEN $4 IN ('success', 'error') THEN now() END)`,
    [id, workflowId, trigger, status, status === "error" ? "HTTP 500 from the API\nmore" : null, minutesAgo],
  );
  return id;
}

const alpha = await stored("alpha");
const beta = await stored("beta");
const old = await execution(alpha, "error", "manual", 180);
const failed = await execution(alpha, "error", "schedule", 30);
const fine = await execution(alpha, "success", "schedule", 20);
const other = await execution(beta, "error", "manual", 10);

const listed = async (...args: string[]) => {
  const result = await khctl("execution", "list", ...args, "--json");
  expect(result).toMatchObject({ code: 0, stderr: "" });
  return JSON.parse(result.stdout) as { executions: { id: string }[]; next: string | null };
};

describe("khctl execution list", () => {
  it("filters by workflow (by name), status, trigger and time, newest first", async () => {
    expect((await listed()).executions.map((e) => e.id)).toEqual([other, fine, failed, old]);
    expect((await listed("--workflow", "alpha", "--status", "error")).executions.map((e) => e.id)).toEqual([
      failed,
      old,
    ]);
    expect((await listed("--trigger", "manual")).executions.map((e) => e.id)).toEqual([other, old]);
    expect((await listed("--since", "1h")).executions.map((e) => e.id)).toEqual([other, fine, failed]);
    expect((await listed("--since", "1h", "--until", "15m")).executions.map((e) => e.id)).toEqual([
      fine,
      failed,
    ]);
    const [one] = (await listed("--workflow", beta)).executions;
    expect(one).toMatchObject({
      id: other,
      workflowName: "beta",
      status: "error",
      error: "HTTP 500 from the API\nmore",
    });
  });

  it("pages by keyset: --before the last page's next reads the next page, to the end", async () => {
    const first = await listed("--limit", "3");
    expect(first.executions.map((e) => e.id)).toEqual([other, fine, failed]);
    expect(first.next).toMatch(/_/);
    const second = await listed("--limit", "3", "--before", first.next as string);
    expect(second).toEqual({ executions: [expect.objectContaining({ id: old })], next: null });
  });

  it("prints a table for people, with the way to the next page", async () => {
    const result = await khctl("execution", "list", "--limit", "2");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`${other}\\s+│ beta\\s+│ error\\s+│ manual`));
    expect(result.stdout).toContain("HTTP 500 from the API");
    expect(result.stdout).not.toContain(failed);
    expect(result.stdout).toMatch(/Older ones: the same command with --before \S+_x0003/);
  });

  it.each([
    [["--since", "yesterday"], 'khctl: --since "yesterday" is neither a duration before now'],
    [["--limit", "0"], 'khctl: --limit must be a whole number from 1 to 1000, got "0"'],
    [["--limit", "1001"], 'khctl: --limit must be a whole number from 1 to 1000, got "1001"'],
    [["--before", "nope"], 'khctl: --before "nope" is not a cursor'],
    [["--workflow", "nothing"], 'khctl: no workflow with the id or name "nothing"'],
  ])("refuses %j in one line", async (args, message) => {
    const result = await khctl("execution", "list", ...args);
    expect(result.code).toBeGreaterThan(0);
    expect(result.stdout).toBe("");
    expect(result.stderr.startsWith(message)).toBe(true);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("refuses an unknown status as a usage error listing the choices", async () => {
    const result = await khctl("execution", "list", "--status", "broken");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Allowed choices are pending, running, success, error, cancelled");
  });

  it("--watch --json prints the page, then each new or changed execution as a line; Ctrl-C ends it with 0", async () => {
    const child = spawnCli(["execution", "list", "--workflow", "alpha", "--watch", "--json"], env);
    try {
      await child.waitForOutput(fine);
      const added = await execution(alpha, "running", "manual", 0);
      await child.waitForOutput(added);
      await pool.query(
        "UPDATE workflow_executions SET status = 'success', completed_at = now() WHERE id = $1",
        [added],
      );
      await child.waitForOutput('"status":"success","triggerType":"manual"');
      await execution(beta, "running", "manual", 0);
      child.kill("SIGINT");
      const result = await child.result;
      expect(result.code).toBe(0);
      const lines = result.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line));
      expect(lines.map((e) => [e.id, e.status])).toEqual([
        [old, "error"],
        [failed, "error"],
        [fine, "success"],
        [added, "running"],
        [added, "success"],
      ]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
