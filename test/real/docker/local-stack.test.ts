import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_NODE_IMAGE } from "../../../infra/config.js";
import {
  type ContainerSpec,
  localstackSpec,
  localstackUrlHost,
  postgresSpec,
  postgresUrl,
  sqsEndpoints,
  stackLabels,
} from "../../../infra/containers.js";
import { WORKER_STOP_TIMEOUT_SECONDS, workerSpecs } from "../../../infra/local-services.js";
import { MIGRATE_ARGS } from "../../../infra/migrations.js";
import { QUEUE_ENSURE_ARGS, queueEnsureEnv, queueUrls } from "../../../infra/queue.js";
import { DEFAULT_LOCALSTACK_IMAGE, ENV, SERVICE_DEFAULTS } from "../../../services/contracts/names.js";
import { EXECUTOR_SETTINGS } from "../../../services/contracts/settings.js";
import { freePort } from "../../../services/embedded/postgres.js";
import { spawnCli } from "../../helpers/cli-process.js";
import { createTempDir } from "../../helpers/temp.js";
import { scaled, until } from "../../helpers/wait.js";
import { action, edges, trigger, workflow } from "../../workflow/fixtures.js";
import { createTestDocker, docker, inspect, untilHealthy } from "./docker.js";
import { restartDocker } from "./engine.js";
import { BUILD_TIMEOUT_MS, buildServiceImage } from "./images.js";
import { runSpec } from "./specs.js";

// The `local` stack's Docker side, run by the real engine as infra/containers.ts and infra/local-services.ts
// declare it (names apart, with this file's suffix): Postgres and LocalStack stand-ins, the dispatcher and the
// executor from keeperhub-scheduler, on a user network; the queue and the schema set up from the host as
// `pulumi up` does. Then the things a stack lives through: a stop, a LocalStack restart, a Docker restart.

const testDocker = createTestDocker();
const region = SERVICE_DEFAULTS.awsRegion;
const password = randomBytes(12).toString("hex");
const stack = testDocker.id;
const network = testDocker.name("network");
const postgres = postgresSpec(password);
/** Each container's own name: the spec's, with the file's prefix (the spec's name stays its alias). */
const own = (spec: ContainerSpec) => testDocker.name(spec.name);

let localstack: ContainerSpec;
let ports: { postgres: number; localstack: number };
let queueUrl: string;
let hostEnv: Record<string, string>;
let pool: pg.Pool;
let workers: ReturnType<typeof workerSpecs<string>>;
/** An HTTP service on the network: `GET /?ms=N` answers after N ms (what the workflows call). */
const api = { name: testDocker.name("api"), alias: "api", port: 8080 };
let workflowDir: string;

beforeAll(
  async () => {
    const scheduler = await buildServiceImage(testDocker, "scheduler");
    ports = { postgres: await freePort(), localstack: await freePort() };
    const urlHost = localstackUrlHost("dev", ports.localstack);
    localstack = localstackSpec(urlHost);
    const endpoints = sqsEndpoints(ports.localstack);
    queueUrl = queueUrls(urlHost, region).queueUrl;
    const labels = [
      ...testDocker.labelArgs,
      ...stackLabels(stack).flatMap(({ label, value }) => ["--label", `${label}=${value}`]),
    ];

    await docker(["network", "create", ...testDocker.labelArgs, network]);
    for (const [spec, image, port] of [
      [postgres, "postgres:16.9-bookworm", ports.postgres],
      [localstack, DEFAULT_LOCALSTACK_IMAGE, ports.localstack],
    ] as const) {
      const volume = testDocker.name(`${spec.name}-data`);
      await docker(["volume", "create", ...testDocker.labelArgs, volume]);
      await runSpec(spec, { name: own(spec), image, network, labels, volume, publish: `127.0.0.1:${port}` });
    }
    await docker([
      "run",
      "--detach",
      "--name",
      api.name,
      ...testDocker.labelArgs,
      "--network",
      network,
      "--network-alias",
      api.alias,
      "--restart",
      "unless-stopped",
      DEFAULT_NODE_IMAGE,
      "node",
      "-e",
      `require("http").createServer((q, s) => setTimeout(() => s.end("{}"), Number(new URL(q.url, "http://x").searchParams.get("ms")) || 0)).listen(${api.port})`,
    ]);
    await Promise.all([untilHealthy(own(postgres)), untilHealthy(own(localstack), 180_000)]);

    // What `pulumi up` runs on the host before it starts the workers: the queues, then the schema.
    const hostDatabaseUrl = postgresUrl("127.0.0.1", ports.postgres, password);
    const ensure = await spawnCli(
      [...QUEUE_ENSURE_ARGS],
      queueEnsureEnv({ endpoint: endpoints.host, region }),
    ).result;
    expect(ensure.code, ensure.stderr).toBe(0);
    const migrate = await spawnCli([...MIGRATE_ARGS], { [ENV.databaseUrl]: hostDatabaseUrl }).result;
    expect(migrate.code, migrate.stderr).toBe(0);
    hostEnv = {
      ...queueEnsureEnv({ endpoint: endpoints.host, region }),
      [ENV.databaseUrl]: hostDatabaseUrl,
      [ENV.sqsQueueUrl]: queueUrl,
    };
    pool = new pg.Pool({ connectionString: hostDatabaseUrl, max: 2 });
    // Postgres restarts with Docker: an idle connection it drops is no test failure (the next query reconnects).
    pool.on("error", () => {});

    workers = workerSpecs({
      databaseUrl: postgresUrl(postgres.name, postgres.port ?? 0, password),
      awsEndpointUrl: endpoints.network,
      awsRegion: region,
      queueUrl,
      logLevel: "info",
      encryptionKey: randomBytes(32).toString("hex"),
    });
    for (const spec of [workers.dispatcher, workers.executor]) {
      await runSpec(spec, { name: own(spec), image: scheduler.ref, network, labels });
    }
    workflowDir = await createTempDir("kh-stack-workflows");
  },
  scaled(BUILD_TIMEOUT_MS + 300_000),
);
afterAll(() => pool?.end());

/** Stores a workflow that calls the api (answering after `ms`) with `khctl workflow create`; returns its id. */
async function createWorkflow(name: string, ms: number, schedule?: string): Promise<string> {
  const file = path.join(workflowDir, `${name}.json`);
  const nodes = [
    trigger(),
    action("call", "HTTP Request", { endpoint: `http://${api.alias}:${api.port}/?ms=${ms}` }),
  ];
  await writeFile(file, JSON.stringify(workflow(nodes, edges("t->call"), name)));
  const args = [
    "workflow",
    "create",
    "--file",
    file,
    "--json",
    ...(schedule ? ["--schedule", schedule] : []),
  ];
  const created = await spawnCli(args, hostEnv).result;
  expect(created.code, created.stderr).toBe(0);
  return (JSON.parse(created.stdout) as { id: string }).id;
}

/** `khctl trigger <id> --wait` on the host, as a user runs it; resolves with its exit code and output. */
function triggerAndWait(workflowId: string) {
  return spawnCli(["trigger", workflowId, "--wait", "--timeout", String(scaled(120))], hostEnv).result;
}

/** The database's clock: "after" means after this, whatever the host's clock says. */
async function databaseNow(): Promise<Date> {
  return (await pool.query<{ now: Date }>("SELECT now()")).rows[0]?.now as Date;
}

/** Resolves once a slot of the scheduled workflow after `since` was run and recorded as success. */
function untilScheduledRunAfter(workflowId: string, since: Date, timeoutMs: number): Promise<unknown> {
  return until(
    `a scheduled run of ${workflowId} after ${since.toISOString()} recorded as success`,
    async () =>
      (
        await pool.query(
          `SELECT 1 FROM workflow_executions
            WHERE workflow_id = $1 AND trigger_type = 'schedule' AND scheduled_for > $2 AND status = 'success'`,
          [workflowId, since],
        )
      ).rowCount,
    timeoutMs,
  );
}

/** What the executor logs once it is consuming. */
const EXECUTOR_STARTED = '"msg":"executor started"';

/** How many lines of a container's log (both streams) contain `text`. */
async function timesLogged(spec: ContainerSpec, text: string): Promise<number> {
  const { stdout, stderr } = await docker(["logs", own(spec)]);
  return `${stdout}${stderr}`.split("\n").filter((line) => line.includes(text)).length;
}

async function restartCount(spec: ContainerSpec): Promise<number> {
  return Number(await inspect(own(spec), "{{.RestartCount}}"));
}

describe("the local stack in Docker", () => {
  let scheduled: string;

  it("runs a scheduled workflow: the dispatcher enqueues its slots, the executor records each run", async () => {
    scheduled = await createWorkflow("every-2s", 0, "*/2 * * * * *");
    await untilScheduledRunAfter(scheduled, new Date(0), 60_000);
  });

  it("runs a workflow triggered from the host (khctl trigger --wait)", async () => {
    const manual = await createWorkflow("manual", 0);
    const result = await triggerAndWait(manual);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it("shows no secret in `docker inspect`: the password and the key are 0400 files of the container's user", async () => {
    const key = workers.executor.secretFiles?.find((f) => f.env === ENV.integrationEncryptionKey)?.value;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    for (const spec of [postgres, workers.dispatcher, workers.executor]) {
      const shown = (await docker(["inspect", own(spec)])).stdout;
      expect(shown, spec.name).not.toContain(password);
      expect(shown, spec.name).not.toContain(String(key));
      for (const file of spec.secretFiles ?? []) {
        const stat = await docker(["exec", own(spec), "stat", "-c", "%a %u:%g", file.path]);
        expect(stat.stdout.trim(), `${spec.name} ${file.path}`).toBe(`400 ${file.owner}:${file.owner}`);
      }
    }
  });

  it(
    "lets a run in flight finish when Docker stops the executor (stop timeout > its shutdown timeout)",
    async () => {
      expect(workers.executor.stopTimeoutSeconds).toBe(WORKER_STOP_TIMEOUT_SECONDS);
      expect(await inspect(own(workers.executor), "{{.Config.StopTimeout}}")).toBe(
        String(WORKER_STOP_TIMEOUT_SECONDS),
      );
      // Longer than Docker's default stop timeout (10 s), shorter than the executor's shutdown timeout.
      const runMs = 15_000;
      expect(runMs / 1000).toBeLessThan(EXECUTOR_SETTINGS.shutdownTimeoutSeconds.default);
      const slow = await createWorkflow("slow", runMs);
      const triggered = await spawnCli(["trigger", slow, "--json"], hostEnv).result;
      expect(triggered.code, triggered.stderr).toBe(0);
      const { executionId } = JSON.parse(triggered.stdout) as { executionId: string };
      const status = async () =>
        (
          await pool.query<{ status: string }>("SELECT status FROM workflow_executions WHERE id = $1", [
            executionId,
          ])
        ).rows[0]?.status;
      await until("the slow run started", async () => (await status()) === "running", 30_000);
      // docker stop sends SIGTERM, then SIGKILL after the container's stop timeout.
      await docker(["stop", own(workers.executor)], { timeoutMs: 120_000 });
      expect(await status()).toBe("success");
      const started = await timesLogged(workers.executor, EXECUTOR_STARTED);
      await docker(["start", own(workers.executor)]);
      // Consuming again before the next test restarts LocalStack under it.
      await until(
        "the executor started again",
        async () => (await timesLogged(workers.executor, EXECUTOR_STARTED)) > started,
        60_000,
      );
    },
    scaled(180_000),
  );

  it(
    "recovers by itself when LocalStack restarts (it keeps no queues): no manual step",
    async () => {
      const before = await restartCount(workers.executor);
      const since = await databaseNow();
      await docker(["restart", own(localstack)], { timeoutMs: 120_000 });
      await untilHealthy(own(localstack), 180_000);
      // The dispatcher's sends and the executor's receives find the queue gone, and create it again.
      await untilScheduledRunAfter(scheduled, since, 120_000);
      const manual = await triggerAndWait(await createWorkflow("after-localstack-restart", 0));
      expect(manual.code, manual.stdout + manual.stderr).toBe(0);
      expect(await restartCount(workers.executor)).toBe(before);
    },
    scaled(360_000),
  );

  it(
    "recovers by itself when Docker itself restarts: every container comes back, and the pipeline goes on",
    async () => {
      const since = await databaseNow();
      await restartDocker();
      await Promise.all([untilHealthy(own(postgres), 180_000), untilHealthy(own(localstack), 180_000)]);
      for (const spec of [workers.dispatcher, workers.executor]) {
        await until(
          `${own(spec)} running`,
          async () => (await inspect(own(spec), "{{.State.Running}}")) === "true",
          180_000,
        );
      }
      await untilScheduledRunAfter(scheduled, since, 180_000);
      const manual = await triggerAndWait(await createWorkflow("after-docker-restart", 0));
      expect(manual.code, manual.stdout + manual.stderr).toBe(0);
    },
    scaled(600_000),
  );
});
