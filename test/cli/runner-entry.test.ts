import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runnerForm } from "../../services/cli/runner-form.js";
import { buildJobTemplate } from "../../services/contracts/job-template.js";
import { DEFAULT_NAMESPACE, ENV, SERVICE_DEFAULTS } from "../../services/contracts/names.js";
import { getExecution } from "../../services/db/executions.js";
import { runRunnerProcess, WarmRunners } from "../../services/executor/child.js";
import { builtRunner, type CliResult, spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { warmRunnerPids } from "../helpers/processes.js";
import { createTempDir } from "../helpers/temp.js";
import { until, within } from "../helpers/wait.js";
import { createPending } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// The runner's own entry (services/cli/runner-entry.ts, bundled by `npm run build`): the command lines that
// production starts reach it, it loads nothing but its bundle, and it behaves exactly as commander's `run`.

const { pool, url } = await createTestDatabase();
const traces = await createTempDir("kh-module-trace");
const ROOT = path.join(import.meta.dirname, "..", "..");
const TRACE_HOOK = path.join(ROOT, "test", "helpers", "module-trace.mjs");
const ID = /\b[0-9a-z]{21}\b/g;

const trivial = () =>
  workflow([trigger(), action("check", "Condition", { condition: "1 + 1 === 2" })], edges("t->check"));

let traceCount = 0;
/** Env that makes khctl processes record the modules they load, and what they loaded (paths in the repository). */
function traced(): { env: NodeJS.ProcessEnv; loaded(): Promise<string[]> } {
  const file = path.join(traces, `${++traceCount}.txt`);
  return {
    env: { NODE_OPTIONS: `--import=${TRACE_HOOK}`, MODULE_TRACE_FILE: file },
    loaded: async () =>
      (await readFile(file, "utf8"))
        .split("\n")
        .filter((line) => line.startsWith("file:"))
        .map((line) => path.relative(ROOT, fileURLToPath(line))),
  };
}

/**
 * The runner's entry and what it loads before it (main.js with its dependency-free Node check, compile
 * cache and secret-file loader, runner-form.js and its dependency-free contracts), and nothing else: every library is inside the bundle.
 */
function expectRunnerEntryOnly(loaded: string[]): void {
  expect(loaded).toContain("dist/services/cli/runner-entry.js");
  const others = loaded.filter(
    (file) =>
      ![
        "dist/services/cli/main.js",
        "dist/services/core/node-support.js",
        "dist/services/cli/compile-cache.js",
        "dist/services/core/secret-files.js",
        "dist/services/core/errors.js",
        "dist/services/cli/runner-form.js",
        "dist/services/cli/runner-entry.js",
      ].includes(file) &&
      !file.startsWith("dist/services/contracts/") &&
      // pino's transport worker, which the bundle leaves out (bundle:runner's --external:thread-stream)
      !file.startsWith("node_modules/thread-stream/"),
  );
  expect(others).toEqual([]);
}

describe("runnerForm", () => {
  it("takes the runner's command lines: run <id>, run --id-from-stdin, and a bare run (ids from env)", () => {
    const id = "abcdefghijklmnopqrstu";
    expect(runnerForm(["run", id])).toEqual({ executionId: id, flags: {} });
    expect(runnerForm(["run", "--id-from-stdin"])).toEqual({ flags: { idFromStdin: true } });
    expect(runnerForm(["run"])).toEqual({ flags: {} });
  });

  it("leaves everything else to commander: flags, --help, operands that are not ids, other verbs", () => {
    const id = "abcdefghijklmnopqrstu";
    for (const args of [
      ["run", "--help"],
      ["run", "-h"],
      ["run", id, "--json"],
      ["run", "--", id],
      ["run", "--workflow", id],
      ["run", "--step-timeout", "5"],
      ["run", "not-an-id"],
      ["run", id.toUpperCase()],
      ["run", id, id],
      ["status"],
      [],
    ]) {
      expect(runnerForm(args), args.join(" ")).toBeUndefined();
    }
  });
});

describe("what production starts reaches the runner's entry", () => {
  it("a runner Job: the template's args and env on the image's entry point (dist/services/cli/main.js)", async () => {
    const { executionId, workflowId } = await createPending(pool, trivial());
    const job = buildJobTemplate({
      executionId,
      workflowId,
      config: {
        namespace: DEFAULT_NAMESPACE,
        runnerImage: "keeperhub-runner:test",
        jobTtlSeconds: SERVICE_DEFAULTS.jobTtlSeconds,
        jobActiveDeadlineSeconds: SERVICE_DEFAULTS.jobActiveDeadlineSeconds,
      },
    });
    const container = job.spec?.template.spec?.containers[0];
    const plainEnv = Object.fromEntries(
      (container?.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
    );
    expect(plainEnv).toMatchObject({ [ENV.executionId]: executionId });
    const trace = traced();
    const result = await spawnCli(container?.args ?? [], {
      ...plainEnv,
      [ENV.databaseUrl]: url,
      ...trace.env,
    }).result;

    expect(result).toEqual({ code: 0, stdout: `execution ${executionId}: success\n`, stderr: "" });
    expectRunnerEntryOnly(await trace.loaded());
    expect(await getExecution(pool, executionId)).toMatchObject({ status: "success" });
  });

  it("the executor's runner process (executor/child.ts), cold and warm", async () => {
    const trace = traced();
    const runner = builtRunner({ [ENV.databaseUrl]: url, ...trace.env });

    const cold = await createPending(pool, trivial());
    expect(await runRunnerProcess(cold.executionId, runner)).toMatchObject({ exitCode: 0, signal: null });

    const warm = await createPending(pool, trivial());
    const runners = new WarmRunners(runner, 1);
    const exit = await runners.run(warm.executionId, {});
    runners.stop();
    expect(exit).toMatchObject({ exitCode: 0, signal: null });
    // The replacement started after the run ends once its stdin is closed: wait for it (it wrote the trace).
    await until("the idle warm runner ending", async () => (await warmRunnerPids(url)).length === 0);

    for (const { executionId } of [cold, warm]) {
      expect(await getExecution(pool, executionId)).toMatchObject({ status: "success" });
    }
    expectRunnerEntryOnly(await trace.loaded());
  });

  it("while any other command line of `run` goes through commander", async () => {
    const trace = traced();
    const result = await spawnCli(["run", "--help"], trace.env).result;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: khctl run \[options\] \[executionId\]/);
    const loaded = await trace.loaded();
    expect(loaded).toContain("dist/services/cli/program.js");
    expect(loaded).toContain("dist/services/cli/commands/run.js");
    expect(loaded).not.toContain("dist/services/cli/runner-entry.js");
  });
});

/** A result with ids and log times replaced, so runs of different executions compare. */
function normalized(result: CliResult): CliResult {
  const clean = (text: string) => text.replace(ID, "<id>").replace(/"time":\d+/g, '"time":<t>');
  return { code: result.code, stdout: clean(result.stdout), stderr: clean(result.stderr) };
}

interface Case {
  readonly name: string;
  /** The runner form and the same command line for commander (`--` ends the options; same operands). */
  readonly args: (id: string) => { runner: string[]; commander: string[] };
  /** Env for the process, given a fresh execution id (pending unless `finished`). */
  readonly env?: (id: string) => NodeJS.ProcessEnv;
  /** Text written to stdin (then closed). */
  readonly stdin?: (id: string) => string;
  /** Run the execution once before, so it is no longer pending. */
  readonly finished?: boolean;
  /** What both must give. */
  readonly expected: { code: number; stdout?: RegExp; stderr?: RegExp };
}

const UNKNOWN_ID = "zzzzzzzzzzzzzzzzzzzzz";

const CASES: Case[] = [
  {
    name: "a pending execution is run (LOG_LEVEL=info: the same log lines)",
    args: (id) => ({ runner: ["run", id], commander: ["run", "--", id] }),
    env: () => ({ [ENV.logLevel]: "info" }),
    expected: { code: 0, stdout: /^execution <id>: success\n$/, stderr: /"msg":"execution finished"/ },
  },
  {
    name: "an execution another runner finished is not run",
    args: (id) => ({ runner: ["run", id], commander: ["run", "--", id] }),
    finished: true,
    expected: { code: 0, stdout: /not run: it is already success/ },
  },
  {
    name: "an unknown execution",
    args: () => ({ runner: ["run", UNKNOWN_ID], commander: ["run", "--", UNKNOWN_ID] }),
    expected: {
      code: 1,
      stderr: /"msg":"execution does not exist; nothing to run"}\nkhctl: execution <id> does not exist\n$/,
    },
  },
  {
    name: "DATABASE_URL unset",
    args: (id) => ({ runner: ["run", id], commander: ["run", "--", id] }),
    env: () => ({ [ENV.databaseUrl]: undefined }),
    expected: { code: 1, stderr: /^khctl: DATABASE_URL is not set\n$/ },
  },
  {
    name: "a malformed timeout variable",
    args: (id) => ({ runner: ["run", id], commander: ["run", "--", id] }),
    env: () => ({ STEP_TIMEOUT_SECONDS: "soon" }),
    expected: { code: 1, stderr: /^khctl: STEP_TIMEOUT_SECONDS must be .*, got "soon"\n$/ },
  },
  {
    name: "a variable an earlier version read",
    args: (id) => ({ runner: ["run", id], commander: ["run", "--", id] }),
    env: () => ({ RUNNER_LOST_AFTER_SECONDS: "60" }),
    expected: { code: 1, stderr: /^khctl: RUNNER_LOST_AFTER_SECONDS is no longer read/ },
  },
  {
    name: "a bare run takes EXECUTION_ID",
    args: () => ({ runner: ["run"], commander: ["run", "--"] }),
    env: (id) => ({ [ENV.executionId]: id }),
    expected: { code: 0, stdout: /^execution <id>: success\n$/ },
  },
  {
    name: "a bare run with nothing to run",
    args: () => ({ runner: ["run"], commander: ["run", "--"] }),
    expected: { code: 1, stderr: /^khctl: no execution to run/ },
  },
  {
    name: "--id-from-stdin runs the execution named on stdin",
    args: () => ({ runner: ["run", "--id-from-stdin"], commander: ["run", "--id-from-stdin", "--"] }),
    stdin: (id) => `${id}\n`,
    expected: { code: 0, stdout: /^execution <id>: success\n$/ },
  },
  {
    name: "--id-from-stdin, stdin closed without an id",
    args: () => ({ runner: ["run", "--id-from-stdin"], commander: ["run", "--id-from-stdin", "--"] }),
    stdin: () => "",
    expected: { code: 0, stdout: /^$/, stderr: /^$/ },
  },
];

async function runCase(testCase: Case, path: "runner" | "commander"): Promise<CliResult> {
  const { executionId } = await createPending(pool, trivial());
  if (testCase.finished) {
    expect((await spawnCli(["run", executionId], { [ENV.databaseUrl]: url }).result).code).toBe(0);
  }
  const args = testCase.args(executionId)[path];
  if (path === "runner") expect(runnerForm(args), args.join(" ")).toBeDefined();
  else expect(runnerForm(args), args.join(" ")).toBeUndefined();
  const child = spawnCli(
    args,
    { [ENV.databaseUrl]: url, ...testCase.env?.(executionId) },
    { stdin: testCase.stdin ? "pipe" : "ignore" },
  );
  if (testCase.stdin) child.stdin?.end(testCase.stdin(executionId));
  return normalized(await within(child.result, 30_000, `khctl ${args.join(" ")}`));
}

describe("the runner's entry behaves as commander's `run`", () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const [runner, commander] = [await runCase(testCase, "runner"), await runCase(testCase, "commander")];
      expect(runner).toEqual(commander);
      expect(runner.code).toBe(testCase.expected.code);
      if (testCase.expected.stdout) expect(runner.stdout).toMatch(testCase.expected.stdout);
      if (testCase.expected.stderr) expect(runner.stderr).toMatch(testCase.expected.stderr);
    });
  }
});
