import { DEFAULT_NODE_IMAGE } from "../infra/config.js";
import type { ImageKind } from "../infra/images.js";
import { jobNameFor } from "../services/contracts/names.js";
import { createExecution } from "../services/db/executions.js";
import { createSqsClient } from "../services/queue/client.js";
import { sendWorkflowMessage } from "../services/queue/send.js";
import { runAfterFileCleanups } from "../test/helpers/after-file.js";
import { until } from "../test/helpers/wait.js";
import { changeLine, contentTags, copyBuildInputs } from "../test/real/docker/build-copy.js";
import { applyObjects, kubectl } from "../test/real/kube/cluster.js";
import { statusOf, storeConditionWorkflow } from "../test/real/kube/fixtures.js";
import { routeKubernetesServiceToPods } from "../test/real/node/api-service-setup.js";
import { spawnerRolledOut } from "../test/real/node/node.js";
import { type ClusterParts, startClusterParts } from "../test/real/registry/cluster.js";
import { type Figure, figure, percentile } from "./figures.js";
import { realNodeUnavailable } from "./real-node.js";

/**
 * Cluster-stack benchmark, on the parts the real tier uses (test/real/registry/cluster.ts): a registry of
 * its own (Debian's distribution 2.8 on 127.0.0.1), the real API server and worker node, Postgres and the
 * LocalStack stand-in as the team's database and SQS, two spawner replicas.
 * - `cluster-up-unchanged`: what `pulumi up -s cluster` does for real here, from nothing (both images built
 *   from a copy of the build inputs, BuildKit's cache warm as on a developer's machine, pushed by digest, the
 *   objects applied, both spawners Ready) and then unchanged (the same steps: the build from cache, a push
 *   that sends no layer, an apply that changes nothing). The figure is unchanged over from nothing, goal
 *   <= 0.25 (ours). No Pulumi engine runs here: its own time (diff, state, provider calls) is not in it.
 * - `cluster-push-changed`: pushing both images after a one-line change in a service, over the first push,
 *   goal <= 0.5 (ours); the table says how many layers each sent.
 * - `cluster-slot-start`: a message sent -> the runner's first recorded step, p95 of ROUNDS single slots
 *   through the two spawners, against the Kubernetes pod-startup SLO (p99 <= 5 s); after one run that pulls
 *   the new runner image (its time is in the table).
 * Skips with one line when the node is not up. Run alone: `npm run bench -- cluster`.
 */

const REPLICAS = 2;
const ROUNDS = 10;
const CHANGED_FILE = "services/runner/run-execution.ts";

export interface ClusterBenchResult {
  readonly name: "cluster";
  readonly skipped?: string;
  /** ms of each `up` and push, and the layers each push sent. */
  readonly steps: readonly { step: string; ms: number; layers?: number }[];
  /** message -> first step, ms, each single slot. */
  readonly slotStarts: readonly number[];
  readonly figures: Figure[];
}

type Step = ClusterBenchResult["steps"][number];

/** Builds and pushes the copy's images; the push's time and layers apart from the build's. */
async function buildPush(parts: ClusterParts, root: string, what: string, steps: Step[]) {
  const uploads = parts.registry.blobUploads();
  const started = performance.now();
  const images = await parts.buildAndPush(root, contentTags(root, DEFAULT_NODE_IMAGE));
  steps.push({
    step: `${what}: build + push both`,
    ms: Math.round(performance.now() - started),
    layers: parts.registry.blobUploads() - uploads,
  });
  return images;
}

/** One `up`: build and push, apply, every spawner Ready on the images. */
async function up(
  parts: ClusterParts,
  root: string,
  what: string,
  steps: Step[],
): Promise<Record<ImageKind, string>> {
  const started = performance.now();
  const images = await buildPush(parts, root, what, steps);
  await applyObjects(await parts.objectsFor(images));
  await spawnerRolledOut(parts.namespace, 180_000, REPLICAS);
  steps.push({ step: `${what}: the whole up`, ms: Math.round(performance.now() - started) });
  return images;
}

/** `rounds` single slots, one after another: sent -> the trigger step's started_at, ms. */
async function slotStarts(parts: ClusterParts, rounds: number): Promise<number[]> {
  return (await slots(parts, rounds)).map((slot) => slot.ms);
}

/** The kubelet's own figure for a runner pod's image pull (its `Pulled` event), or "no pull". */
async function pullOf(namespace: string, executionId: string): Promise<string> {
  const { stdout } = await kubectl([
    "-n",
    namespace,
    "get",
    "events",
    "-o",
    'jsonpath={range .items[*]}{.involvedObject.name} {.message}{"\\n"}{end}',
  ]);
  const line = stdout
    .split("\n")
    .find((l) => l.startsWith(jobNameFor(executionId)) && l.includes("Successfully pulled"));
  return /pulled image "[^"]+" in ([^ ]+)/.exec(line ?? "")?.[1] ?? "no pull";
}

/** `rounds` single slots: each one's id and sent -> first step, ms. */
async function slots(parts: ClusterParts, rounds: number): Promise<{ executionId: string; ms: number }[]> {
  const { pool } = parts.data.db;
  const workflowId = await storeConditionWorkflow(pool, "cluster bench");
  const sqs = createSqsClient({ endpoint: parts.aws.AWS_ENDPOINT_URL, region: "us-east-1" });
  const starts: { executionId: string; ms: number }[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const executionId = await createExecution(pool, {
        workflowId,
        triggerType: "manual",
        input: {},
      });
      const sent = Date.now();
      await sendWorkflowMessage(sqs, parts.queues.queueUrl, {
        executionId,
        workflowId,
        triggerType: "manual",
        triggerTime: new Date(sent).toISOString(),
      });
      const first = await until(
        `execution ${executionId}'s first step`,
        async () => {
          const { rows } = await pool.query<{ at: Date }>(
            "SELECT started_at AS at FROM workflow_execution_logs WHERE execution_id = $1 ORDER BY started_at LIMIT 1",
            [executionId],
          );
          return rows[0]?.at;
        },
        60_000,
      );
      starts.push({ executionId, ms: first.getTime() - sent });
      await statusOf(pool, executionId, "success", 60_000);
    }
  } finally {
    sqs.destroy();
  }
  return starts;
}

async function measure(): Promise<Omit<ClusterBenchResult, "name" | "figures">> {
  const parts = await startClusterParts(REPLICAS);
  const root = await copyBuildInputs("kh-cluster-bench");
  const steps: Step[] = [];
  await up(parts, root, "from nothing", steps);
  await up(parts, root, "unchanged", steps);
  await changeLine(root, CHANGED_FILE, '"execution finished"', '"execution finished (bench)"');
  await up(parts, root, "one line changed", steps);
  // The first run after the rollout pulls the new runner image onto the node: timed apart, not a slot.
  const [firstRun] = await slots(parts, 1);
  if (!firstRun) throw new Error("no first run");
  const pull = await pullOf(parts.namespace, firstRun.executionId);
  steps.push({ step: `first run after it (kubelet's pull: ${pull})`, ms: firstRun.ms });
  return { steps, slotStarts: await slotStarts(parts, ROUNDS) };
}

const msOf = (steps: readonly Step[], step: string) => steps.find((s) => s.step === step)?.ms ?? Number.NaN;

export async function runClusterBench(): Promise<ClusterBenchResult> {
  const reason = await realNodeUnavailable();
  if (reason) return { name: "cluster", skipped: reason, steps: [], slotStarts: [], figures: [] };
  const unroute = await routeKubernetesServiceToPods();
  try {
    const { steps, slotStarts: starts } = await measure();
    const p95 = percentile(starts, 95);
    return {
      name: "cluster",
      steps,
      slotStarts: starts,
      figures: [
        figure(
          "cluster-up-unchanged",
          msOf(steps, "unchanged: the whole up"),
          "ms",
          msOf(steps, "from nothing: the whole up"),
          { atMost: 0.25 },
          "an unchanged up (build from cache, push, apply, spawners Ready) over one from nothing; goal ours",
        ),
        figure(
          "cluster-push-changed",
          msOf(steps, "one line changed: build + push both"),
          "ms",
          msOf(steps, "from nothing: build + push both"),
          { atMost: 0.5 },
          "build + push after a one-line change over the first; goal ours",
        ),
        figure(
          "cluster-slot-start",
          p95,
          "ms",
          5000,
          { atMost: 1 },
          `message -> runner's first step p95 of ${ROUNDS}, 2 spawner replicas; the pod-startup SLO's 5 s`,
        ),
      ],
    };
  } finally {
    await runAfterFileCleanups();
    await unroute();
  }
}

export function formatClusterBench(result: ClusterBenchResult): string {
  if (result.skipped) return `cluster: skipped, the real node is not up (${result.skipped})`;
  const starts = result.slotStarts;
  return [
    "cluster: the cluster stack's steps on a real registry, API server and node (2 spawner replicas)",
    ...result.steps.map(
      ({ step, ms, layers }) =>
        `  ${step.padEnd(40)} ${String(ms).padStart(6)} ms${layers === undefined ? "" : `, ${layers} layers sent`}`,
    ),
    `  slot -> runner's first step (${starts.length} single slots): p50 ${percentile(starts, 50)} ms, p95 ${percentile(starts, 95)} ms`,
  ].join("\n");
}
