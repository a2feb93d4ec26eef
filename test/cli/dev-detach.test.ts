import { once } from "node:events";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { DUPLICATE_WINDOW_MS } from "../../services/core/lifecycle.js";
import { getExecution } from "../../services/db/executions.js";
import { createPool } from "../../services/db/pool.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { exitCodeOf, shouldDetach } from "../../services/dev/detach.js";
import { DEV_DATABASE } from "../../services/dev/environment.js";
import { startEmbeddedPostgres } from "../../services/embedded/postgres.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { spawnCli } from "../helpers/cli-process.js";
import { describeProcess, listProcesses } from "../helpers/processes.js";
import { createTempDir } from "../helpers/temp.js";
import { scaled, until, within } from "../helpers/wait.js";
import { startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// khctl dev as a terminal runs it: KH_DEV_DETACH=1 stands for "stdin is a TTY", and the test signals
// dev's whole process group, as a terminal's Ctrl-C does.

const server = await startTestServer();

const newDataDir = () => createTempDir("kh-dev-detach");

/** Processes that name the data dir in their command line or environment: dev's worker, its Postgres, runs. */
async function processesUsing(dir: string): Promise<string[]> {
  return (await listProcesses())
    .filter(
      (info) => info.argv.some((arg) => arg.includes(dir)) || info.environ.includes(`KH_DATA_DIR=${dir}`),
    )
    .map(describeProcess);
}

/**
 * `khctl dev` detached in a process group of its own, as a terminal starts it. However the test ends, the
 * group is gone after it: a test that failed before its Ctrl-C would otherwise leave dev, its worker,
 * runners and Postgres running.
 */
function startDev(dataDir: string, extra: string[] = []) {
  const dev = spawnCli(
    ["dev", "--port", "0", "--sqs-port", "0", "--demo-api-port", "0", "--console-port", "0", ...extra],
    {
      KH_DATA_DIR: dataDir,
      KH_DEV_DETACH: "1",
      KH_DEV_WORKER: undefined,
      DATABASE_URL: undefined,
      SQS_QUEUE_URL: undefined,
      AWS_ENDPOINT_URL: undefined,
    },
    { detached: true },
  );
  onTestFinished(() => {
    try {
      process.kill(-(dev.pid as number), "SIGKILL");
    } catch {
      // Already gone: the test stopped it.
    }
  });
  return dev;
}

/** The `export DATABASE_URL=… SQS_QUEUE_URL=… AWS_ENDPOINT_URL=…` line of dev's banner, as env. */
function bannerEnv(stdout: string): Record<string, string> {
  const line = stdout.split("\n").find((l) => l.trim().startsWith("export DATABASE_URL="));
  if (!line) throw new Error(`no export line in:\n${stdout}`);
  return Object.fromEntries(
    line
      .trim()
      .slice("export ".length)
      .split(" ")
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
}

describe("when dev detaches, and the exit code it passes on", () => {
  it("detaches in a terminal or with KH_DEV_DETACH=1; never in the worker or with KH_DEV_DETACH=0", () => {
    expect(shouldDetach({}, true)).toBe(true);
    expect(shouldDetach({}, false)).toBe(false);
    expect(shouldDetach({ KH_DEV_DETACH: "1" }, false)).toBe(true);
    expect(shouldDetach({ KH_DEV_DETACH: "0" }, true)).toBe(false);
    expect(shouldDetach({ KH_DEV_DETACH: "1", KH_DEV_WORKER: "1" }, true)).toBe(false);
  });

  it("passes the worker's exit code on, and 128+n for a signal", () => {
    expect(exitCodeOf(0, null)).toBe(0);
    expect(exitCodeOf(2, null)).toBe(2);
    expect(exitCodeOf(null, "SIGINT")).toBe(130);
    expect(exitCodeOf(null, "SIGKILL")).toBe(137);
  });
});

describe("khctl dev in a terminal (detached worker)", () => {
  it(
    "Ctrl-C to the whole process group: the run in flight is recorded cancelled, exit 0, no Postgres left",
    async () => {
      const dataDir = await newDataDir();
      const dev = startDev(dataDir);
      await dev.waitForOutput("Waiting for the next minute", 30_000);
      const env = bannerEnv(dev.output("stdout"));

      const pool = createPool(env.DATABASE_URL as string);
      let executionId: string;
      try {
        const slow = validateWorkflow(
          workflow(
            [trigger(), action("slow", "HTTP Request", { endpoint: `${server.base}/slow` })],
            edges("t->slow"),
            "slow manual",
          ),
        );
        const { workflow: row } = await createWorkflow(pool, { definition: slow });
        const slowStarted = once(server.events, "slow");
        const triggered = await spawnCli(["trigger", row.id], env).result;
        expect(triggered.stderr).toBe("");
        executionId = triggered.stdout.trim();
        await within(slowStarted, 20_000, "the run's slow request");
        expect(await getExecution(pool, executionId)).toMatchObject({ status: "running" });
      } finally {
        await pool.end();
      }

      process.kill(-(dev.pid as number), "SIGINT");
      const result = await within(dev.result, 25_000, "dev stopping after Ctrl-C");
      expect(result.stderr).not.toMatch(/khctl:/);
      expect(result.stderr).toContain("SIGINT: stopping");
      expect(result.stderr).toContain("stopped.");
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`cancelled\\s+${executionId}`));
      expect(await processesUsing(dataDir)).toEqual([]);

      // What the runner recorded, read before any later dev start could "recover" it.
      const postgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "postgres") });
      const check = createPool(postgres.urlFor(DEV_DATABASE));
      try {
        expect(await getExecution(check, executionId)).toMatchObject({
          status: "cancelled",
          error: "cancelled: SIGTERM",
        });
      } finally {
        await check.end();
        await postgres.stop();
      }
      // Its bounded waits (start, the slow request, the stop) add up to more than the default timeout.
    },
    scaled(90_000),
  );

  it(
    "a second Ctrl-C is acknowledged and cancels the run in flight at once, however long the grace",
    async () => {
      const dataDir = await newDataDir();
      // Without the second Ctrl-C the run would get 10 minutes: far past this test's deadline.
      const dev = startDev(dataDir, ["--shutdown-timeout", "600"]);
      await dev.waitForOutput("Waiting for the next minute", 30_000);
      const env = bannerEnv(dev.output("stdout"));
      const pool = createPool(env.DATABASE_URL as string);
      let executionId: string;
      try {
        const slow = validateWorkflow(
          workflow(
            [trigger(), action("slow", "HTTP Request", { endpoint: `${server.base}/slow` })],
            edges("t->slow"),
            "slow manual",
          ),
        );
        const { workflow: row } = await createWorkflow(pool, { definition: slow });
        const slowStarted = once(server.events, "slow");
        executionId = (await spawnCli(["trigger", row.id], env).result).stdout.trim();
        await within(slowStarted, 20_000, "the run's slow request");
      } finally {
        await pool.end();
      }

      process.kill(-(dev.pid as number), "SIGINT");
      await dev.waitForOutput("SIGINT: stopping (runs in flight get up to 600 s");
      // A second signal within DUPLICATE_WINDOW_MS counts as the first one relayed: wait that out.
      const firstAt = Date.now();
      await until(
        "the duplicate window to pass",
        async () => Date.now() - firstAt > DUPLICATE_WINDOW_MS + 100,
      );
      process.kill(-(dev.pid as number), "SIGINT");
      const result = await within(dev.result, 30_000, "dev stopping after the second Ctrl-C");
      expect(result.stderr).toContain("SIGINT again: stopping now, aborting work in flight");
      expect(result.stdout).toMatch(new RegExp(`cancelled\\s+${executionId}`));
      expect(result.code).toBe(0);
      expect(await processesUsing(dataDir)).toEqual([]);
    },
    scaled(90_000),
  );

  it("the worker never outlives khctl: SIGKILL of the parent stops the worker and its Postgres", async () => {
    const dataDir = await newDataDir();
    const dev = startDev(dataDir);
    await dev.waitForOutput("Waiting for the next minute", 30_000);
    const running = await processesUsing(dataDir);
    expect(running.some((line) => line.includes("postgres"))).toBe(true);

    dev.kill("SIGKILL");
    await once(dev, "exit");
    await until("worker and Postgres to stop", async () => (await processesUsing(dataDir)).length === 0);
  });
});
