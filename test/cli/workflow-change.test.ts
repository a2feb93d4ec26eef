import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { getScheduleForWorkflow } from "../../services/db/schedules.js";
import { createWorkflow, getWorkflow } from "../../services/db/workflows.js";
import { nextSlotAfter } from "../../services/scheduling/cron.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTempDir } from "../helpers/temp.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// Changing workflows from the real khctl: show, update, enable, disable, delete, by id or by name.

const { pool, url } = await createTestDatabase();
const dir = await createTempDir("kh-wf-change");
const env = { DATABASE_URL: url };
const khctl = (...args: string[]) => spawnCli(args, env).result;

const everyFive = { triggerType: "Schedule", scheduleCron: "*/5 * * * *", scheduleTimezone: "UTC" };

function definition(name: string, triggerConfig: Record<string, unknown> = everyFive) {
  return workflow(
    [
      trigger("t", triggerConfig),
      action("is-up", "Condition", { condition: "1 + 1 === 2" }, { label: "Is Up" }),
    ],
    edges("t->is-up"),
    name,
  );
}

async function stored(name: string, nextRunAt = new Date("2030-01-01T00:00:00Z")): Promise<string> {
  const created = await createWorkflow(pool, {
    definition: validateWorkflow(definition(name)),
    schedule: { cron: "*/5 * * * *", timezone: "UTC", nextRunAt },
  });
  return created.workflow.id;
}

async function file(name: string, content: unknown): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return target;
}

async function runOf(workflowId: string, status: string): Promise<string> {
  const id = `${status.padEnd(8, "x")}${workflowId.slice(0, 13)}`;
  await pool.query(
    `INSERT INTO workflow_executions (id, workflow_id, trigger_type, status, completed_at)
     VALUES ($1, $2, 'manual', $3, CASE WHEN $3 IN ('success', 'error') THEN now() END)`,
    [id, workflowId, status],
  );
  return id;
}

describe("khctl workflow show", () => {
  it("by name: the schedule, the nodes and the latest runs; --definition is the file to edit", async () => {
    const id = await stored("show me");
    await runOf(id, "success");
    const shown = await khctl("workflow", "show", "show me");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`Workflow   ${id}  "show me"`);
    expect(shown.stdout).toContain("Schedule   */5 * * * * (UTC), next run 2030-01-01T00:00:00.000Z");
    expect(shown.stdout).toMatch(/is-up\s+│ Is Up\s+│ action\s+│ Condition 1 \+ 1 === 2/);
    expect(shown.stdout).toMatch(/success.*manual/);

    const json = JSON.parse((await khctl("workflow", "show", id, "--json")).stdout);
    expect(json.schedule).toMatchObject({ cron: "*/5 * * * *", enabled: true, runCount: 0 });
    expect(json.recentExecutions).toHaveLength(1);

    const exported = JSON.parse((await khctl("workflow", "show", id, "--definition")).stdout);
    expect(validateWorkflow(exported)).toEqual(validateWorkflow(definition("show me")));
  });

  it("an unknown or ambiguous reference is one line", async () => {
    const unknown = await khctl("workflow", "show", "nothing like it");
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toBe(
      'khctl: no workflow with the id or name "nothing like it" (khctl workflow list shows them)\n',
    );
    const [a, b] = [await stored("twin"), await stored("twin")];
    const ambiguous = await khctl("workflow", "show", "twin");
    expect(ambiguous.stderr).toBe(`khctl: 2 workflows are named "twin" (${a}, ${b}): give the id\n`);
  });
});

describe("khctl workflow update", () => {
  it("replaces the definition, keeps the id; a changed schedule starts at its next slot after now", async () => {
    const id = await stored("before");
    const before = new Date();
    const target = await file(
      "changed.json",
      definition("after", {
        triggerType: "Schedule",
        scheduleCron: "0 9 * * 1-5",
        scheduleTimezone: "Europe/Berlin",
      }),
    );
    const result = await khctl("workflow", "update", "before", "--file", target);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`Updated workflow ${id} "after" (2 nodes)`);
    expect(result.stdout).toContain("Schedule changed: 0 9 * * 1-5 (Europe/Berlin), next run");
    expect(await getWorkflow(pool, id)).toMatchObject({ name: "after", enabled: true });
    const schedule = await getScheduleForWorkflow(pool, id);
    expect(schedule).toMatchObject({ cron_expression: "0 9 * * 1-5", timezone: "Europe/Berlin" });
    const expected = nextSlotAfter("0 9 * * 1-5", "Europe/Berlin", before);
    expect(schedule?.next_run_at?.getTime()).toBe(expected?.getTime());
  });

  it("an unchanged schedule keeps its next run; a Manual trigger removes the schedule, runs stay", async () => {
    const id = await stored("keeps", new Date("2031-05-05T05:05:00Z"));
    const run = await runOf(id, "success");
    const same = await khctl(
      "workflow",
      "update",
      id,
      "--file",
      await file("same.json", definition("keeps")),
    );
    expect(same.stdout).toContain("Schedule unchanged: */5 * * * * (UTC), next run 2031-05-05T05:05:00.000Z");
    const manual = await file("manual.json", definition("keeps", { triggerType: "Manual" }));
    const removed = await khctl("workflow", "update", id, "--file", manual, "--json");
    expect(JSON.parse(removed.stdout)).toMatchObject({ id, schedule: null, scheduleChange: "removed" });
    expect(await getScheduleForWorkflow(pool, id)).toBeNull();
    const { rowCount } = await pool.query("SELECT 1 FROM workflow_executions WHERE id = $1", [run]);
    expect(rowCount).toBe(1);
  });

  it("a bad file is refused in one line, and nothing changes", async () => {
    const id = await stored("untouched");
    const bad = await file(
      "bad.json",
      definition("untouched", { triggerType: "Schedule", scheduleCron: "61 * * * *" }),
    );
    const result = await khctl("workflow", "update", id, "--file", bad);
    expect(result.code).toBe(1);
    expect(result.stderr.split("\n")).toHaveLength(2);
    expect(result.stderr).toMatch(/^khctl: .*61 \* \* \* \*/);
    expect(await getScheduleForWorkflow(pool, id)).toMatchObject({ cron_expression: "*/5 * * * *" });
  });
});

describe("khctl workflow disable / enable", () => {
  it("disable stops the schedule; enable starts it again from its next slot after now, not the missed ones", async () => {
    const id = await stored("toggle", new Date("2020-01-01T00:00:00Z"));
    const disabled = await khctl("workflow", "disable", "toggle");
    expect(disabled.stdout).toBe(`Disabled workflow ${id} "toggle"; schedule */5 * * * * (UTC), disabled\n`);
    expect(await getWorkflow(pool, id)).toMatchObject({ enabled: false });
    expect(await getScheduleForWorkflow(pool, id)).toMatchObject({ enabled: false });

    const before = new Date();
    const enabled = JSON.parse((await khctl("workflow", "enable", id, "--json")).stdout);
    expect(enabled).toMatchObject({ id, enabled: true, schedule: { enabled: true } });
    expect(new Date(enabled.schedule.nextRunAt).getTime()).toBe(
      nextSlotAfter("*/5 * * * *", "UTC", before)?.getTime(),
    );
  });
});

describe("khctl workflow delete", () => {
  it("refuses while a run is pending or running; --force deletes it with its schedule and history", async () => {
    const id = await stored("doomed");
    await runOf(id, "success");
    await runOf(id, "running");
    const refused = await khctl("workflow", "delete", "doomed");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `khctl: workflow ${id} "doomed" has 1 run(s) pending or running: wait for them, disable it, or use --force\n`,
    );
    expect(await getWorkflow(pool, id)).not.toBeNull();

    const deleted = await khctl("workflow", "delete", id, "--force");
    expect(deleted.stdout).toBe(`Deleted workflow ${id} "doomed" with its schedule and 2 execution(s)\n`);
    expect(await getWorkflow(pool, id)).toBeNull();
    const { rowCount } = await pool.query("SELECT 1 FROM workflow_executions WHERE workflow_id = $1", [id]);
    expect(rowCount).toBe(0);
  });
});

describe("khctl run --workflow and create, with names", () => {
  it("run --workflow takes a name; create says when the name is taken", async () => {
    const id = await stored("by name");
    const ran = await khctl("run", "--workflow", "by name", "--json");
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout).execution).toMatchObject({ workflowId: id, status: "success" });
    const again = await khctl("workflow", "create", "--file", await file("dup.json", definition("by name")));
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`a workflow named "by name" exists already (${id}); to change it instead`);
  });
});
