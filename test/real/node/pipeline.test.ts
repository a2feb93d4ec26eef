import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { reachCheckScript } from "../../../infra/cluster/scheduler.js";
import { dispatcherCronJobArgs, REACH_CHECK_POD } from "../../../infra/cluster/specs.js";
import { HOST_ALIAS, jobNameFor, K8S } from "../../../services/contracts/names.js";
import { newId } from "../../../services/core/ids.js";
import { createExecution } from "../../../services/db/executions.js";
import type { Pool } from "../../../services/db/pool.js";
import { createWorkflow } from "../../../services/db/workflows.js";
import { validateWorkflow } from "../../../services/workflow/definition.js";
import { request, startTestConsole } from "../../console/fixtures.js";
import { createTestDatabase } from "../../helpers/database.js";
import { createTestSqs, type TestQueues } from "../../helpers/sqs.js";
import { scaled, until, within } from "../../helpers/wait.js";
import { createPending } from "../../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../../workflow/fixtures.js";
import { applyObjects, deleteRunnerJob, jobReaches, kubectl, manifest } from "../kube/cluster.js";
import { enqueue, namespaceKhctl, startGate, statusOf, storeConditionWorkflow } from "../kube/fixtures.js";
import {
  adminContext,
  inspectContainer,
  nodeHasImage,
  nodeServiceImages,
  ON_REAL_NODE,
  POD_HOST_ADDRESS,
  podNamespace,
  podsIn,
  podUrl,
  runStackScript,
  nodeSpawner as startNodeSpawner,
} from "./node.js";

// The hybrid pipeline on a real kubelet: the runner image built by the real Docker engine from
// services/Dockerfile and loaded into the tools' worker node through the stack's loader interface, the
// stack's namespace, ConfigMap and Secret (infra/cluster/specs.ts) on the real API server, the spawner on
// this machine (so each test can start one with its own limits and image; spawner-pod.test.ts runs the
// stack's Deployment), and runner pods pinned to the real node, reaching Postgres and fauxqs at the
// address a pod sees this machine at.

const ENCRYPTION_KEY = "c0ffee".repeat(10);
/** The OOM test's runner memory limit: the runner needs about 50 MiB, its step reads far more. */
const SMALL_MEMORY = "128Mi";
/** What that step may read (maxResponseBytes): the limit stops it, not the runner's own cap. */
const FLOOD_BYTES = 1024 * 1024 * 1024;

const db = await createTestDatabase();
const sqs = await createTestSqs();
const { runner: image, scheduler: schedulerImage } = await nodeServiceImages();

// The runners' view of this machine: the same servers, through 10.88.0.1.
const { space, hostQueues, podDatabaseUrl } = await podNamespace(db, sqs);

/** A spawner on its own queue, creating runner Jobs for the real node from `runnerImage`. */
const nodeSpawner = (options: Parameters<typeof startNodeSpawner>[3]) =>
  startNodeSpawner(db, sqs, space, options);

// The stack's spawner: the queue the namespace's ConfigMap names (where the dispatcher sends).
const loaded = await nodeSpawner({ runnerImage: image.ref, queues: hostQueues });
const oom = await nodeSpawner({ runnerImage: image.ref, memoryLimit: SMALL_MEMORY });
const notLoadedImage = `${image.ref}-never-loaded`;
const notLoaded = await nodeSpawner({ runnerImage: notLoadedImage });

/** khctl on this machine, as a user runs it: the file's database, the loaded spawner's queue, its kubeconfig. */
const khctlProcess = await namespaceKhctl(db, loaded.queues, space);
const khctl = (args: string[]) => khctlProcess(args).result;

/**
 * An HTTP server on the address pods reach this machine at, whose answer is a body of FLOOD_BYTES, sent
 * as fast as the reader takes it, ended early when the reader goes (its runner was killed).
 */
async function startFloodServer(): Promise<string> {
  const chunk = Buffer.alloc(1024 * 1024, "a");
  const server = http.createServer(async (_request, response) => {
    response.writeHead(200, { "content-type": "text/plain", "content-length": String(FLOOD_BYTES) });
    for (let sent = 0; sent < FLOOD_BYTES && !response.destroyed; sent += chunk.length) {
      if (!response.write(chunk)) await once(response, "drain").catch(() => {});
    }
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, POD_HOST_ADDRESS, resolve));
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://${POD_HOST_ADDRESS}:${(server.address() as AddressInfo).port}/flood`;
}
const floodUrl = await startFloodServer();
// Steps that wait until the test releases them, reached by pods at the node's gateway.
const gate = await startGate();
const podGateBase = (await podUrl(gate.base)).replace(/\/$/, "");

/** The runner pods of an execution, as admin. */
const podsOf = (executionId: string) => podsIn(space.namespace, `job-name=${jobNameFor(executionId)}`);

/** A workflow whose one step reads a body far over the OOM spawner's memory limit. */
async function floodWorkflow(pool: Pool): Promise<string> {
  const definition = workflow(
    [trigger(), action("big", "HTTP Request", { endpoint: floodUrl, maxResponseBytes: FLOOD_BYTES })],
    edges("t->big"),
    "over its memory",
  );
  const { workflow: row } = await createWorkflow(pool, { definition: validateWorkflow(definition) });
  return row.id;
}

/** A pending manual execution of a new workflow, sent to a spawner's queue. */
async function sentExecution(queues: TestQueues, workflowId: string): Promise<string> {
  const executionId = await createExecution(db.pool, { workflowId, triggerType: "manual", input: {} });
  await enqueue(sqs, queues, { executionId, workflowId });
  return executionId;
}

describe("the hybrid pipeline on a real kubelet", () => {
  let triggered: string | undefined;

  it(
    "khctl trigger --wait succeeds through spawner → Job → runner pod on the real node; the step log is in Postgres and khctl logs reads the pod's log",
    async () => {
      expect(await nodeHasImage(image.ref)).toBe(true);
      const workflowId = await storeConditionWorkflow(db.pool, "real node");
      const run = await khctl(["trigger", workflowId, "--wait", "--json"]);
      expect(run.code, run.stderr).toBe(0);
      const executionId = (JSON.parse(run.stdout) as { execution: { id: string } }).execution.id;
      triggered = executionId;
      const execution = await statusOf(db.pool, executionId, "success", 10_000);
      expect(execution?.job_name).toBe(jobNameFor(executionId));

      const [pod, ...others] = await podsOf(executionId);
      expect(others).toEqual([]);
      expect(pod?.spec.nodeName).toBe("kube-node-0");
      expect(pod?.spec.containers[0]?.image).toBe(image.ref);

      const { rows } = await db.pool.query<{ node_id: string; status: string }>(
        "SELECT node_id, status FROM workflow_execution_logs WHERE execution_id = $1 ORDER BY started_at",
        [executionId],
      );
      expect(rows).toEqual([
        { node_id: "t", status: "success" },
        { node_id: "check", status: "success" },
      ]);

      // The runner records its result, then exits: read its whole log once the pod has ended.
      await jobReaches(space.namespace, jobNameFor(executionId), "Complete");
      const logs = await khctl(["logs", executionId]);
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stderr).toContain(`runner pod ${jobNameFor(executionId)}-`);
      // From the pod (through the API server and the kubelet), not the step log's fallback.
      expect(logs.stderr, logs.stderr).not.toContain("showing the step log");
      expect(logs.stdout).toContain("execution finished");
    },
    scaled(180_000),
  );

  it("the runner pod ran as uid 1000, read-only root, no capabilities, seccomp RuntimeDefault, no secret in its spec", async () => {
    expect(triggered, "the trigger test ran first").toBeDefined();
    const [pod] = await podsOf(triggered as string);
    if (!pod) throw new Error("the runner pod is gone");
    const container = pod.spec.containers[0];
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    // The env: the Secret's keys by reference, the rest from the ConfigMap; no value of the Secret anywhere.
    const spec = JSON.stringify(pod.spec);
    for (const secret of [ENCRYPTION_KEY, new URL(podDatabaseUrl).password]) {
      if (secret) expect(spec).not.toContain(secret);
    }
    const fromSecret = (container?.env ?? []).filter((e) => e.valueFrom?.secretKeyRef);
    expect(fromSecret.map((e) => e.name)).toEqual(
      expect.arrayContaining(["DATABASE_URL", "INTEGRATION_ENCRYPTION_KEY"]),
    );
    expect(container?.envFrom).toEqual([{ configMapRef: { name: "scheduler-env" } }]);

    // What runc was given, from the node's runtime.
    const cri = await inspectContainer(pod.status.containerStatuses?.[0]?.containerID ?? "");
    const { process, root, linux } = cri.info.runtimeSpec;
    expect(process.user.uid).toBe(1000);
    expect(process.user.uid).not.toBe(0);
    expect(root.readonly).toBe(true);
    expect(process.noNewPrivileges).toBe(true);
    for (const set of ["bounding", "effective", "permitted"]) {
      expect(process.capabilities?.[set] ?? [], set).toEqual([]);
    }
    expect(linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
  });

  it(
    "a runner over its memory limit ends error with OOMKilled (khctl execution, khctl status, the console) within 30 s, not retried",
    async () => {
      const executionId = await sentExecution(oom.queues, await floodWorkflow(db.pool));
      const failed = await statusOf(db.pool, executionId, "error", 30_000);
      expect(failed?.error).toContain("OOMKilled");
      expect(failed?.error).toContain(`memory limit of ${SMALL_MEMORY}`);
      const shown = await khctl(["execution", executionId]);
      expect(shown.stdout).toContain("OOMKilled");
      // The other views show it too: khctl status's latest runs, the console's execution page.
      const status = await khctl(["status", "--profile", "dev", "--json"]);
      expect(status.stdout).toContain(executionId);
      expect(status.stdout).toMatch(/OOMKilled/);
      const web = await startTestConsole(db, sqs, oom.queues);
      const page = await request(web.url, `/executions/${executionId}`);
      expect(page.status).toBe(200);
      expect(page.body).toContain("OOMKilled");
      // The runner was killed in its step: the step ends with the run, with the same reason.
      const { rows: steps } = await db.pool.query<{ node_id: string; status: string; error: string | null }>(
        "SELECT node_id, status, error FROM workflow_execution_logs WHERE execution_id = $1 AND node_id = 'big'",
        [executionId],
      );
      expect(steps).toEqual([{ node_id: "big", status: "error", error: failed?.error }]);
      // One pod, killed by the kernel: the Job's one attempt (backoffLimit 0), never a second.
      const pods = await podsOf(executionId);
      expect(pods).toHaveLength(1);
      expect(pods[0]?.status.containerStatuses?.[0]?.state?.terminated).toMatchObject({
        reason: "OOMKilled",
        exitCode: 137,
      });
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM workflow_executions WHERE workflow_id = (SELECT workflow_id FROM workflow_executions WHERE id = $1)",
        [executionId],
      );
      expect(rows[0]?.n).toBe(1);
    },
    scaled(120_000),
  );

  it(
    "a runner image that is not loaded ends the run error within 60 s with the fix, and leaves no Job or pod",
    async () => {
      expect(await nodeHasImage(notLoadedImage)).toBe(false);
      const executionId = await sentExecution(
        notLoaded.queues,
        await storeConditionWorkflow(db.pool, "real node"),
      );
      const failed = await statusOf(db.pool, executionId, "error", 60_000);
      expect(failed?.error).toContain(`runner image ${notLoadedImage} is not in the cluster`);
      expect(failed?.error).toContain("pulumi up -s hybrid");
      expect(failed?.error).toContain("khctl doctor");
      const shown = await khctl(["execution", executionId]);
      expect(shown.stdout).toContain("pulumi up -s hybrid");
      await until(
        "the stuck Job and its pod deleted",
        async () => {
          const { stdout } = await kubectl([
            "-n",
            space.namespace,
            "get",
            "jobs,pods",
            "-l",
            `execution-id=${executionId}`,
            "-o",
            "name",
          ]);
          return stdout.trim() === "";
        },
        60_000,
      );
    },
    scaled(180_000),
  );

  it(
    "a Job deleted mid-run: the kubelet stops its runner, which records the execution as cancelled",
    async () => {
      const key = newId();
      const definition = workflow(
        [trigger(), action("wait", "HTTP Request", { endpoint: `${podGateBase}/gate/${key}` })],
        edges("t->wait"),
      );
      const execution = await createPending(db.pool, definition);
      await enqueue(sqs, loaded.queues, execution);
      await within(gate.reached(key), 60_000, "the runner pod reaching its step");
      await deleteRunnerJob(space.namespace, execution.executionId);
      const cancelled = await statusOf(db.pool, execution.executionId, "cancelled", 60_000);
      expect(cancelled?.status).toBe("cancelled");
      // The runner let go of its step when it was told to stop (SIGTERM to the container's process).
      await until("the step's request dropped", async () => gate.dropped(key), 30_000);
    },
    scaled(180_000),
  );

  it(
    "the dispatcher CronJob's pod runs a pass on the real node; its due slot succeeds through spawner → Job → runner pod",
    async () => {
      const workflowId = await storeConditionWorkflow(db.pool, "real node");
      const scheduleId = newId();
      await db.pool.query(
        "INSERT INTO workflow_schedules (id, workflow_id, cron_expression, next_run_at) VALUES ($1, $2, '* * * * *', date_trunc('minute', now()))",
        [scheduleId, workflowId],
      );
      const cronJob = manifest(
        "batch/v1",
        "CronJob",
        dispatcherCronJobArgs({
          namespace: space.namespace,
          image: schedulerImage.ref,
          startingDeadlineSeconds: 30,
          configHash: "real-node",
        }),
      ) as {
        spec: { suspend?: boolean; jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } };
      };
      // The test's own two changes: no ticks of its own (the pass is started below), and its pods on the node.
      cronJob.spec.suspend = true;
      cronJob.spec.jobTemplate.spec.template.spec.nodeSelector = ON_REAL_NODE;
      await applyObjects([cronJob]);
      const pass = `dispatch-${newId().slice(0, 8)}`;
      await kubectl([
        "-n",
        space.namespace,
        "create",
        "job",
        pass,
        `--from=cronjob/${K8S.dispatcherCronJob}`,
      ]);
      await jobReaches(space.namespace, pass, "Complete", 90_000);
      const slot = await until(
        "the scheduled slot's run succeeding",
        async () => {
          const { rows } = await db.pool.query<{ id: string; status: string; trigger_type: string }>(
            "SELECT id, status, trigger_type FROM workflow_executions WHERE schedule_id = $1",
            [scheduleId],
          );
          return rows[0]?.status === "success" ? rows : undefined;
        },
        90_000,
      );
      expect(slot).toEqual([{ id: expect.any(String), status: "success", trigger_type: "schedule" }]);
      const [runner] = await podsOf(slot[0]?.id as string);
      expect(runner?.spec.nodeName).toBe("kube-node-0");
      const dispatcherPods = await podsIn(space.namespace, `job-name=${pass}`);
      expect(dispatcherPods.map((pod) => pod.spec.nodeName)).toEqual(["kube-node-0"]);
    },
    scaled(240_000),
  );
  it(
    "the stack's reach check (khctl doctor --reach in a pod of the namespace) passes for an address pods reach, names one they do not, and leaves no pod",
    async () => {
      const reachable = new URL(podDatabaseUrl).port;
      const silent = net.createServer();
      await new Promise<void>((resolve) => silent.listen(0, POD_HOST_ADDRESS, resolve));
      const closedPort = (silent.address() as AddressInfo).port;
      await new Promise((resolve) => silent.close(resolve)); // nothing listens there now
      const check = (targets: string[]) =>
        runStackScript(
          reachCheckScript({
            profile: "unused",
            context: adminContext(),
            namespace: space.namespace,
            image: schedulerImage.ref,
            targets,
            nodeSelector: ON_REAL_NODE,
          }),
        );
      const ok = await check([`postgres=${HOST_ALIAS}:${reachable}`]);
      expect(ok.code, ok.output).toBe(0);
      expect(ok.output).toMatch(new RegExp(`${HOST_ALIAS}:${reachable} \\(postgres\\) answers`));
      const bad = await check([
        `postgres=${HOST_ALIAS}:${reachable}`,
        `localstack=${HOST_ALIAS}:${closedPort}`,
      ]);
      expect(bad.code).not.toBe(0);
      expect(bad.output).toMatch(new RegExp(`localstack.*${HOST_ALIAS}:${closedPort}`));
      await until("the reach check's pod gone", async () => {
        const { stdout } = await kubectl(["-n", space.namespace, "get", "pods", "-o", "name"]);
        return !stdout.includes(REACH_CHECK_POD);
      });
    },
    scaled(240_000),
  );
});
