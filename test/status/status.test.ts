import { symlink } from "node:fs/promises";
import path from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCKER, K8S, RUNNER_APP_LABEL, STACK_LABEL } from "../../services/contracts/names.js";
import type { Exec } from "../../services/doctor/exec.js";
import { createSqsClient } from "../../services/queue/client.js";
import {
  collectStatus,
  type KubeSource,
  kubeSource,
  renderStatus,
  type StatusDeps,
  type StatusOptions,
} from "../../services/status/index.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { type K8sApiServer, startK8sApiServer } from "../helpers/k8s-api-server.js";
import { createTestSqs, type TestQueues, type TestSqs } from "../helpers/sqs.js";
import { createTempDir } from "../helpers/temp.js";

const NAMESPACE = "local";

let db: TestDatabase;
let sqs: TestSqs;
let queues: TestQueues;
let k8s: K8sApiServer;
const cleanups: (() => Promise<void>)[] = [];

/** `docker ps --format '{{json .}}'` lines for the given containers (running and healthy unless said). */
function dockerPs(
  containers: { name: string; stack: string; state?: string; health?: string; port?: number }[],
) {
  return containers
    .map((c) =>
      JSON.stringify({
        Names: c.name,
        Image: "img:1",
        State: c.state ?? "running",
        Status:
          c.state === "exited"
            ? "Exited (1) 1 minute ago"
            : `Up 1 minute (${c.health === "starting" ? "health: starting" : (c.health ?? "healthy")})`,
        Labels: `${STACK_LABEL}=${c.stack}`,
        Ports: c.port ? `0.0.0.0:${c.port}->${c.port}/tcp` : "",
      }),
    )
    .join("\n");
}

const HYBRID_CONTAINERS = dockerPs([
  { name: DOCKER.postgres, stack: "hybrid", port: 5433 },
  { name: DOCKER.localstack, stack: "hybrid", port: 4566 },
]);
const MINIKUBE_RUNNING = JSON.stringify({
  Name: "minikube",
  Host: "Running",
  Kubelet: "Running",
  APIServer: "Running",
});

/**
 * Docker and minikube as this test describes them: a fake for the two CLIs this machine lacks (the real
 * Docker is in the real-engine tier, test/real/docker/). `inspect` answers `docker inspect` (default: no
 * restarts known).
 */
function fakeExec(answers: { docker?: string | Error; inspect?: string; minikube?: string | Error }): Exec {
  return async (file, args) => {
    if (file === "docker" && args[0] === "inspect" && !(answers.docker instanceof Error)) {
      return answers.inspect ?? "[]";
    }
    const answer = file === "docker" ? answers.docker : file === "minikube" ? answers.minikube : undefined;
    if (answer === undefined) throw new Error(`${file} is not installed (not found on PATH)`);
    if (answer instanceof Error) throw answer;
    return answer;
  };
}

/** Jobs from the test API server (through @kubernetes/client-node); Deployment and CronJob from `objects`. */
function withObjects(
  source: KubeSource,
  objects: Partial<Pick<KubeSource, "deployment" | "cronJob">>,
): KubeSource {
  return { ...source, ...objects };
}

function deps(exec: Exec, kube: StatusDeps["kube"]): StatusDeps {
  return { exec, kube, sqs: (connection) => createSqsClient(connection, {}) };
}

function options(overrides: Partial<StatusOptions> = {}): StatusOptions {
  return {
    profile: undefined,
    minikubeProfile: "minikube",
    kubeContext: "test",
    namespace: NAMESPACE,
    databaseUrl: db.url,
    queueUrl: queues.queueUrl,
    sqs: { endpoint: sqs.endpoint, region: "us-east-1" },
    partTimeoutMs: 15_000,
    ...overrides,
  };
}

function runnerJob(name: string, condition?: "Complete" | "Failed") {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: NAMESPACE, labels: { app: RUNNER_APP_LABEL } },
    spec: { template: { spec: { containers: [], restartPolicy: "Never" } } },
    status: condition ? { conditions: [{ type: condition, status: "True" }] } : { active: 1 },
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query("INSERT INTO workflows (id, name) VALUES ('wf1', 'check')");
  await db.pool.query(`
    INSERT INTO workflow_executions (id, workflow_id, trigger_type, status, completed_at, error, created_at) VALUES
      ('e1', 'wf1', 'manual', 'success', now(), NULL, now() - interval '3 minutes'),
      ('e2', 'wf1', 'manual', 'success', now(), NULL, now() - interval '2 minutes'),
      ('e3', 'wf1', 'manual', 'error', now(), 'HTTP 500 from https://example.test', now() - interval '1 minute'),
      ('e4', 'wf1', 'manual', 'running', NULL, NULL, now()),
      ('old', 'wf1', 'manual', 'success', now(), NULL, now() - interval '3 days')`);
  sqs = await createTestSqs();
  queues = await sqs.createQueues();
  for (const body of ["a", "b"]) {
    await sqs.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body }));
  }
  k8s = await startK8sApiServer();
  cleanups.push(() => k8s.close());
  k8s.putJob(runnerJob("wf-running"));
  k8s.putJob(runnerJob("wf-done", "Complete"));
  k8s.putJob(runnerJob("wf-failed", "Failed"));
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("khctl status, cluster", () => {
  it("shows the objects through the stack's context, the queue and the executions; never Docker or minikube", async () => {
    const contexts: (string | undefined)[] = [];
    // Docker and minikube answer nothing: the cluster profile must not ask them.
    const report = await collectStatus(
      options({ profile: "cluster", kubeContext: "team-staging" }),
      deps(fakeExec({}), (context) => {
        contexts.push(context);
        return withObjects(kubeSource(k8s.kubeConfig()), {
          deployment: async (_ns, name) =>
            name === K8S.spawnerDeployment ? { desired: 2, ready: 2 } : undefined,
          cronJob: async () => ({
            schedule: "* * * * *",
            suspended: false,
            lastScheduleTime: new Date(),
            lastSuccessfulTime: new Date(),
            active: 0,
          }),
        });
      }),
    );
    expect(report.profile).toBe("cluster");
    expect(report.parts.map((p) => p.name)).toEqual(["kubernetes", "queue", "executions"]);
    expect(report.down).toEqual([]);
    expect(contexts).toEqual(["team-staging"]);
    expect(renderStatus(report)).toMatch(/^profile cluster \(stack cluster\)$/m);
    expect(renderStatus(report)).toMatch(/deployment job-spawner: 2\/2 ready/);
  });

  it("names the cluster stack's own `pulumi up` as the fix for missing objects", async () => {
    const report = await collectStatus(
      options({ profile: "cluster", kubeContext: "team-staging" }),
      deps(fakeExec({}), () =>
        withObjects(kubeSource(k8s.kubeConfig()), {
          deployment: async () => undefined,
          cronJob: async () => undefined,
        }),
      ),
    );
    expect(report.down).toEqual(["kubernetes"]);
    const part = report.parts.find((p) => p.name === "kubernetes");
    expect(part?.summary).toMatch(/Deployment job-spawner not found; .* \(pulumi up -s cluster\)$/);
  });
});

describe("khctl status, hybrid", () => {
  it("shows every part when everything is up: containers, minikube, Kubernetes objects, queue, executions", async () => {
    const lastSchedule = new Date(Date.now() - 20_000);
    const report = await collectStatus(
      options(),
      deps(fakeExec({ docker: HYBRID_CONTAINERS, minikube: MINIKUBE_RUNNING }), () =>
        withObjects(kubeSource(k8s.kubeConfig()), {
          deployment: async (_ns, name) =>
            name === K8S.spawnerDeployment ? { desired: 1, ready: 1 } : undefined,
          cronJob: async () => ({
            schedule: "* * * * *",
            suspended: false,
            lastScheduleTime: lastSchedule,
            lastSuccessfulTime: lastSchedule,
            active: 0,
          }),
        }),
      ),
    );
    // The Postgres container's stack label says which profile is up.
    expect(report.profile).toBe("minikube");
    expect(report.parts.map((p) => p.name)).toEqual([
      "containers",
      "minikube",
      "kubernetes",
      "queue",
      "executions",
    ]);
    expect(report.down).toEqual([]);
    const part = (name: string) => report.parts.find((p) => p.name === name);
    expect(part("kubernetes")?.data).toMatchObject({
      deployment: { ready: 1, desired: 1 },
      runnerJobs: { active: 1, succeeded: 1, failed: 1 },
    });
    expect(part("queue")?.data).toMatchObject({
      visible: 2,
      inFlight: 0,
      deadLetter: 0,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
    });
    expect(part("executions")?.data).toMatchObject({
      byStatus: { pending: 0, running: 1, success: 2, error: 1, cancelled: 0 },
    });

    const text = renderStatus(report);
    expect(text).toMatch(/^ok {3}containers {2}2 running$/m);
    expect(text).toMatch(/deployment job-spawner: 1\/1 ready/);
    expect(text).toMatch(/cronjob schedule-dispatcher: \* \* \* \* \*, last schedule .* \(20s ago\)/);
    expect(text).toMatch(/runner jobs: 1 active, 1 succeeded, 1 failed/);
    expect(text).toMatch(/^ok {3}queue {7}2 waiting, 0 in flight, 0 delayed; DLQ 0$/m);
    expect(text).toMatch(
      /^ok {3}executions {2}last 24 h: 0 pending, 1 running, 2 success, 1 error, 0 cancelled$/m,
    );
    expect(text).toMatch(/e3 {2}error .*HTTP 500 from https:\/\/example\.test/);
  });

  it("reports missing Kubernetes objects from the API server as down, and the rest still shows", async () => {
    // The test API server serves Jobs and pods only: the Deployment and CronJob reads get a real 404.
    const report = await collectStatus(
      options({ profile: "minikube" }),
      deps(fakeExec({ docker: HYBRID_CONTAINERS, minikube: MINIKUBE_RUNNING }), () =>
        kubeSource(k8s.kubeConfig()),
      ),
    );
    expect(report.down).toEqual(["kubernetes"]);
    const kubernetes = report.parts.find((p) => p.name === "kubernetes");
    expect(kubernetes?.summary).toBe(
      "context test, namespace local: Deployment job-spawner not found; CronJob schedule-dispatcher not found (pulumi up -s hybrid)",
    );
    expect(kubernetes?.lines).toContain("runner jobs: 1 active, 1 succeeded, 1 failed");
    expect(report.parts.find((p) => p.name === "queue")?.ok).toBe(true);
  });

  it("gives one line per part that cannot be reached, and reports each as down", async () => {
    const closed = "http://127.0.0.1:9";
    const report = await collectStatus(
      options({
        profile: "minikube",
        databaseUrl: "postgres://keeperhub:x@127.0.0.1:9/keeperhub",
        sqs: { endpoint: closed, region: "us-east-1" },
        queueUrl: `${closed}/000000000000/keeperhub-workflow-queue`,
      }),
      deps(fakeExec({ docker: new Error("Cannot connect to the Docker daemon") }), () => {
        throw new Error('kube context "test" is not in the kubeconfig');
      }),
    );
    expect(report.down).toEqual(["containers", "minikube", "kubernetes", "queue", "executions"]);
    const text = renderStatus(report);
    expect(text.split("\n")).toEqual([
      "profile minikube (stack hybrid)",
      "DOWN containers  Docker is not reachable: Cannot connect to the Docker daemon (khctl doctor)",
      "DOWN minikube    minikube (profile minikube): minikube is not installed (not found on PATH) (minikube start -p minikube)",
      'DOWN kubernetes  context test, namespace local: kube context "test" is not in the kubeconfig',
      expect.stringMatching(
        /^DOWN queue {7}http:\/\/127\.0\.0\.1:9\/000000000000\/keeperhub-workflow-queue: .*ECONNREFUSED.* \(khctl queue ensure; docker logs keeperhub-localstack\)$/,
      ),
      expect.stringMatching(
        /^DOWN executions {2}database: connect ECONNREFUSED 127\.0\.0\.1:9 \(docker logs keeperhub-db; khctl migrate\)$/,
      ),
    ]);
  });

  it("says how to set DATABASE_URL when it is not set", async () => {
    const report = await collectStatus(
      options({ profile: "minikube", databaseUrl: undefined }),
      deps(fakeExec({ docker: HYBRID_CONTAINERS, minikube: MINIKUBE_RUNNING }), () =>
        kubeSource(k8s.kubeConfig()),
      ),
    );
    expect(report.parts.find((p) => p.name === "executions")?.summary).toBe(
      "DATABASE_URL is not set (export DATABASE_URL=$(pulumi stack output databaseUrl --show-secrets))",
    );
  });
});

describe("khctl status, dev", () => {
  it("needs the dispatcher and executor containers running and healthy", async () => {
    const report = await collectStatus(
      options(),
      deps(
        fakeExec({
          docker: dockerPs([
            { name: DOCKER.postgres, stack: "local", port: 5433 },
            { name: DOCKER.localstack, stack: "local", health: "starting" },
            { name: DOCKER.dispatcher, stack: "local", state: "exited" },
          ]),
        }),
        () => {
          throw new Error("the dev profile never asks the cluster");
        },
      ),
    );
    expect(report.profile).toBe("dev");
    expect(report.parts.map((p) => p.name)).toEqual(["containers", "queue", "executions"]);
    expect(report.down).toEqual(["containers"]);
    expect(report.parts[0]?.summary).toBe(
      "keeperhub-localstack is starting; keeperhub-dispatcher is exited; keeperhub-executor is missing (pulumi up, or docker logs <name>)",
    );
  });

  it("shows a crash-looping container as down with its restart count, though Docker says running", async () => {
    const now = Date.now();
    const inspect = (name: string, restarts: number, startedMsAgo: number) => ({
      Name: `/${name}`,
      RestartCount: restarts,
      State: { Status: "running", StartedAt: new Date(now - startedMsAgo).toISOString() },
    });
    const report = await collectStatus(
      options({ profile: "dev" }),
      deps(
        fakeExec({
          docker: dockerPs([
            { name: DOCKER.postgres, stack: "local", port: 5433 },
            { name: DOCKER.localstack, stack: "local", port: 4566 },
            { name: DOCKER.dispatcher, stack: "local" },
            { name: DOCKER.executor, stack: "local" },
          ]),
          inspect: JSON.stringify([
            inspect(DOCKER.postgres, 0, 600_000),
            // Restarted once an hour ago, up since: up.
            inspect(DOCKER.localstack, 1, 3_600_000),
            inspect(DOCKER.dispatcher, 0, 600_000),
            // Between two crashes: running for a moment, restarted 4 times.
            inspect(DOCKER.executor, 4, 1_000),
          ]),
        }),
        () => {
          throw new Error("the dev profile never asks the cluster");
        },
      ),
    );
    expect(report.down).toEqual(["containers"]);
    const part = report.parts[0];
    expect(part?.summary).toBe(
      "keeperhub-executor is crash-looping: restarted 4 times, up 1s (pulumi up, or docker logs <name>)",
    );
    expect(part?.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: DOCKER.executor, state: "running", restarts: 4, up: false }),
        expect.objectContaining({ name: DOCKER.localstack, restarts: 1, up: true }),
      ]),
    );
    expect(part?.lines).toContainEqual(
      expect.stringMatching(/^keeperhub-localstack .*\(restarted 1 time\)$/),
    );
    expect(part?.lines).toContainEqual(
      expect.stringMatching(/^keeperhub-executor .*DOWN: is crash-looping: restarted 4 times, up 1s$/),
    );
  });
});

describe("khctl status as a process", () => {
  it("prints JSON for scripts and exits 1 when a required part is down", async () => {
    // PATH with node only: no docker, so the containers part is down whatever machine this runs on.
    const bin = await createTempDir("kh-status-bin");
    await symlink(process.execPath, path.join(bin, "node"));
    const result = await spawnCli(["status", "--profile", "dev", "--json"], {
      PATH: bin,
      DATABASE_URL: db.url,
      ...queues.env,
    }).result;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^khctl: down: containers$/m);
    const report = JSON.parse(result.stdout) as {
      down: string[];
      parts: { name: string; ok: boolean; data?: unknown }[];
    };
    expect(report.down).toEqual(["containers"]);
    expect(report.parts.find((p) => p.name === "queue")).toMatchObject({ ok: true, data: { visible: 2 } });
    expect(report.parts.find((p) => p.name === "executions")).toMatchObject({ ok: true });
  });
});
