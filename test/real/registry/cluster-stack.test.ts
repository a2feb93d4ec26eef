import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DEFAULT_NODE_IMAGE } from "../../../infra/config.js";
import { jobNameFor, K8S, LABELS, SPAWNER_APP_LABEL } from "../../../services/contracts/names.js";
import {
  type ClusterTarget,
  runClusterChecks,
  systemClusterProbes,
} from "../../../services/doctor/cluster-checks.js";
import { freePort } from "../../../services/embedded/postgres.js";
import { spawnCli } from "../../helpers/cli-process.js";
import { createTempDir } from "../../helpers/temp.js";
import { scaled, until } from "../../helpers/wait.js";
import { changeLine, contentTags, copyBuildInputs } from "../docker/build-copy.js";
import { ADMIN_KUBECONFIG, KUBECTL } from "../engines.js";
import {
  applyObjects,
  jobReaches,
  kubectl,
  spawnerToken,
  tokenKubeConfig,
  writeKubeconfig,
} from "../kube/cluster.js";
import { storeConditionWorkflow } from "../kube/fixtures.js";
import { nodeHasImage, podsIn, spawnerRolledOut } from "../node/node.js";
import { startClusterParts } from "./cluster.js";

// The cluster stack on real parts: a real registry (Debian's distribution 2.8 on 127.0.0.1), the real API
// server, the real worker node pulling from the registry by digest, and Postgres and the LocalStack
// stand-in as the team's "external" database and SQS (containers of the file's own, reached by pods
// through the pods' gateway). The images are built from a copy of the build inputs and pushed; the objects
// are the program's own (test/real/registry/cluster.ts); `khctl queue ensure` makes the queues as the
// stack's `createQueues` does.

const run = promisify(execFile);
const REPLICAS = 2;
const CHANGED_FILE = "services/runner/run-execution.ts";

const parts = await startClusterParts(REPLICAS);
const { registry, data, aws, queues, namespace, objectsFor } = parts;
const root = await copyBuildInputs("kh-cluster-stack");
const uploadsBefore = registry.blobUploads();
const images = await parts.buildAndPush(root, contentTags(root, DEFAULT_NODE_IMAGE));

const adminContext = (
  await run(KUBECTL, ["--kubeconfig", ADMIN_KUBECONFIG, "config", "current-context"])
).stdout.trim();

/** khctl as the stack's next commands set it up: the external database and SQS, the stack's context. */
const khctl = (args: string[]) =>
  spawnCli(args, {
    ...aws,
    DATABASE_URL: data.db.url,
    SQS_QUEUE_URL: queues.queueUrl,
    KUBECONFIG: ADMIN_KUBECONFIG,
    KUBE_CONTEXT: adminContext,
    KUBERNETES_SERVICE_HOST: undefined,
    K8S_NAMESPACE: namespace,
  }).result;

const spawnerPods = () => podsIn(namespace, `${LABELS.app}=${SPAWNER_APP_LABEL}`);

/** The images the Deployment's Ready pods run, and their pull policy. */
async function servingImages() {
  const pods = (await spawnerPods()).filter((pod) => !pod.metadata.deletionTimestamp);
  return pods.map((pod) => ({
    image: pod.spec.containers[0]?.image,
    pullPolicy: (pod.spec.containers[0] as { imagePullPolicy?: string }).imagePullPolicy,
    imageID: (pod.status.containerStatuses?.[0] as { imageID?: string } | undefined)?.imageID,
  }));
}

/** Until every spawner pod runs `image`: the rolling update done, each new pod Ready. */
async function rolledOutOn(image: string) {
  await spawnerRolledOut(namespace, 180_000, REPLICAS);
  const serving = await servingImages();
  expect(serving.map((pod) => pod.image)).toEqual(Array(REPLICAS).fill(image));
  return serving;
}

describe("the cluster stack on a real registry, API server and node", () => {
  it(
    "pushes both images by digest; every pod names its digest and the node pulls a digest it did not have (IfNotPresent)",
    async () => {
      for (const ref of Object.values(images)) {
        expect(ref).toMatch(
          new RegExp(`^${registry.host}/keeperhub/keeperhub-(scheduler|runner)@sha256:[0-9a-f]{64}$`),
        );
        expect(await nodeHasImage(ref), `${ref} on the node before`).toBe(false);
      }
      expect(registry.blobUploads() - uploadsBefore).toBeGreaterThan(0);
      await applyObjects(await objectsFor(images));
      const serving = await rolledOutOn(images.scheduler);
      for (const pod of serving) {
        expect(pod.pullPolicy).toBe("IfNotPresent");
        expect(pod.imageID).toContain(images.scheduler.split("@")[1]);
      }
      const { stdout: events } = await kubectl([
        "-n",
        namespace,
        "get",
        "events",
        "-o",
        "jsonpath={.items[*].message}",
      ]);
      expect(events).toContain(`Pulling image "${images.scheduler}"`);
      expect(await nodeHasImage(images.scheduler)).toBe(true);
      // The disruption budget counts both spawners (a drain may take one at a time).
      await until("the budget counting both spawners", async () => {
        const { stdout } = await kubectl([
          "-n",
          namespace,
          "get",
          "pdb",
          "job-spawner",
          "-o",
          "jsonpath={.status.currentHealthy}",
        ]);
        return Number(stdout) === REPLICAS;
      });
    },
    scaled(420_000),
  );

  it(
    "khctl trigger --wait succeeds through the spawners; the runner pod ran the runner's digest, pulled from the registry",
    async () => {
      const workflowId = await storeConditionWorkflow(data.db.pool, "cluster stack");
      const result = await khctl(["trigger", workflowId, "--wait", "--json"]);
      expect(result.code, result.stderr).toBe(0);
      const executionId = (JSON.parse(result.stdout) as { execution: { id: string } }).execution.id;
      const [runner, ...others] = await podsIn(namespace, `job-name=${jobNameFor(executionId)}`);
      expect(others).toEqual([]);
      expect(runner?.spec.containers[0]?.image).toBe(images.runner);
      expect(runner?.spec.nodeName).toBe("kube-node-0");
      expect(await nodeHasImage(images.runner)).toBe(true);

      // khctl logs and khctl status through the stack's context, as its next commands set them up.
      await until("the runner's Job complete", async () => {
        const { stdout } = await kubectl([
          "-n",
          namespace,
          "get",
          "job",
          jobNameFor(executionId),
          "-o",
          "jsonpath={.status.succeeded}",
        ]);
        return stdout === "1";
      });
      const logs = await khctl(["logs", executionId]);
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stderr).not.toContain("showing the step log");
      expect(logs.stdout).toContain("execution finished");
      // Through the same context: both spawners ready, the run listed, and the one thing the test changed
      // (its CronJob suspended) reported as down with the cluster stack's own fix.
      const status = await khctl(["status", "--profile", "cluster", "--json"]);
      const report = JSON.parse(status.stdout) as {
        profile: string;
        down: string[];
        parts: { name: string; summary: string }[];
      };
      expect(report, status.stderr).toMatchObject({ profile: "cluster", down: ["kubernetes"] });
      expect(report.parts.find((part) => part.name === "kubernetes")?.summary).toMatch(
        /: CronJob schedule-dispatcher is suspended \(pulumi up -s cluster\)$/,
      );
      expect(status.code).toBe(1);
      expect(status.stdout).toContain(`deployment ${K8S.spawnerDeployment}: ${REPLICAS}/${REPLICAS} ready`);
      expect(status.stdout).toContain(executionId);
    },
    scaled(240_000),
  );

  it(
    "a one-line change changes exactly the two digests and the pods' templates; the rollout runs the new code",
    async () => {
      const before = await objectsFor(images);
      const unchanged = registry.blobUploads();
      const again = await parts.buildAndPush(root, contentTags(root, DEFAULT_NODE_IMAGE));
      expect(again).toEqual(images);
      expect(registry.blobUploads(), "an unchanged push sends no layer").toBe(unchanged);

      await changeLine(root, CHANGED_FILE, '"execution finished"', '"execution finished (changed)"');
      const changed = await parts.buildAndPush(root, contentTags(root, DEFAULT_NODE_IMAGE));
      expect(changed.scheduler).not.toBe(images.scheduler);
      expect(changed.runner).not.toBe(images.runner);
      const after = await objectsFor(changed);
      // Only the image references differ, and only in the pods' templates (and RUNNER_IMAGE).
      const swap = (text: string) =>
        text.replaceAll(changed.scheduler, images.scheduler).replaceAll(changed.runner, images.runner);
      expect(JSON.parse(swap(JSON.stringify(after)))).toEqual(before);
      const differing = after.filter((object, i) => JSON.stringify(object) !== JSON.stringify(before[i]));
      expect(differing.map((object) => object.kind)).toEqual(["Deployment", "CronJob"]);

      await applyObjects(after);
      await rolledOutOn(changed.scheduler);
      const workflowId = await storeConditionWorkflow(data.db.pool, "cluster stack");
      const result = await khctl(["trigger", workflowId, "--wait", "--json"]);
      expect(result.code, result.stderr).toBe(0);
      const executionId = (JSON.parse(result.stdout) as { execution: { id: string } }).execution.id;
      const [runner] = await podsIn(namespace, `job-name=${jobNameFor(executionId)}`);
      expect(runner?.spec.containers[0]?.image).toBe(changed.runner);
      // The run is recorded before the runner exits: its log is whole once the Job is complete.
      await jobReaches(namespace, jobNameFor(executionId), "Complete");
      const { stdout: log } = await kubectl(["-n", namespace, "logs", `job/${jobNameFor(executionId)}`]);
      expect(log).toContain("execution finished (changed)");
    },
    scaled(480_000),
  );

  it(
    "the preflight passes against the real API server, registry, database and queues, and names what is missing with a fix",
    async () => {
      const target: ClusterTarget = {
        context: adminContext,
        kubeconfig: ADMIN_KUBECONFIG,
        namespace,
        registry: registry.push.repository,
        databaseUrl: data.db.url,
        queueUrl: queues.queueUrl,
        dlqUrl: queues.deadLetterQueueUrl,
        sqs: { endpoint: data.sqsEndpoint, region: "us-east-1" },
        createQueues: false,
      };
      const passing = await runClusterChecks(target, systemClusterProbes());
      expect(passing.filter((check) => !check.ok)).toEqual([]);

      // The job-spawner's own token: RBAC lets it create Jobs, not the stack's objects; a registry that is gone.
      const spawnerKubeconfig = await writeKubeconfig(
        path.join(await createTempDir("kh-cluster-preflight"), "kubeconfig"),
        tokenKubeConfig(await spawnerToken(namespace), namespace),
      );
      const failing = await runClusterChecks(
        {
          ...target,
          context: "spawner",
          kubeconfig: spawnerKubeconfig,
          registry: `127.0.0.1:${await freePort()}/keeperhub`,
        },
        systemClusterProbes(),
      );
      const byName = new Map(failing.map((check) => [check.name, check]));
      expect(
        [...byName.values()]
          .filter((check) => !check.ok)
          .map((check) => check.name)
          .sort(),
      ).toEqual(["rbac", "registry"]);
      expect(byName.get("rbac")?.message).toMatch(/create apps\/deployments/);
      expect(byName.get("rbac")?.fix).toBeTruthy();
      expect(byName.get("registry")?.message).toMatch(/ECONNREFUSED/);
      expect(byName.get("registry")?.fix).toBeTruthy();
    },
    scaled(120_000),
  );
});
