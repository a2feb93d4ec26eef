import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createExecution, getExecution } from "../../services/db/executions.js";
import { getScheduleForWorkflow } from "../../services/db/schedules.js";
import { getWorkflow } from "../../services/db/workflows.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTempDir } from "../helpers/temp.js";
import { loadExample, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { runCliInProcess as khctl } from "./cli.js";

const { pool, url } = await createTestDatabase();
const server = await startTestServer();
const dir = await createTempDir("kh-cli");

/** Writes a workflow file (object as JSON, or raw text) and returns its path. */
async function file(name: string, content: unknown): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, typeof content === "string" ? content : JSON.stringify(content));
  return target;
}

beforeAll(async () => {
  process.env.DATABASE_URL = url;
  process.env.LOG_LEVEL = "silent";
});

async function createFromExample(name: string): Promise<string> {
  const result = await khctl([
    "workflow",
    "create",
    "--allow-duplicate",
    "--file",
    await file(name, loadExample(name, server.base)),
    "--json",
  ]);
  // Each test creates its own copy of the example, so the name repeats on purpose.
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout).id;
}

describe("khctl workflow", () => {
  it("create stores a valid file and prints its id; list shows it", async () => {
    const result = await khctl([
      "workflow",
      "create",
      "--allow-duplicate",
      "--file",
      await file("check.json", loadExample("public-internet-check.json", server.base)),
    ]);
    expect(result.code).toBe(0);
    const id = /Created workflow ([0-9a-z]{21}) "Public internet: HTTP health check" \(6 nodes\)/.exec(
      result.stdout,
    )?.[1];
    expect(id).toBeDefined();
    expect(await getWorkflow(pool, id as string)).toMatchObject({
      name: "Public internet: HTTP health check",
      enabled: true,
    });
    expect(await getScheduleForWorkflow(pool, id as string)).toBeNull();

    const list = await khctl(["workflow", "list", "--json"]);
    expect(JSON.parse(list.stdout)).toContainEqual(
      expect.objectContaining({
        id,
        name: "Public internet: HTTP health check",
        nodes: 6,
        enabled: true,
        schedule: null,
      }),
    );
    const table = await khctl(["workflow", "list"]);
    expect(table.stdout).toContain(id);
    expect(table.stdout).toContain("Public internet: HTTP health check");
  });

  it("create --schedule --timezone stores a schedule whose next run is the next slot after now", async () => {
    const before = new Date();
    const result = await khctl([
      "workflow",
      "create",
      "--allow-duplicate",
      "--file",
      await file("s.json", loadExample("public-internet-check.json", server.base)),
      "--schedule",
      "0 9 * * 1-5",
      "--timezone",
      "Europe/Berlin",
      "--json",
    ]);
    expect(result.code).toBe(0);
    const created = JSON.parse(result.stdout);
    expect(created.schedule).toMatchObject({ cron: "0 9 * * 1-5", timezone: "Europe/Berlin" });
    const schedule = await getScheduleForWorkflow(pool, created.id);
    expect(schedule).toMatchObject({
      cron_expression: "0 9 * * 1-5",
      timezone: "Europe/Berlin",
      enabled: true,
      run_count: 0,
    });
    const nextRunAt = schedule?.next_run_at as Date;
    expect(nextRunAt.getTime()).toBeGreaterThan(before.getTime());
    expect(created.schedule.nextRunAt).toBe(nextRunAt.toISOString());
  });

  it("create takes the schedule from a Schedule trigger when --schedule is absent", async () => {
    const id = await createFromExample("scheduled-check.json");
    expect(await getScheduleForWorkflow(pool, id)).toMatchObject({
      cron_expression: "*/5 * * * *",
      timezone: "UTC",
    });
  });

  it.each([
    [
      "a missing file",
      async () => ["--file", path.join(os.tmpdir(), "kh-no-such-file.json")],
      /^khctl: cannot read .*kh-no-such-file\.json: ENOENT/,
    ],
    [
      "bad JSON",
      async () => ["--file", await file("bad.json", "{ nope")],
      /^khctl: .*bad\.json is not valid JSON: /,
    ],
    [
      "an invalid definition",
      async () => [
        "--file",
        await file(
          "cycle.json",
          workflow(
            [
              trigger(),
              action("a", "Condition", { condition: "true" }),
              action("b", "Condition", { condition: "true" }),
            ],
            edges("t->a", "a->b", "b->a"),
          ),
        ),
      ],
      /^khctl: .*cycle\.json: node "a" \(A\): cycle a -> b -> a$/,
    ],
    [
      "a bad cron",
      async () => ["--file", await file("ok1.json", workflow([trigger()], [])), "--schedule", "* * *"],
      /^khctl: invalid cron "\* \* \*": has 3 field\(s\)/,
    ],
    [
      "an unknown time zone",
      async () => [
        "--file",
        await file("ok2.json", workflow([trigger()], [])),
        "--schedule",
        "* * * * *",
        "--timezone",
        "Atlantis/Capital",
      ],
      /^khctl: unknown time zone "Atlantis\/Capital"/,
    ],
    [
      "a top level that is an array",
      async () => ["--file", await file("list.json", [workflow([trigger()], [])])],
      /^khctl: .*list\.json: the top level must be one workflow object \{name, description\?, nodes, edges\}, not an array \(one workflow per file\)$/,
    ],
    [
      "a top level that is a string",
      async () => ["--file", await file("string.json", '"a workflow"')],
      /^khctl: .*string\.json: the top level must be one workflow object \{name, description\?, nodes, edges\}, not a string$/,
    ],
    [
      "a top level that is null",
      async () => ["--file", await file("null.json", "null")],
      /^khctl: .*null\.json: the top level must be one workflow object \{name, description\?, nodes, edges\}, not null$/,
    ],
    [
      "an endpoint with credentials in its URL",
      async () => [
        "--file",
        await file(
          "credentials.json",
          workflow(
            [
              trigger(),
              action("h", "HTTP Request", { endpoint: "https://bob:hunter2@api.example.test/items" }),
            ],
            edges("t->h"),
          ),
        ),
      ],
      /^khctl: .*credentials\.json: node "h" \(H\): HTTP Request: "endpoint" must not hold credentials \(user:password@ in https:\/\/bob:%5Bredacted%5D@api\.example\.test\/items\): send them as an "Authorization" header in "httpHeaders"/,
    ],
  ])("create rejects %s with one line and exit 1, storing nothing", async (_, args, message) => {
    const before = (await pool.query("SELECT count(*) AS n FROM workflows")).rows[0].n;
    const result = await khctl(["workflow", "create", ...(await args())]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect((await pool.query("SELECT count(*) AS n FROM workflows")).rows[0].n).toBe(before);
  });

  it("create without --file is a usage error (exit 2)", async () => {
    expect((await khctl(["workflow", "create"])).code).toBe(2);
  });
});

describe("khctl run and khctl execution", () => {
  it("run --workflow runs it now, prints the step table, exits 0; execution --json shows the same", async () => {
    const id = await createFromExample("public-internet-check.json");
    const result = await khctl(["run", "--workflow", id, "--input", '{"who":"cli"}']);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Status\s+success/);
    for (const node of ["trigger", "check-site", "is-ok", "is-other", "report-ok", "report-other"]) {
      expect(result.stdout).toContain(node);
    }
    const executionId = /Execution\s+([0-9a-z]{21})/.exec(result.stdout)?.[1] as string;
    // Run here, so never for the queue: created marked enqueued, the outbox will not send it.
    expect((await getExecution(pool, executionId))?.enqueued_at).toBeInstanceOf(Date);

    const json = JSON.parse((await khctl(["execution", executionId, "--json"])).stdout);
    expect(json.execution).toMatchObject({
      id: executionId,
      workflowId: id,
      status: "success",
      triggerType: "manual",
      input: { who: "cli" },
      totalSteps: 6,
      completedSteps: 6,
      error: null,
    });
    expect(
      json.steps.map((step: { nodeId: string; status: string }) => `${step.nodeId}:${step.status}`).sort(),
    ).toEqual([
      "check-site:success",
      "is-ok:success",
      "is-other:success",
      "report-ok:success",
      "report-other:skipped",
      "trigger:success",
    ]);
    const text = await khctl(["execution", executionId]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("HTTP 200");
    expect(text.stdout).toContain("result: false");
    expect(text.stdout).toContain('condition of node "is-other" (Is Other 2xx) was false');
  });

  it("run --workflow exits 1 when the run fails, still printing the steps", async () => {
    const failing = workflow(
      [trigger(), action("h", "HTTP Request", { endpoint: `${server.base}/status/500` })],
      edges("t->h"),
    );
    const id = JSON.parse(
      (
        await khctl([
          "workflow",
          "create",
          "--allow-duplicate",
          "--file",
          await file("fail.json", failing),
          "--json",
        ])
      ).stdout,
    ).id;
    const result = await khctl(["run", "--workflow", id]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Status\s+error/);
    expect(result.stderr).toMatch(
      /^khctl: workflow run [0-9a-z]{21} ended error: node "h" \(H\): GET .* returned HTTP 500/,
    );
  });

  it("run <executionId> exits 0 when recorded; a second run says it is already done and exits 0", async () => {
    const id = await createFromExample("public-internet-check.json");
    const executionId = await createExecution(pool, { workflowId: id, triggerType: "manual" });
    const first = await khctl(["run", executionId]);
    expect(first).toMatchObject({ code: 0, stdout: `execution ${executionId}: success\n` });
    const second = await khctl(["run", executionId, "--json"]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ outcome: "not-claimed", executionId, status: "success" });
  });

  it("run takes EXECUTION_ID from env, and exits 0 for a workflow that failed (it was recorded)", async () => {
    const failing = workflow(
      [trigger(), action("h", "HTTP Request", { endpoint: `${server.base}/status/502` })],
      edges("t->h"),
    );
    const id = JSON.parse(
      (
        await khctl([
          "workflow",
          "create",
          "--allow-duplicate",
          "--file",
          await file("fail2.json", failing),
          "--json",
        ])
      ).stdout,
    ).id;
    const executionId = await createExecution(pool, { workflowId: id, triggerType: "manual" });
    process.env.EXECUTION_ID = executionId;
    try {
      const result = await khctl(["run"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^execution ${executionId}: error \\(node "h"`));
    } finally {
      delete process.env.EXECUTION_ID;
    }
    expect(await getExecution(pool, executionId)).toMatchObject({ status: "error" });
  });

  it("run with WORKFLOW_ID, SCHEDULE_ID and WORKFLOW_INPUT (the original runner's env) creates and runs a scheduled execution", async () => {
    const created = JSON.parse(
      (
        await khctl([
          "workflow",
          "create",
          "--allow-duplicate",
          "--file",
          await file("sched.json", loadExample("public-internet-check.json", server.base)),
          "--schedule",
          "* * * * *",
          "--json",
        ])
      ).stdout,
    );
    Object.assign(process.env, {
      WORKFLOW_ID: created.id,
      SCHEDULE_ID: created.schedule.id,
      WORKFLOW_INPUT: '{"from":"env"}',
    });
    try {
      const result = await khctl(["run", "--json"]);
      expect(result.code).toBe(0);
      const { executionId } = JSON.parse(result.stdout);
      expect(await getExecution(pool, executionId)).toMatchObject({
        workflow_id: created.id,
        schedule_id: created.schedule.id,
        trigger_type: "schedule",
        status: "success",
        input: { from: "env" },
      });
      expect(await getScheduleForWorkflow(pool, created.id)).toMatchObject({
        last_status: "success",
        run_count: 1,
      });
    } finally {
      for (const name of ["WORKFLOW_ID", "SCHEDULE_ID", "WORKFLOW_INPUT"]) delete process.env[name];
    }
  });

  it.each([
    [["run"], 1, /^khctl: no execution to run: pass <executionId>, or set EXECUTION_ID/],
    [["run", "nosuchexecution000000"], 1, /^khctl: execution nosuchexecution000000 does not exist$/],
    [["run", "Not-An-Id"], 1, /is not a 21-character \[0-9a-z\] id/],
    [["run", "--workflow", "nosuchworkflow"], 1, /^khctl: no workflow with the id or name "nosuchworkflow"/],
    [["run", "--workflow", "x", "--input", "[1]"], 2, /^khctl: --input must be a JSON object/],
    [
      ["run", "--step-timeout", "soon", "abc"],
      2,
      /^khctl: --step-timeout must be 0 \(none\) or a number of seconds from 0\.1 to 86400, got "soon"$/,
    ],
    [["run", "--input", "{}"], 2, /--input goes with --workflow/],
    [["execution", "nosuchexecution000000"], 1, /^khctl: execution nosuchexecution000000 does not exist$/],
  ])("%j exits %i with one clear line", async (args, code, message) => {
    const result = await khctl(args);
    expect(result.code).toBe(code);
    expect(result.stderr.trim()).toMatch(message);
  });
});
