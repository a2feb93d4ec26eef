import type { TestDatabase } from "../test/helpers/database.js";
import type { TestQueues, TestSqs } from "../test/helpers/sqs.js";
import { createTestDocker } from "../test/real/docker/docker.js";
import { buildServiceImage } from "../test/real/docker/images.js";
import { checkDocker, checkKubeNode, checkKubernetes } from "../test/real/engines.js";
import type { SpawnerNamespace } from "../test/real/kube/fixtures.js";
import { loadIntoNode, nodeSpawner, podNamespace } from "../test/real/node/node.js";

/**
 * What the real-node benchmarks share, from the node suite's fixtures (test/real/node/node.ts): the runner
 * image built from services/Dockerfile and loaded into the tools' worker node through the stack's loader,
 * the hybrid namespace's objects pointing at the bench's Postgres and fauxqs where pods reach them, and the
 * spawner on this machine creating runner Jobs pinned to the node. The fixtures' cleanups run at
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

/** The image, the namespace (runners reach `db` and `sqs`) and a spawner allowed `maxConcurrentJobs` runner Jobs at once. */
export async function realNodeSetup(
  db: TestDatabase,
  sqs: TestSqs,
  maxConcurrentJobs: number,
): Promise<RealNodeSetup> {
  const image = await buildServiceImage(createTestDocker(), "runner");
  await loadIntoNode(image.ref);
  const { space, hostQueues } = await podNamespace(db, sqs, { maxConcurrentJobs });
  await nodeSpawner(db, sqs, space, { runnerImage: image.ref, queues: hostQueues });
  return { image: image.ref, space, queues: hostQueues };
}
