import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { recordStepEnd } from "../../services/db/execution-logs.js";
import { createExecution } from "../../services/db/executions.js";
import { getWorkflow } from "../../services/db/workflows.js";
import { request, startTestConsole } from "../console/fixtures.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { createTempDir } from "../helpers/temp.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { runCliInProcess as khctl } from "./cli.js";

// One masking rule for every view: the same stored workflow and execution, holding secrets in each place
// a secret can be stored (a run's input, an error naming a URL, a node's headers, query and body), read
// through every khctl view against the real database and through the console's HTTP server.

const db = await createTestDatabase();
const testSqs = await createTestSqs();
const queues = await testSqs.createQueues();
const web = await startTestConsole(db, testSqs, queues);
const dir = await createTempDir("kh-masking");

/** Every secret the fixtures store; none may appear in any view without --show-secrets. */
const SECRETS = {
  endpoint: "ENDPOINT-SECRET",
  header: "HEADER-SECRET",
  query: "QUERY-SECRET",
  body: "BODY-SECRET",
  input: "INPUT-SECRET",
  inputUrl: "INPUT-URL-SECRET",
  error: "ERROR-SECRET",
  stepError: "STEP-SECRET",
};
const secretsIn = (text: string) => Object.values(SECRETS).filter((secret) => text.includes(secret));

const definition = workflow(
  [
    trigger(),
    action("call", "HTTP Request", {
      endpoint: `https://api.example.test/items?api_key=${SECRETS.endpoint}&page=2`,
      httpMethod: "POST",
      httpHeaders: JSON.stringify({ Authorization: `Bearer ${SECRETS.header}`, Accept: "application/json" }),
      httpQueryParams: { token: SECRETS.query, limit: "5" },
      httpBody: JSON.stringify({ password: SECRETS.body, name: "kept" }),
    }),
  ],
  edges("t->call"),
  "masked everywhere",
);

let workflowId: string;
let executionId: string;

async function file(name: string, content: string): Promise<string> {
  const target = path.join(dir, name);
  await writeFile(target, content);
  return target;
}

beforeAll(async () => {
  process.env.DATABASE_URL = db.url;
  process.env.LOG_LEVEL = "silent";
  const created = await khctl([
    "workflow",
    "create",
    "--file",
    await file("wf.json", JSON.stringify(definition)),
    "--json",
  ]);
  expect(created.code).toBe(0);
  workflowId = JSON.parse(created.stdout).id;
  executionId = await createExecution(db.pool, {
    workflowId,
    triggerType: "manual",
    input: {
      token: SECRETS.input,
      callback: `https://cb.example.test/hook?access_token=${SECRETS.inputUrl}`,
    },
  });
  // Errors as a runner could store them, naming a URL with its secret (the views mask them anyway).
  await db.pool.query(
    `UPDATE workflow_executions SET status = 'error', started_at = now(), completed_at = now(), duration_ms = 3,
       error = $2 WHERE id = $1`,
    [executionId, `POST https://api.example.test/items?api_key=${SECRETS.error} failed: refused`],
  );
  const at = new Date();
  await recordStepEnd(db.pool, {
    executionId,
    nodeId: "call",
    nodeName: "CALL",
    nodeType: "HTTP Request",
    input: {},
    status: "error",
    error: `POST https://api.example.test/items?token=${SECRETS.stepError} failed: refused`,
    startedAt: at,
    completedAt: at,
    durationMs: 3,
  });
});

describe("every view masks by one rule", () => {
  it.each([
    ["execution (table)", () => ["execution", executionId]],
    ["execution --json", () => ["execution", executionId, "--json"]],
    ["execution list", () => ["execution", "list"]],
    ["execution list --json", () => ["execution", "list", "--json"]],
    ["logs (the step log)", () => ["logs", executionId]],

    ["workflow show (table)", () => ["workflow", "show", workflowId]],
    ["workflow show --json", () => ["workflow", "show", workflowId, "--json"]],
    ["workflow show --definition", () => ["workflow", "show", workflowId, "--definition"]],
  ])("khctl %s shows no secret", async (_, args) => {
    const result = await khctl(args());
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(0);
    expect(secretsIn(result.stdout + result.stderr)).toEqual([]);
  });

  it.each([[["status", "--profile", "embedded"]], [["status", "--profile", "embedded", "--json"]]])(
    "khctl %j lists the execution with its error masked (exit 1: no queue is configured here)",
    async (args) => {
      const result = await khctl(args);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(executionId);
      expect(result.stdout).toContain("api_key=%5Bredacted%5D");
      expect(secretsIn(result.stdout + result.stderr)).toEqual([]);
    },
  );

  it("khctl execution masks the run's input in the table and --json; --show-secrets shows it as given", async () => {
    const table = await khctl(["execution", executionId]);
    expect(table.stdout).toMatch(
      /^Input {6}\{"token":"\[redacted\]","callback":"https:\/\/cb\.example\.test\/hook\?access_token=%5Bredacted%5D"\}$/m,
    );
    const json = JSON.parse((await khctl(["execution", executionId, "--json"])).stdout);
    expect(json.execution.input.token).toBe("[redacted]");
    const shown = JSON.parse((await khctl(["execution", executionId, "--json", "--show-secrets"])).stdout);
    expect(shown.execution.input).toEqual({
      token: SECRETS.input,
      callback: `https://cb.example.test/hook?access_token=${SECRETS.inputUrl}`,
    });
    // Errors are masked whatever the flag: what is stored there is never needed as it is.
    expect(shown.execution.error).not.toContain(SECRETS.error);
  });

  it("khctl workflow show masks the stored node's headers, query and body, keeping the rest", async () => {
    const view = JSON.parse((await khctl(["workflow", "show", workflowId, "--json"])).stdout);
    const config = view.workflow.nodes[1].data.config;
    expect(config).toMatchObject({
      endpoint: "https://api.example.test/items?api_key=%5Bredacted%5D&page=2",
      httpHeaders: JSON.stringify({ Authorization: "[redacted]", Accept: "application/json" }),
      httpQueryParams: { token: "[redacted]", limit: "5" },
      httpBody: JSON.stringify({ password: "[redacted]", name: "kept" }),
    });
  });

  it("khctl workflow show --show-secrets prints the definition as stored, and update takes it back", async () => {
    const shown = await khctl(["workflow", "show", workflowId, "--definition", "--show-secrets"]);
    expect(secretsIn(shown.stdout).sort()).toEqual(
      [SECRETS.endpoint, SECRETS.header, SECRETS.query, SECRETS.body].sort(),
    );
    const updated = await khctl([
      "workflow",
      "update",
      workflowId,
      "--file",
      await file("as-stored.json", shown.stdout),
    ]);
    expect(updated.code).toBe(0);
    expect(JSON.stringify((await getWorkflow(db.pool, workflowId))?.nodes)).toContain(SECRETS.header);
  });

  it("a definition printed masked is refused when given back, in one line, and the stored secrets stay", async () => {
    const masked = await khctl(["workflow", "show", workflowId, "--definition"]);
    const target = await file("masked.json", masked.stdout);
    const result = await khctl(["workflow", "update", workflowId, "--file", target]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `khctl: ${target}: node "call" (CALL) holds "[redacted]" where a secret was masked; put the real value back (khctl workflow show --definition --show-secrets prints it)\n`,
    );
    expect(JSON.stringify((await getWorkflow(db.pool, workflowId))?.nodes)).toContain(SECRETS.header);
    expect(await readFile(target, "utf8")).toContain("[redacted]");
  });

  it.each([
    ["the execution page", () => `/executions/${executionId}`],
    ["the executions list", () => "/executions"],
    ["the workflows list", () => "/workflows"],
    ["search", () => `/search?q=${executionId.slice(0, 8)}`],
  ])("the console's %s shows no secret", async (_, page) => {
    const answer = await request(web.url, page());
    expect(answer.status).toBe(200);
    expect(answer.body).toContain("masked everywhere");
    expect(secretsIn(answer.body)).toEqual([]);
  });

  it("the console's execution page shows the masked input and error, as khctl does", async () => {
    const answer = await request(web.url, `/executions/${executionId}`);
    expect(answer.body).toContain("[redacted]");
    expect(answer.body).toContain("api_key=%5Bredacted%5D");
  });
});
