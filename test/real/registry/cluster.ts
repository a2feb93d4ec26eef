import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
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
import { buildInputs, type ImageKind, imageTag } from "../../../infra/images.js";
import { SPAWNER_HEALTH } from "../../../services/contracts/names.js";
import { newId } from "../../../services/core/ids.js";
import { createTempDir } from "../../helpers/temp.js";
import type { TestDocker } from "../docker/docker.js";
import { buildServiceImage, REPO_ROOT } from "../docker/images.js";
import { manifest, stackObjects } from "../kube/cluster.js";
import { ON_REAL_NODE } from "../node/node.js";
import { pushImage, type TestRegistry } from "./registry.js";

/**
 * The cluster stack as the real tier declares it: its images built from a copy of the build inputs (so a
 * test can change a line without touching the checkout; a marker file of the copy's own keeps its content
 * tags apart from any a stack built) and pushed to a registry by digest, and the objects its program
 * declares (infra/cluster-stack.ts, infra/cluster/existing.ts, scheduler.ts), from the same builders, with
 * the pods' pull policy IfNotPresent, static keys in the Secret and two spawner replicas. The test's own
 * changes: the spawner and dispatcher pods pinned to the real node, the dispatcher suspended.
 */

export const KINDS: readonly ImageKind[] = ["scheduler", "runner"];

/** A copy of everything the image build reads, plus the copy's marker; resolves its root. */
export async function copyBuildInputs(prefix: string): Promise<string> {
  const root = await createTempDir(prefix);
  for (const file of buildInputs(REPO_ROOT)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await cp(path.join(REPO_ROOT, file), path.join(root, file));
  }
  await writeFile(path.join(root, "services", "real-tier-copy.txt"), `${newId()}\n`);
  return root;
}

/** Replaces `line` in `file` of the copy (one line: the change a developer makes). */
export async function changeLine(
  root: string,
  file: string,
  line: string,
  replacement: string,
): Promise<void> {
  const source = await readFile(path.join(root, file), "utf8");
  if (!source.includes(line)) throw new Error(`${file} no longer has ${line}`);
  await writeFile(path.join(root, file), source.replace(line, replacement));
}

/** The content tags of the copy's images, as the program computes them. */
export function contentTags(root: string, nodeImage: string): Record<ImageKind, string> {
  return Object.fromEntries(KINDS.map((kind) => [kind, imageTag(kind, nodeImage, root)])) as Record<
    ImageKind,
    string
  >;
}

/**
 * Both images built from the copy (in parallel, as the program builds them) and pushed; resolves their
 * digests. One `testDocker` per file: its labels are in the image, so the same inputs give the same digest.
 */
export async function buildAndPush(
  testDocker: TestDocker,
  root: string,
  tags: Record<ImageKind, string>,
  registry: TestRegistry,
): Promise<Record<ImageKind, string>> {
  const refs = await Promise.all(
    KINDS.map(async (kind) => {
      const built = await buildServiceImage(testDocker, kind, { context: root, tag: tags[kind] });
      return pushImage(registry, kind, built.ref, tags[kind]);
    }),
  );
  return { scheduler: refs[0] as string, runner: refs[1] as string };
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
