import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { getScheduleForWorkflow } from "../../services/db/schedules.js";
import { createWorkflow, getWorkflow } from "../../services/db/workflows.js";
import { nextSlotAfter } from "../../services/scheduling/cron.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { CLI_ENTRY, spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTempDir } from "../helpers/temp.js";
import { until, within } from "../helpers/wait.js";
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

    const deleted = await khctl("workflow", "delete", id, "--force", "--yes");
    expect(deleted.stdout).toBe(`Deleted workflow ${id} "doomed" with its schedule and 2 execution(s)\n`);
    expect(await getWorkflow(pool, id)).toBeNull();
    const { rowCount } = await pool.query("SELECT 1 FROM workflow_executions WHERE workflow_id = $1", [id]);
    expect(rowCount).toBe(0);
  });
});

describe("khctl workflow delete asks first", () => {
  it("with no terminal and no --yes it refuses (exit 2) and deletes nothing", async () => {
    const id = await stored("kept");
    await runOf(id, "success");
    const refused = await khctl("workflow", "delete", "kept");
    expect(refused).toMatchObject({ code: 2, stdout: "" });
    expect(refused.stderr).toBe(
      `khctl: Delete workflow ${id} "kept" with its schedule and 1 execution(s): no terminal to ask on, so give --yes to confirm\n`,
    );
    expect(await getWorkflow(pool, id)).not.toBeNull();
  });

  it.each([
    ["n", false],
    ["y", true],
  ])("on a terminal it asks; answering %s deletes: %s", async (answer, deletes) => {
    const id = await stored(`asked ${answer}`);
    // script(1) gives khctl a terminal (a pty) and passes what the test writes to it.
    const command = [process.execPath, CLI_ENTRY, "workflow", "delete", id].join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env: { ...process.env, ...env, LOG_LEVEL: "warn" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    const exited = once(child, "exit");
    try {
      await until("the question", () => output.includes("[y/N]") || child.exitCode !== null);
      child.stdin.end(`${answer}\n`);
      await within(exited, 20_000, "khctl to exit");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    const [code] = await exited;
    expect(output).toContain(
      `Delete workflow ${id} "asked ${answer}" with its schedule and 0 execution(s)? [y/N]`,
    );
    expect(code).toBe(deletes ? 0 : 1);
    expect(output).toContain(deletes ? `Deleted workflow ${id}` : "khctl: nothing deleted");
    expect((await getWorkflow(pool, id)) === null).toBe(deletes);
  });
});

describe("khctl workflow list", () => {
  it("a disabled workflow has no next run; the last run is the newest execution, manual ones too", async () => {
    const id = await stored("listed");
    const manual = await runOf(id, "success");
    await khctl("workflow", "disable", id);
    const list = JSON.parse((await khctl("workflow", "list", "--json")).stdout) as {
      id: string;
      schedule: { nextRunAt: string | null };
      lastRun: { id: string; status: string } | null;
    }[];
    const item = list.find((row) => row.id === id);
    expect(item?.schedule.nextRunAt).toBeNull();
    expect(item?.lastRun).toMatchObject({ id: manual, status: "success" });
    const table = (await khctl("workflow", "list")).stdout.split("\n").find((line) => line.includes(id));
    expect(table).toMatch(/│ disabled\s+│ \d{4}-\d\d-\d\dT[\d:.]+Z success/);
    const shown = await khctl("workflow", "show", id);
    expect(shown.stdout).toMatch(/Last run {3}\S+Z success \(manual\) \(0 scheduled run\(s\) in all\)/);
  });
});

describe("khctl run --workflow and create, with names", () => {
  it("run --workflow takes a name; create refuses a name another workflow has, with the update hint", async () => {
    const id = await stored("by name");
    const ran = await khctl("run", "--workflow", "by name", "--json");
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout).execution).toMatchObject({ workflowId: id, status: "success" });
    const dup = await file("dup.json", definition("by name"));
    const again = await khctl("workflow", "create", "--file", dup);
    expect(again).toMatchObject({ code: 1, stdout: "" });
    expect(again.stderr).toBe(
      `khctl: a workflow named "by name" exists already (${id}): to change it, khctl workflow update ${id} --file <path>; to keep both, --allow-duplicate\n`,
    );
    const { rows } = await pool.query("SELECT id FROM workflows WHERE name = 'by name'");
    expect(rows).toHaveLength(1);
    const kept = await khctl("workflow", "create", "--file", dup, "--allow-duplicate", "--json");
    expect(kept.code).toBe(0);
    expect(JSON.parse(kept.stdout).name).toBe("by name");
  });

  it("update refuses to rename a workflow to another one's name; its own name is fine", async () => {
    const [first, second] = [await stored("first name"), await stored("second name")];
    const renamed = await khctl(
      "workflow",
      "update",
      second,
      "--file",
      await file("r.json", definition("first name")),
    );
    expect(renamed.code).toBe(1);
    expect(renamed.stderr).toContain(`a workflow named "first name" exists already (${first})`);
    expect(await getWorkflow(pool, second)).toMatchObject({ name: "second name" });
    const same = await khctl(
      "workflow",
      "update",
      second,
      "--file",
      await file("s2.json", definition("second name")),
    );
    expect(same.code).toBe(0);
  });
});
