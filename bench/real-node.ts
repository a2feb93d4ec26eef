import { afterFile } from "../test/helpers/after-file.js";
import type { TestDatabase } from "../test/helpers/database.js";
import type { TestQueues, TestSqs } from "../test/helpers/sqs.js";
import { checkDocker, checkKubeNode, checkKubernetes } from "../test/real/engines.js";
import { applyObjects } from "../test/real/kube/cluster.js";
import type { SpawnerNamespace } from "../test/real/kube/fixtures.js";
import { routeKubernetesServiceToPods } from "../test/real/node/api-service-setup.js";
import {
  nodeServiceImages,
  nodeSpawnerDeployment,
  ON_REAL_NODE,
  type PodJson,
  podNamespace,
  spawnerRolledOut,
} from "../test/real/node/node.js";

/**
 * What the real-node benchmarks share, from the node suite's fixtures (test/real/node/node.ts): the runner
 * image built from services/Dockerfile and loaded into the tools' worker node through the stack's loader,
 * the hybrid namespace's objects pointing at the bench's Postgres and fauxqs where pods reach them, and the
 * job-spawner Deployment's pod creating runner Jobs on the node. The fixtures' cleanups run at
 * runAfterFileCleanups() (test/helpers/after-file.ts).
 */

/** The reason the real node cannot be used, or undefined when it can. */
export async function realNodeUnavailable(): Promise<string | undefined> {
  try {
    await checkKubernetes();
    await checkDocker();
    await checkKubeNode();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export interface RealNodeSetup {
  readonly image: string;
  readonly space: SpawnerNamespace;
  /** The spawner's queue. */
  readonly queues: TestQueues;
}

/**
 * The runner and scheduler images, the namespace (runners reach `db` and `sqs`), and the spawner as the
 * stack runs it: the job-spawner Deployment on the node (the kubernetes Service routed to the API server
 * for its pod), allowed `maxConcurrentJobs` runner Jobs at once, placed on the node by
 * RUNNER_NODE_SELECTOR. Resolves its pod besides.
 */
export async function realNodeSpawnerPodSetup(
  db: TestDatabase,
  sqs: TestSqs,
  maxConcurrentJobs: number,
): Promise<RealNodeSetup & { readonly spawnerPod: PodJson }> {
  afterFile(await routeKubernetesServiceToPods());
  const { runner, scheduler } = await nodeServiceImages();
  const { space, hostQueues } = await podNamespace(db, sqs, {
    maxConcurrentJobs,
    runnerNodeSelector: ON_REAL_NODE,
  });
  await applyObjects([
    nodeSpawnerDeployment({ namespace: space.namespace, image: scheduler.ref, runnerImage: runner.ref }),
  ]);
  const spawnerPod = await spawnerRolledOut(space.namespace);
  return { image: runner.ref, space, queues: hostQueues, spawnerPod };
}
