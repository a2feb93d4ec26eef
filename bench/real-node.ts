import { createTestSqs, type TestQueues, type TestSqs } from "../test/helpers/sqs.js";
import { createTestDocker } from "../test/real/docker/docker.js";
import { buildServiceImage } from "../test/real/docker/images.js";
import { checkDocker, checkKubeNode, checkKubernetes } from "../test/real/engines.js";
import type { SpawnerNamespace } from "../test/real/kube/fixtures.js";
import { loadIntoNode, nodeSpawner, podNamespace } from "../test/real/node/node.js";
import type { BenchStack } from "./stack.js";

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
  readonly sqs: TestSqs;
  readonly image: string;
  readonly space: SpawnerNamespace;
  /** The spawner's queue. */
  readonly queues: TestQueues;
}

/** The image, the namespace and a spawner allowed `maxConcurrentJobs` runner Jobs at once. */
export async function realNodeSetup(stack: BenchStack, maxConcurrentJobs: number): Promise<RealNodeSetup> {
  const sqs = await createTestSqs();
  const image = await buildServiceImage(createTestDocker(), "runner");
  await loadIntoNode(image.ref);
  const { space, hostQueues } = await podNamespace(stack, sqs, { maxConcurrentJobs });
  await nodeSpawner(stack, sqs, space, { runnerImage: image.ref, queues: hostQueues });
  return { sqs, image: image.ref, space, queues: hostQueues };
}
