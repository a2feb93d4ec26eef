import {
  limitRangeArgs,
  type QuotaSettings,
  resourceQuotaArgs,
  spawnerDisruptionBudgetArgs,
} from "../../../infra/cluster/cluster-specs.js";
import {
  dispatcherCronJobArgs,
  podSourceFor,
  type SchedulerSettings,
  spawnerDeploymentArgs,
} from "../../../infra/cluster/specs.js";
import { CONFIG_DEFAULTS } from "../../../infra/config.js";
import type { ImageKind } from "../../../infra/images.js";
import { QUEUE_ENSURE_ARGS } from "../../../infra/queue.js";
import { SPAWNER_HEALTH } from "../../../services/contracts/names.js";
import { afterFile } from "../../helpers/after-file.js";
import { spawnCli } from "../../helpers/cli-process.js";
import { scaled, until } from "../../helpers/wait.js";
import { buildCopyImages, KINDS } from "../docker/build-copy.js";
import { type DataContainers, startDataContainers } from "../docker/data-containers.js";
import { createTestDocker, type TestDocker } from "../docker/docker.js";
import { createTestNamespace, kubectl, manifest, stackObjects } from "../kube/cluster.js";
import { ON_REAL_NODE, podUrl, unloadFromNode } from "../node/node.js";
import { pushImage, startTestRegistry, type TestRegistry } from "./registry.js";

/**
 * The cluster stack as the real tier declares it: its images built from a copy of the build inputs
 * (test/real/docker/build-copy.ts) and pushed to a registry by digest, and the objects its program
 * declares (infra/cluster-stack.ts, infra/cluster/existing.ts, scheduler.ts), from the same builders, with
 * the pods' pull policy IfNotPresent, static keys in the Secret and two spawner replicas. The test's own
 * changes: the spawner and dispatcher pods pinned to the real node, the dispatcher suspended.
 */

/** Both images built from the copy and pushed; resolves their digests (`repo@sha256:…`). */
async function buildAndPush(
  testDocker: TestDocker,
  root: string,
  tags: Record<ImageKind, string>,
  registry: TestRegistry,
): Promise<Record<ImageKind, string>> {
  const local = await buildCopyImages(testDocker, root, tags);
  const [scheduler, runner] = await Promise.all(
    KINDS.map((kind) => pushImage(registry, kind, local[kind], tags[kind])),
  );
  return { scheduler: scheduler as string, runner: runner as string };
}

export interface ClusterObjectsInput {
  readonly namespace: string;
  /** `repo@sha256:…` of each image. */
  readonly images: Record<ImageKind, string>;
  readonly settings: Omit<SchedulerSettings, "namespace">;
  readonly databaseUrl: string;
  readonly replicas: number;
}

/** The stack's quota and limits at their defaults (infra/config.ts). */
export const DEFAULT_QUOTA: QuotaSettings = {
  pods: CONFIG_DEFAULTS.runnerQuotaPods,
  cpu: CONFIG_DEFAULTS.runnerQuotaCpu,
  memory: CONFIG_DEFAULTS.runnerQuotaMemory,
  maxCpu: CONFIG_DEFAULTS.runnerMaxCpu,
  maxMemory: CONFIG_DEFAULTS.runnerMaxMemory,
};

/** Everything the cluster stack declares in its namespace, as manifests (the namespace itself aside). */
export function clusterObjects(input: ClusterObjectsInput): Record<string, unknown>[] {
  const { namespace } = input;
  const metadata = { namespace };
  const source = podSourceFor("IfNotPresent", true);
  const deployment = manifest(
    "apps/v1",
    "Deployment",
    spawnerDeploymentArgs({
      namespace,
      image: input.images.scheduler,
      runnerImage: input.images.runner,
      probes: SPAWNER_HEALTH,
      configHash: "real-tier",
      source,
      replicas: input.replicas,
    }),
  ) as { spec: { template: { spec: Record<string, unknown> } } };
  deployment.spec.template.spec.nodeSelector = ON_REAL_NODE;
  const cronJob = manifest(
    "batch/v1",
    "CronJob",
    dispatcherCronJobArgs({
      namespace,
      image: input.images.scheduler,
      startingDeadlineSeconds: 30,
      configHash: "real-tier",
      source,
    }),
  ) as {
    spec: { suspend?: boolean; jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } };
  };
  cronJob.spec.suspend = true;
  cronJob.spec.jobTemplate.spec.template.spec.nodeSelector = ON_REAL_NODE;
  return [
    manifest("v1", "ResourceQuota", resourceQuotaArgs(metadata, DEFAULT_QUOTA)),
    manifest("v1", "LimitRange", limitRangeArgs(metadata, DEFAULT_QUOTA)),
    ...stackObjects({
      namespace,
      settings: input.settings,
      secrets: {
        databaseUrl: input.databaseUrl,
        encryptionKey: "c0ffee".repeat(10),
        awsCredentials: { accessKeyId: "test", secretAccessKey: "test" },
      },
    }),
    deployment,
    ...(input.replicas > 1
      ? [manifest("policy/v1", "PodDisruptionBudget", spawnerDisruptionBudgetArgs(metadata))]
      : []),
    cronJob,
  ];
}

/** What the cluster stack runs against, for a file or a bench: all its own, removed when it ends. */
export interface ClusterParts {
  readonly registry: TestRegistry;
  readonly testDocker: TestDocker;
  /** Postgres and LocalStack as the team's database and SQS. */
  readonly data: DataContainers;
  /** The env khctl needs for that SQS (static keys, as the stack's Secret holds them). */
  readonly aws: Readonly<Record<string, string>>;
  /** The queue pair, made by `khctl queue ensure` as the stack's `createQueues` does. */
  readonly queues: { readonly queueUrl: string; readonly deadLetterQueueUrl: string };
  /** The stack's namespace (PodSecurity restricted). */
  readonly namespace: string;
  /** The stack's objects for `images`, with the addresses pods reach the database and LocalStack at. */
  objectsFor(images: Record<ImageKind, string>): Promise<Record<string, unknown>[]>;
  /**
   * Both images built from the copy at `root` and pushed (buildAndPush); what the node pulls of them is
   * removed from it at the end, once the namespace and its pods are gone (an image in use stays).
   */
  buildAndPush(root: string, tags: Record<ImageKind, string>): Promise<Record<ImageKind, string>>;
}

/** Once the namespace is gone (its pods with it), removes `refs` from the node. */
async function unloadWhenGone(namespace: string, refs: readonly string[]): Promise<void> {
  await until(
    `namespace ${namespace} gone`,
    async () => {
      const { stdout } = await kubectl(["get", "namespace", namespace, "--ignore-not-found", "-o", "name"]);
      return stdout.trim() === "";
    },
    180_000,
  );
  for (const ref of refs) await unloadFromNode(ref);
}

/** A registry, the external database and SQS with the queue pair, and a namespace, for `replicas` spawners. */
export async function startClusterParts(replicas: number): Promise<ClusterParts> {
  const registry = await startTestRegistry();
  const testDocker = createTestDocker();
  const data = await startDataContainers(testDocker, "minikube");
  const aws = {
    AWS_ENDPOINT_URL: data.sqsEndpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  };
  const ensured = await spawnCli([...QUEUE_ENSURE_ARGS, "--json"], aws).result;
  if (ensured.code !== 0) throw new Error(`khctl queue ensure failed: ${ensured.stderr}`);
  const queues = JSON.parse(ensured.stdout) as ClusterParts["queues"];
  // Registered before the namespace: cleanups run last first, so this one runs after its deletion.
  const pushed: string[] = [];
  let created: string | undefined;
  afterFile(async () => {
    if (created) await unloadWhenGone(created, pushed);
  }, scaled(240_000));
  const namespace = await createTestNamespace();
  created = namespace;
  const objectsFor = async (images: Record<ImageKind, string>) =>
    clusterObjects({
      namespace,
      images,
      replicas,
      databaseUrl: await podUrl(data.db.url),
      settings: {
        awsEndpointUrl: (await podUrl(data.sqsEndpoint)).replace(/\/$/, ""),
        awsRegion: "us-east-1",
        queueUrl: queues.queueUrl,
        jobTtlSeconds: 600,
        jobActiveDeadlineSeconds: 120,
        maxConcurrentJobs: 10,
        logLevel: "info",
        runnerNodeSelector: ON_REAL_NODE,
      },
    });
  const push = async (root: string, tags: Record<ImageKind, string>) => {
    const images = await buildAndPush(testDocker, root, tags, registry);
    pushed.push(...Object.values(images));
    return images;
  };
  return { registry, testDocker, data, aws, queues, namespace, objectsFor, buildAndPush: push };
}
