import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import type { RunnerPodOptions } from "../../../services/contracts/job-template.js";
import { IMAGES } from "../../../services/contracts/names.js";
import type { KubernetesConfig } from "../../../services/core/config.js";
import { newId } from "../../../services/core/ids.js";
import { getExecution } from "../../../services/db/executions.js";
import type { Pool, Queryable } from "../../../services/db/pool.js";
import { createWorkflow } from "../../../services/db/workflows.js";
import { sendWorkflowMessage } from "../../../services/queue/send.js";
import { createKubeApi, type KubeApi } from "../../../services/spawner/kube.js";
import { createSpawnerMetrics } from "../../../services/spawner/metrics.js";
import { type SpawnerService, startSpawnerService } from "../../../services/spawner/service.js";
import { validateWorkflow } from "../../../services/workflow/definition.js";
import { afterFile } from "../../helpers/after-file.js";
import { CLI_ENTRY, spawnCli } from "../../helpers/cli-process.js";
import type { TestDatabase } from "../../helpers/database.js";
import { listProcesses } from "../../helpers/processes.js";
import type { TestQueues, TestSqs } from "../../helpers/sqs.js";
import { createTempDir } from "../../helpers/temp.js";
import { until } from "../../helpers/wait.js";
import { createPending } from "../../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../../workflow/fixtures.js";
import {
  applyObjects,
  createTestNamespace,
  spawnerToken,
  stackObjects,
  tokenKubeConfig,
  writeKubeconfig,
} from "./cluster.js";

/** What the runner tests share: a gate the runners' HTTP steps wait at, the stack in a namespace, a spawner. */

export interface Gate {
  /** http://127.0.0.1:PORT */
  readonly base: string;
  /** Requests held now. */
  open(): number;
  /** The keys of the requests held now, oldest first. */
  heldKeys(): string[];
  /** The most requests held at once so far. */
  maxOpen(): number;
  /** Resolves once a request for `key` is held (its runner is in the step). */
  reached(key: string): Promise<void>;
  /** Answers the held request for `key` (200), and any that come later. */
  release(key: string): void;
  /** Whether the held request for `key` was dropped by its client (its runner was stopped). */
  dropped(key: string): boolean;
}

/**
 * An HTTP server on 127.0.0.1 (runner pods run on this machine, through the kwok bridge): `/gate/<key>`
 * is held until the test releases that key, so a test decides when each runner's step ends.
 */
export async function startGate(): Promise<Gate> {
  const held = new Map<string, http.ServerResponse>();
  const released = new Set<string>();
  const dropped = new Set<string>();
  const waiters = new Map<string, () => void>();
  let maxOpen = 0;
  const server = http.createServer((request, response) => {
    const key = new URL(request.url ?? "/", "http://gate").pathname.replace(/^\/gate\//, "");
    if (released.has(key)) {
      response.end("released");
      return;
    }
    held.set(key, response);
    maxOpen = Math.max(maxOpen, held.size);
    response.on("close", () => {
      if (!response.writableFinished) dropped.add(key);
      held.delete(key);
    });
    waiters.get(key)?.();
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  afterFile(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open: () => held.size,
    heldKeys: () => [...held.keys()],
    maxOpen: () => maxOpen,
    reached: (key) =>
      held.has(key) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(key, resolve)),
    release(key) {
      released.add(key);
      held.get(key)?.end("released");
      held.delete(key);
    },
    dropped: (key) => dropped.has(key),
  };
}

/** A pending manual execution of a new workflow whose one step waits at the gate under `key`. */
export async function gatedExecution(
  db: Pool,
  gate: Gate,
): Promise<{ executionId: string; workflowId: string; key: string }> {
  const key = newId();
  const { executionId, workflowId } = await createPending(
    db,
    workflow(
      [trigger(), action("wait", "HTTP Request", { endpoint: `${gate.base}/gate/${key}` })],
      edges("t->wait"),
    ),
  );
  return { executionId, workflowId, key };
}

/** The execution's message, as the dispatcher sends it. */
export function enqueue(
  sqs: TestSqs,
  queues: TestQueues,
  execution: { executionId: string; workflowId: string },
) {
  return sendWorkflowMessage(sqs.sqs, queues.queueUrl, {
    executionId: execution.executionId,
    workflowId: execution.workflowId,
    triggerType: "manual",
    triggerTime: new Date().toISOString(),
  });
}

/** Resolves the execution once it has `status`; fails naming the status it has when time runs out. */
export async function statusOf(db: Queryable, executionId: string, status: string, timeoutMs = 90_000) {
  let last: Awaited<ReturnType<typeof getExecution>> = null;
  try {
    return await until(
      `execution ${executionId} ${status}`,
      async () => {
        last = await getExecution(db, executionId);
        return last?.status === status ? last : null;
      },
      timeoutMs,
    );
  } catch (error) {
    const now = last as { status?: string; error?: string | null } | null;
    throw new Error(
      `${(error as Error).message} (it is ${now?.status}${now?.error ? `: ${now.error}` : ""})`,
    );
  }
}

export interface SpawnerNamespace {
  readonly namespace: string;
  /** The job-spawner ServiceAccount's own credentials (a TokenRequest token). */
  readonly kubeConfig: KubeConfig;
  /** The spawner's settings for this namespace. */
  readonly config: KubernetesConfig;
  /** Puts the Secret back with another DATABASE_URL for the runners (a wrong one makes them exit 1). */
  setRunnerDatabaseUrl(url: string): Promise<void>;
}

/**
 * A namespace of the file's own with the hybrid stack's objects in it: the runners' Secret and ConfigMap
 * point at the file's Postgres and fauxqs, as the stack's point at the containers.
 */
export async function spawnerNamespace(
  db: TestDatabase,
  sqs: TestSqs,
  queues: TestQueues,
  overrides: Partial<
    Pick<KubernetesConfig, "jobTtlSeconds" | "maxConcurrentJobs" | "runnerNodeSelector">
  > = {},
): Promise<SpawnerNamespace> {
  const namespace = await createTestNamespace();
  const config: KubernetesConfig = {
    namespace,
    runnerImage: `${IMAGES.runner}:real-tier`,
    jobTtlSeconds: overrides.jobTtlSeconds ?? 600,
    jobActiveDeadlineSeconds: 120,
    maxConcurrentJobs: overrides.maxConcurrentJobs ?? 10,
  };
  const objects = (databaseUrl: string) =>
    stackObjects({
      namespace,
      settings: {
        awsEndpointUrl: sqs.endpoint,
        awsRegion: "us-east-1",
        queueUrl: queues.queueUrl,
        jobTtlSeconds: config.jobTtlSeconds,
        jobActiveDeadlineSeconds: config.jobActiveDeadlineSeconds,
        maxConcurrentJobs: config.maxConcurrentJobs,
        logLevel: "info",
        ...(overrides.runnerNodeSelector ? { runnerNodeSelector: overrides.runnerNodeSelector } : {}),
      },
      secrets: {
        databaseUrl,
        encryptionKey: "c0ffee".repeat(10),
        awsCredentials: { accessKeyId: "test", secretAccessKey: "test" },
      },
    });
  await applyObjects(objects(db.url));
  const kubeConfig = tokenKubeConfig(await spawnerToken(namespace), namespace);
  return {
    namespace,
    kubeConfig,
    config,
    async setRunnerDatabaseUrl(url) {
      await applyObjects(objects(url).filter((object) => object.kind === "Secret"));
    },
  };
}

export interface TestSpawner {
  readonly service: SpawnerService;
  readonly kube: KubeApi;
  /** The spawner's log lines, parsed. */
  readonly lines: Record<string, unknown>[];
  /** Job list requests so far (each capacity check or reconcile pass that asks the API). */
  jobLists(): number;
}

/**
 * The spawner in this process (services/spawner/service.ts, as `khctl spawner` starts it), with the
 * job-spawner's own token; stopped at once when the file ends.
 */
export async function startSpawner(
  db: TestDatabase,
  sqs: TestSqs,
  queues: TestQueues,
  space: SpawnerNamespace,
  options: {
    reconcileIntervalMs?: number;
    config?: Partial<KubernetesConfig>;
    runnerPod?: RunnerPodOptions;
  } = {},
): Promise<TestSpawner> {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const kube = createKubeApi(space.kubeConfig, { namespace: space.namespace, requestTimeoutMs: 5000 });
  let lists = 0;
  const list = kube.batch.listNamespacedJob.bind(kube.batch);
  kube.batch.listNamespacedJob = (...args: Parameters<typeof list>) => {
    lists++;
    return list(...args);
  };
  const service = await startSpawnerService(
    {
      db: db.pool,
      sqs: sqs.sqs,
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
      kube,
      config: { ...space.config, ...options.config },
      logger,
      metrics: createSpawnerMetrics({ defaultMetrics: false }),
      runnerPod: options.runnerPod,
    },
    { port: null, waitTimeSeconds: 1, reconcileIntervalMs: options.reconcileIntervalMs ?? 2000 },
  );
  afterFile(() => service.stop({ timeoutMs: 0 }));
  return { service, kube, lines, jobLists: () => lists };
}

/**
 * The pid of the runner process the kwok bridge started for an execution (`node …/main.js run <id>`), or
 * undefined while there is none.
 */
export async function runnerPid(executionId: string): Promise<number | undefined> {
  return (await listProcesses()).find(
    ({ argv }) => argv.includes(CLI_ENTRY) && argv.at(-2) === "run" && argv.at(-1) === executionId,
  )?.pid;
}

/**
 * khctl on this machine as a user runs it against the namespace: the file's database, `queues`, the
 * job-spawner's own credentials as a kubeconfig file (never the in-cluster config), plus `env`.
 */
export async function namespaceKhctl(
  db: TestDatabase,
  queues: TestQueues,
  space: SpawnerNamespace,
  env: NodeJS.ProcessEnv = {},
) {
  const kubeconfig = await writeKubeconfig(
    path.join(await createTempDir("kh-real-khctl"), "kubeconfig"),
    space.kubeConfig,
  );
  return (args: string[]) =>
    spawnCli(args, {
      ...queues.env,
      DATABASE_URL: db.url,
      KUBECONFIG: kubeconfig,
      KUBERNETES_SERVICE_HOST: undefined,
      K8S_NAMESPACE: space.namespace,
      ...env,
    });
}

/** A workflow `name` whose one step needs no network (Condition `check` after trigger `t`), stored; its id. */
export async function storeConditionWorkflow(db: Pool, name: string): Promise<string> {
  const definition = workflow(
    [trigger(), action("check", "Condition", { condition: "1 + 1 == 2" })],
    edges("t->check"),
    name,
  );
  const { workflow: row } = await createWorkflow(db, { definition: validateWorkflow(definition) });
  return row.id;
}
