import { describe, expect, it } from "vitest";
import { jobNameFor } from "../../../services/contracts/names.js";
import { createExecution } from "../../../services/db/executions.js";
import { getQueueStats } from "../../../services/queue/stats.js";
import { createTestDatabase } from "../../helpers/database.js";
import { createTestSqs } from "../../helpers/sqs.js";
import { scaled, until } from "../../helpers/wait.js";
import { applyObjects, kubectl } from "../kube/cluster.js";
import { enqueue, namespaceKhctl, statusOf, storeConditionWorkflow } from "../kube/fixtures.js";
import {
  killContainer,
  nodeServiceImages,
  nodeSpawnerDeployment,
  ON_REAL_NODE,
  type PodJson,
  podNamespace,
  podsIn,
  spawnerRolledOut,
} from "./node.js";

// The job-spawner as the hybrid stack runs it: the Deployment from the program's own builder
// (spawnerDeploymentArgs) on the real node, its pod reaching the API server through the kubernetes
// Service (test/real/node/api-service-setup.ts stands in for kube-proxy), Postgres and fauxqs through the
// pods' gateway, and its runner Jobs placed on the same node by RUNNER_NODE_SELECTOR from the ConfigMap.

/** Runs sent at once for the crash test: more than the spawner's cap, so some wait in the queue. */
const BURST = 12;

const db = await createTestDatabase();
const sqs = await createTestSqs();
const { runner: runnerImage, scheduler: schedulerImage } = await nodeServiceImages();

const { space, hostQueues } = await podNamespace(db, sqs, {
  runnerNodeSelector: ON_REAL_NODE,
  maxConcurrentJobs: 6,
});
/** khctl on this machine against the stack's queue (the one the spawner pod consumes). */
const khctlProcess = await namespaceKhctl(db, hostQueues, space);
const khctl = (args: string[]) => khctlProcess(args).result;

const spawnerDeployment = () =>
  nodeSpawnerDeployment({
    namespace: space.namespace,
    image: schedulerImage.ref,
    runnerImage: runnerImage.ref,
  });
const pods = (selector: string) => podsIn(space.namespace, selector);
const rolledOut = () => spawnerRolledOut(space.namespace);

/** Per execution of `workflowId`: its status and how many times its trigger step was recorded. */
async function runsOf(workflowId: string) {
  const { rows } = await db.pool.query<{
    id: string;
    status: string;
    job_name: string | null;
    error: string | null;
    steps: number;
  }>(
    `SELECT e.id, e.status, e.job_name, e.error,
            (SELECT count(*)::int FROM workflow_execution_logs l WHERE l.execution_id = e.id AND l.node_id = 't') AS steps
       FROM workflow_executions e WHERE e.workflow_id = $1 ORDER BY e.id`,
    [workflowId],
  );
  return rows;
}

/**
 * BURST runs sent to the spawner pod while the test holds their rows locked, so each Job the spawner creates
 * stays in flight (created, its job_name not yet recorded, its message not deleted); `end` is done to the
 * pod once the first Job exists, then `released` waits before the lock goes. Every run must then succeed
 * with one Job, one runner pod and one recorded run. Resolves the Deployment's pod serving afterwards.
 */
async function burstAcrossASpawnerEnd(
  end: (pod: PodJson) => Promise<void>,
  released: () => Promise<unknown>,
): Promise<{ serving: PodJson; inFlight: string[] }> {
  await applyObjects([spawnerDeployment()]);
  const pod = await rolledOut();
  const workflowId = await storeConditionWorkflow(db.pool, "spawner pod");
  const ids: string[] = [];
  for (let i = 0; i < BURST; i++) {
    ids.push(await createExecution(db.pool, { workflowId, triggerType: "manual", input: {} }));
  }
  let inFlight: string[] = [];
  const lock = await db.pool.connect();
  try {
    await lock.query("BEGIN");
    await lock.query("SELECT id FROM workflow_executions WHERE workflow_id = $1 FOR UPDATE", [workflowId]);
    for (const executionId of ids) await enqueue(sqs, hostQueues, { executionId, workflowId });
    await until("the first runner Job", async () => (await jobsOf(workflowId)).length > 0, 60_000);
    await end(pod);
    inFlight = (await jobsOf(workflowId)).map((name) => name.replace(/^wf-/, ""));
    expect(inFlight.length, "work left after the spawner's end").toBeLessThan(BURST);
    await released();
  } finally {
    await lock.query("COMMIT").catch(() => {});
    lock.release();
  }
  // A message received before the end and not given back returns after its visibility timeout: every
  // message is handled and deleted, none lost, none left.
  await until(
    "the queue drained",
    async () => {
      const stats = await getQueueStats(sqs.sqs, hostQueues.queueUrl, hostQueues.deadLetterQueueUrl);
      return stats.visible === 0 && stats.inFlight === 0 && stats.deadLetter === 0;
    },
    120_000,
  );
  let last: Awaited<ReturnType<typeof runsOf>> = [];
  const done = await until(
    `all ${BURST} runs ended`,
    async () => {
      last = await runsOf(workflowId);
      return last.length === BURST && last.every((row) => row.status === "success") ? last : undefined;
    },
    180_000,
  ).catch(async (error: Error) => {
    const { stdout } = await kubectl(["-n", space.namespace, "get", "pods,jobs", "-o", "wide"]);
    throw new Error(
      `${error.message}: ${JSON.stringify(last.filter((row) => row.status !== "success"))}\n${stdout}`,
    );
  });
  for (const row of done) {
    expect(row, row.id).toMatchObject({ job_name: jobNameFor(row.id), error: null, steps: 1 });
    expect(await pods(`job-name=${jobNameFor(row.id)}`), row.id).toHaveLength(1);
  }
  return { serving: await rolledOut(), inFlight };
}

/** The names of the runner Jobs of `workflowId`. */
async function jobsOf(workflowId: string): Promise<string[]> {
  const { stdout } = await kubectl([
    "-n",
    space.namespace,
    "get",
    "jobs",
    "-l",
    `workflow-id=${workflowId}`,
    "-o",
    "jsonpath={.items[*].metadata.name}",
  ]);
  return stdout.split(" ").filter(Boolean);
}

/** The executions the running container of `pod` logged about, by what it logged (JSON lines). */
async function loggedExecutions(pod: PodJson): Promise<Map<string, string[]>> {
  const { stdout } = await kubectl(["-n", space.namespace, "logs", pod.metadata.name]);
  const byExecution = new Map<string, string[]>();
  for (const line of stdout.split("\n").filter((text) => text.startsWith("{"))) {
    const { executionId, msg } = JSON.parse(line) as { executionId?: string; msg?: string };
    if (executionId && msg) byExecution.set(executionId, [...(byExecution.get(executionId) ?? []), msg]);
  }
  return byExecution;
}

describe("the job-spawner Deployment on a real kubelet", () => {
  it(
    "becomes Ready through its probes, and khctl trigger --wait succeeds through it to a runner pod on the node",
    async () => {
      await applyObjects([spawnerDeployment()]);
      const pod = await rolledOut();
      expect(pod.spec.nodeName).toBe("kube-node-0");

      const workflowId = await storeConditionWorkflow(db.pool, "spawner pod");
      const run = await khctl(["trigger", workflowId, "--wait", "--json"]);
      expect(run.code, run.stderr).toBe(0);
      const executionId = (JSON.parse(run.stdout) as { execution: { id: string } }).execution.id;
      expect((await statusOf(db.pool, executionId, "success", 10_000))?.job_name).toBe(
        jobNameFor(executionId),
      );
      // Created by the pod (its log names the Job), and placed by RUNNER_NODE_SELECTOR.
      const { stdout: log } = await kubectl(["-n", space.namespace, "logs", pod.metadata.name]);
      expect(log).toContain(jobNameFor(executionId));
      const runners = await pods(`job-name=${jobNameFor(executionId)}`);
      expect(runners.map((runner) => runner.spec.nodeName)).toEqual(["kube-node-0"]);
    },
    scaled(240_000),
  );

  it(
    "the spawner pod deleted with creates in flight: they finish before it exits, its successor does the rest, one Job and one run per execution",
    async () => {
      let deleted: PodJson | undefined;
      const { serving: successor, inFlight } = await burstAcrossASpawnerEnd(
        async (pod) => {
          deleted = pod;
          await kubectl(["-n", space.namespace, "delete", "pod", pod.metadata.name, "--wait=false"]);
        },
        // The pod is stopping, its creates held: let them go well within its shutdown timeout.
        () => new Promise((resolve) => setTimeout(resolve, 2000)),
      );
      expect(successor.metadata.name).not.toBe(deleted?.metadata.name);
      expect(successor.spec.nodeName).toBe("kube-node-0");
      // Its creates were recorded and their messages deleted before it exited: none came back.
      const logged = await loggedExecutions(successor);
      for (const id of inFlight) expect(logged.get(id), id).toBeUndefined();
    },
    scaled(300_000),
  );

  it(
    "the spawner's container SIGKILLed with creates in flight: the restarted spawner gets their messages again, finds the Jobs, and makes no second one",
    async () => {
      let killed: PodJson | undefined;
      const { serving, inFlight } = await burstAcrossASpawnerEnd(
        async (pod) => {
          killed = pod;
          const [status] = pod.status.containerStatuses ?? [];
          if (!status?.containerID) throw new Error(`${pod.metadata.name} has no running container`);
          await killContainer(status.containerID);
        },
        // Let go at once: the killed process's creates are over; what it received comes back.
        () => Promise.resolve(),
      );
      expect(serving.metadata.name).toBe(killed?.metadata.name);
      expect(serving.status.containerStatuses?.[0]?.restartCount).toBeGreaterThanOrEqual(1);
      // Each create it made before the kill came back: the Job was there (409, taken as done), or its run
      // had already begun or ended (not launched again).
      const logged = await loggedExecutions(serving);
      for (const id of inFlight) {
        expect(logged.get(id), id).toEqual([
          expect.stringMatching(/^(runner Job already exists|execution not launched)$/),
        ]);
      }
    },
    scaled(300_000),
  );
});
