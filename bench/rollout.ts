import { DEFAULT_NODE_IMAGE } from "../infra/config.js";
import type { ImageKind } from "../infra/images.js";
import { jobNameFor, K8S } from "../services/contracts/names.js";
import { newId } from "../services/core/ids.js";
import { createExecution } from "../services/db/executions.js";
import { runAfterFileCleanups } from "../test/helpers/after-file.js";
import { createTestSqs } from "../test/helpers/sqs.js";
import {
  buildCopyImages,
  changeLine,
  contentTags,
  copyBuildInputs,
  KINDS,
} from "../test/real/docker/build-copy.js";
import { createTestDocker } from "../test/real/docker/docker.js";
import { applyObjects, jobReaches, kubectl } from "../test/real/kube/cluster.js";
import { enqueue, statusOf, storeConditionWorkflow } from "../test/real/kube/fixtures.js";
import { routeKubernetesServiceToPods } from "../test/real/node/api-service-setup.js";
import {
  loadIntoNode,
  nodeSpawnerDeployment,
  ON_REAL_NODE,
  podNamespace,
  spawnerRolledOut,
} from "../test/real/node/node.js";
import { type Figure, figure } from "./figures.js";
import { realNodeUnavailable } from "./real-node.js";
import { type BenchStack, startBenchStack } from "./stack.js";

/**
 * Rollout benchmark, on the tools' real worker node: a one-line change in a service file -> the next run
 * executes the new code, through the steps `pulumi up -s hybrid` runs for it (infra/images.ts,
 * infra/cluster/): the content tags computed from the build inputs, both images built from
 * services/Dockerfile (BuildKit's cache warm, as on a developer's machine), loaded into the node through the
 * stack's loader (`minikube image load` there), the job-spawner Deployment updated (its image and
 * RUNNER_IMAGE; Recreate: the old pod stops, the new one must pass its readiness probe), then one run sent
 * and its runner pod's log read for the changed line. The change is made in a copy of the build inputs, so
 * the checkout is never touched; a marker file of the run's own keeps its content tags apart from any a
 * stack built. Figure `rollout`: change -> new code seen, against the goal of 30 s. The Pulumi engine's
 * own time (preview, diff, the provider calls) is not in it: no engine runs here. Needs the real engines;
 * skips with one line when the node is not up. Run alone: `npm run bench -- rollout`.
 */

const GOAL_MS = 30_000;
/** The file changed, and the line the runner logs at the end of every run (services/runner/run-execution.ts). */
const CHANGED_FILE = "services/runner/run-execution.ts";
const CHANGED_LINE = '"execution finished"';

export interface RolloutResult {
  readonly name: "rollout";
  readonly skipped?: string;
  /** Each step of the rollout, ms, in order. */
  readonly steps: readonly { step: string; ms: number }[];
  readonly totalMs: number;
  readonly figures: Figure[];
}

/** Times each step of `steps` in order. */
async function timed(steps: readonly [string, () => Promise<unknown>][]) {
  const times: { step: string; ms: number }[] = [];
  for (const [step, run] of steps) {
    const started = performance.now();
    await run();
    times.push({ step, ms: Math.round(performance.now() - started) });
  }
  return times;
}

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

/** The bench's database and queue, the namespace (runners placed on the node), and a one-step workflow. */
async function startPipeline(db: BenchStack) {
  const sqs = await createTestSqs();
  const { space, hostQueues } = await podNamespace(db, sqs, { runnerNodeSelector: ON_REAL_NODE });
  const workflowId = await storeConditionWorkflow(db.pool, "rollout");
  return { db, sqs, space, queues: hostQueues, workflowId, testDocker: createTestDocker() };
}

/** Loads both images into the node and rolls the spawner Deployment out on them. */
async function deploy(
  pipeline: Pipeline,
  refs: Record<ImageKind, string>,
  times?: { step: string; ms: number }[],
) {
  const steps: [string, () => Promise<unknown>][] = [
    // Two load commands of the program, neither waiting for the other: the engine runs them at once.
    ["load both into the node", () => Promise.all(KINDS.map((kind) => loadIntoNode(refs[kind])))],
    [
      "Deployment updated -> new spawner pod Ready",
      async () => {
        await applyObjects([
          nodeSpawnerDeployment({
            namespace: pipeline.space.namespace,
            image: refs.scheduler,
            runnerImage: refs.runner,
          }),
        ]);
        await spawnerRolledOut(pipeline.space.namespace);
      },
    ],
  ];
  const measured = await timed(steps);
  times?.push(...measured);
}

/** What the namespace holds and what the spawner said, for a run that did not end as it should. */
async function namespaceState(namespace: string): Promise<string> {
  const show = async (args: string[]) =>
    (await kubectl(["-n", namespace, ...args]).catch((error: Error) => ({ stdout: error.message }))).stdout;
  return [
    await show(["get", "deploy,pods,jobs", "-o", "wide"]),
    await show(["logs", `deploy/${K8S.spawnerDeployment}`, "--tail=30"]),
  ].join("\n");
}

/** Sends one run and resolves its runner pod's log once the run has succeeded and the Job completed. */
async function runOnce(pipeline: Pipeline): Promise<string> {
  const { db, sqs, queues, workflowId, space } = pipeline;
  const executionId = await createExecution(db.pool, { workflowId, triggerType: "manual", input: {} });
  await enqueue(sqs, queues, { executionId, workflowId });
  await statusOf(db.pool, executionId, "success", 60_000).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await namespaceState(space.namespace)}`);
  });
  await jobReaches(space.namespace, jobNameFor(executionId), "Complete");
  const { stdout } = await kubectl(["-n", space.namespace, "logs", `job/${jobNameFor(executionId)}`]);
  return stdout;
}

async function measure(
  stack: BenchStack,
): Promise<{ steps: { step: string; ms: number }[]; totalMs: number }> {
  const pipeline = await startPipeline(stack);
  const root = await copyBuildInputs("kh-rollout");
  // Before: the stack up on the current code (not timed; a cold build takes minutes).
  await deploy(
    pipeline,
    await buildCopyImages(pipeline.testDocker, root, contentTags(root, DEFAULT_NODE_IMAGE)),
  );
  await runOnce(pipeline);

  const marker = `rollout-${newId().slice(0, 8)}`;
  const started = performance.now();
  await changeLine(root, CHANGED_FILE, CHANGED_LINE, `"execution finished (${marker})"`);
  let tags = {} as Record<ImageKind, string>;
  let refs = {} as Record<ImageKind, string>;
  const steps = await timed([
    ["content tags (hash of the build inputs)", async () => (tags = contentTags(root, DEFAULT_NODE_IMAGE))],
    [
      "build both images (BuildKit, cache warm)",
      async () => (refs = await buildCopyImages(pipeline.testDocker, root, tags)),
    ],
  ]);
  await deploy(pipeline, refs, steps);
  const [run] = await timed([
    [
      "one run: message -> runner pod's log",
      async () => {
        const log = await runOnce(pipeline);
        if (!log.includes(marker)) throw new Error(`the run after the rollout ran the old code:\n${log}`);
      },
    ],
  ]);
  return {
    steps: [...steps, run as { step: string; ms: number }],
    totalMs: Math.round(performance.now() - started),
  };
}

export async function runRolloutBench(): Promise<RolloutResult> {
  const reason = await realNodeUnavailable();
  if (reason) return { name: "rollout", skipped: reason, steps: [], totalMs: 0, figures: [] };
  const unroute = await routeKubernetesServiceToPods();
  const stack = await startBenchStack("rollout");
  try {
    const { steps, totalMs } = await measure(stack);
    const note =
      "one-line change in a service file -> the next run's pod logs the new line; goal 30 s (the issue's bare limit)";
    return {
      name: "rollout",
      steps,
      totalMs,
      figures: [figure("rollout", totalMs, "ms", GOAL_MS, { atMost: 1 }, note)],
    };
  } finally {
    await runAfterFileCleanups();
    await stack.stop();
    await unroute();
  }
}

export function formatRolloutBench(result: RolloutResult): string {
  if (result.skipped) return `rollout: skipped, the real node is not up (${result.skipped})`;
  return [
    `rollout: one-line change in ${CHANGED_FILE} -> the next run executes it, ${result.totalMs} ms (goal ${GOAL_MS} ms)`,
    ...result.steps.map(({ step, ms }) => `  ${step.padEnd(48)} ${String(ms).padStart(6)} ms`),
  ].join("\n");
}
