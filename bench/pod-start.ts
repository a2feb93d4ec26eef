import { CoreV1Api, KubeConfig, type V1Pod, Watch } from "@kubernetes/client-node";
import { buildJobTemplate } from "../services/contracts/job-template.js";
import { jobNameFor } from "../services/contracts/names.js";
import { newId } from "../services/core/ids.js";
import { createExecution } from "../services/db/executions.js";
import { runAfterFileCleanups } from "../test/helpers/after-file.js";
import type { TestQueues, TestSqs } from "../test/helpers/sqs.js";
import { createTestSqs } from "../test/helpers/sqs.js";
import { ADMIN_KUBECONFIG } from "../test/real/engines.js";
import { enqueue, statusOf, storeConditionWorkflow } from "../test/real/kube/fixtures.js";
import { inspectContainer, ON_REAL_NODE } from "../test/real/node/node.js";
import { type Figure, figure, percentile } from "./figures.js";
import { realNodeSpawnerPodSetup, realNodeUnavailable } from "./real-node.js";
import { type BenchStack, startBenchStack } from "./stack.js";

/**
 * Pod-start benchmark, on the tools' real worker node (kube/node.sh): message sent -> the runner pod's
 * first recorded step (its step row's started_at), through the job-spawner Deployment's pod (as the stack
 * runs it) -> Job -> pod on kube-node-0 -> `khctl run`; for 1 slot (ROUNDS times, one after another) and for
 * BURST at once. Beside it, in the same run, the bare pod: the runner's own pod spec from the Job template
 * with the same image running `true`, created -> its container started on the same node (containerd's
 * start time, in ns: `true` ends before the kubelet reports phase Running, and the API's times are seconds). Where
 * the rest goes comes from watch events of this process (ms): send -> Job created (queue + spawner) ->
 * pod created (Job controller) -> pod bound (scheduler) -> pod Running (kubelet: sandbox, container) ->
 * first step (Node start of the runner, its database work). Figure `pod-start`: single-slot p95 over the
 * bare pod's p95 (goal <= 1.3). Needs the real engines; skips with one line when the node is not up.
 * Run alone: `npm run bench -- pod-start`.
 */

const ROUNDS = 5;
const BURST = 20;

/** What this process saw of one pod (ms since the epoch), from the watches, and the runtime's start time. */
interface Seen {
  job?: number;
  created?: number;
  bound?: number;
  /** The API first showed the container started (running or ended). */
  reported?: number;
  containerId?: string;
  /** The container's process started (the node's containerd, `crictl inspect`). */
  started?: number;
}

interface Timeline {
  readonly sent: number;
  readonly firstStep: number;
  readonly seen: Seen;
}

export interface PodStartResult {
  readonly name: "pod-start";
  readonly skipped?: string;
  readonly single: readonly Timeline[];
  readonly burst: readonly Timeline[];
  readonly bareSingle: readonly BareStart[];
  readonly bareBurst: readonly BareStart[];
  readonly figures: Figure[];
}

/** Watches the namespace's Jobs and pods, keeping when each first existed, was bound and ran. */
async function watchNamespace(kc: KubeConfig, namespace: string) {
  const byName = new Map<string, Seen>();
  const entry = (name: string) => byName.get(name) ?? (byName.set(name, {}).get(name) as Seen);
  const watch = new Watch(kc);
  const stopJobs = await keepWatching(watch, `/apis/batch/v1/namespaces/${namespace}/jobs`, (job) => {
    entry((job as { metadata: { name: string } }).metadata.name).job ??= Date.now();
  });
  const stopPods = await keepWatching(watch, `/api/v1/namespaces/${namespace}/pods`, (object) => {
    const pod = object as V1Pod;
    const seen = entry(pod.metadata?.labels?.["job-name"] ?? (pod.metadata?.name as string));
    const now = Date.now();
    seen.created ??= now;
    if (pod.spec?.nodeName) seen.bound ??= now;
    if (containerStarted(pod)) seen.reported ??= now;
    seen.containerId ??= pod.status?.containerStatuses?.[0]?.containerID || undefined;
  });
  return {
    seen: (name: string) => entry(name),
    stop() {
      stopJobs();
      stopPods();
    },
  };
}

/**
 * Keeps a watch on `path` open until the returned stop is called: one the server or the network ends is
 * opened again (its first events show what exists then, so a first sighting is late but not lost).
 */
async function keepWatching(watch: Watch, path: string, onObject: (object: unknown) => void) {
  let stopped = false;
  let current: AbortController | undefined;
  const open = async (): Promise<void> => {
    current = await watch.watch(
      path,
      {},
      (_type, object) => onObject(object),
      (error) => {
        if (stopped) return;
        process.stderr.write(`pod-start: the watch on ${path} ended (${String(error)}); opening it again\n`);
        open().catch(() => setTimeout(() => void open().catch(() => {}), 500));
      },
    );
  };
  await open();
  return () => {
    stopped = true;
    current?.abort();
  };
}

/**
 * Whether the pod's container has started: its status shows it running or already ended. A container
 * running `true` ends before the kubelet reports phase Running, and phase Succeeded comes a sync (about a
 * second) later, so the phase alone would charge the bare pod for the kubelet's status cadence.
 */
function containerStarted(pod: V1Pod): boolean {
  const state = pod.status?.containerStatuses?.[0]?.state;
  return Boolean(state?.running || state?.terminated) || pod.status?.phase === "Running";
}

type Watcher = Awaited<ReturnType<typeof watchNamespace>>;

/** The runner's own pod spec, its container running `true` instead of `khctl run`. */
function barePod(namespace: string, runnerImage: string, name: string): V1Pod {
  const job = buildJobTemplate({
    executionId: newId(),
    workflowId: newId(),
    config: { namespace, runnerImage, jobTtlSeconds: 600, jobActiveDeadlineSeconds: 120 },
    nodeSelector: ON_REAL_NODE,
  });
  const spec = job.spec?.template.spec;
  if (!spec) throw new Error("the Job template has no pod spec");
  const [container] = spec.containers;
  if (!container) throw new Error("the Job template has no container");
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: { ...spec, containers: [{ ...container, command: ["true"], args: [] }] },
  };
}

/** Fills in when each pod's container started, from the node's runtime (ns), once the API names it. */
async function startTimes(seen: readonly Seen[]): Promise<void> {
  for (const entry of seen) {
    await until(() => (entry.containerId ? 0 : undefined), 0, "the API to name a pod's container");
    entry.started = Date.parse((await inspectContainer(entry.containerId as string)).status.startedAt);
  }
}

interface BareStart {
  /** Create request sent -> the container's process started (the runtime's time). */
  readonly started: number;
  /** Create request sent -> the API showed the container started. */
  readonly reported: number;
}

/** Creates `count` bare pods at once; resolves each one's start, ms. */
async function bareStarts(
  api: CoreV1Api,
  watcher: Watcher,
  namespace: string,
  image: string,
  count: number,
): Promise<BareStart[]> {
  const names = Array.from({ length: count }, () => `bare-${newId().slice(0, 10)}`);
  const sent = await Promise.all(
    names.map(async (name) => {
      const at = Date.now();
      await api.createNamespacedPod({ namespace, body: barePod(namespace, image, name) });
      return at;
    }),
  );
  await Promise.all(
    names.map((name) => until(() => watcher.seen(name).reported, 0, `bare pod ${name} to start`)),
  );
  const seen = names.map((name) => watcher.seen(name));
  await startTimes(seen);
  await Promise.all(names.map((name) => api.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 })));
  return seen.map((entry, i) => ({
    started: (entry.started as number) - (sent[i] as number),
    reported: (entry.reported as number) - (sent[i] as number),
  }));
}

/** Polls `value` every 20 ms until it is set; resolves it minus `since`. Fails after 120 s naming `what`. */
async function until(value: () => number | undefined, since: number, what: string): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const at = value();
    if (at !== undefined) return at - since;
    if (Date.now() > deadline) throw new Error(`waited 120 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Slots {
  readonly stack: BenchStack;
  readonly sqs: TestSqs;
  readonly queues: TestQueues;
  readonly workflowId: string;
  readonly watcher: Watcher;
}

/** Sends `count` messages at once; resolves each run's timeline once every run has succeeded. */
async function slotRuns(slots: Slots, count: number): Promise<Timeline[]> {
  const { stack, workflowId } = slots;
  const ids = await Promise.all(
    Array.from({ length: count }, () =>
      createExecution(stack.pool, { workflowId, triggerType: "manual", input: {} }),
    ),
  );
  const sent = await Promise.all(
    ids.map(async (executionId) => {
      const at = Date.now();
      await enqueue(slots.sqs, slots.queues, { executionId, workflowId });
      return at;
    }),
  );
  await Promise.all(ids.map((id) => statusOf(stack.pool, id, "success", 180_000)));
  await startTimes(ids.map((id) => slots.watcher.seen(jobNameFor(id))));
  const { rows } = await stack.pool.query<{ execution_id: string; first: Date }>(
    `SELECT execution_id, min(started_at) AS first FROM workflow_execution_logs
     WHERE execution_id = ANY($1) GROUP BY execution_id`,
    [ids],
  );
  const first = new Map(rows.map((r) => [r.execution_id, r.first.getTime()]));
  return ids.map((id, i) => ({
    sent: sent[i] as number,
    firstStep: first.get(id) as number,
    seen: slots.watcher.seen(jobNameFor(id)),
  }));
}

/** The image, the namespace, the spawner and the watches; the measurements; cleanup of all of it. */
async function measure(stack: BenchStack): Promise<Omit<PodStartResult, "name" | "figures">> {
  const sqs = await createTestSqs();
  const { image, space, queues } = await realNodeSpawnerPodSetup(stack, sqs, BURST * 2);
  const kc = new KubeConfig();
  kc.loadFromFile(ADMIN_KUBECONFIG);
  const api = kc.makeApiClient(CoreV1Api);
  const watcher = await watchNamespace(kc, space.namespace);
  try {
    const slots = {
      stack,
      sqs,
      queues,
      workflowId: await storeConditionWorkflow(stack.pool, "pod-start bench"),
      watcher,
    };
    // One of each first, unmeasured: the image's first start on the node reads its layers from disk.
    await slotRuns(slots, 1);
    await bareStarts(api, watcher, space.namespace, image, 1);
    const single: Timeline[] = [];
    const bareSingle: BareStart[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      single.push(...(await slotRuns(slots, 1)));
      bareSingle.push(...(await bareStarts(api, watcher, space.namespace, image, 1)));
    }
    const burst = await slotRuns(slots, BURST);
    const bareBurst = await bareStarts(api, watcher, space.namespace, image, BURST);
    return { single, burst, bareSingle, bareBurst };
  } finally {
    watcher.stop();
  }
}

export async function runPodStartBench(): Promise<PodStartResult> {
  const empty = {
    name: "pod-start" as const,
    single: [],
    burst: [],
    bareSingle: [],
    bareBurst: [],
    figures: [],
  };
  const reason = await realNodeUnavailable();
  if (reason) return { ...empty, skipped: reason };
  const stack = await startBenchStack("pod-start");
  try {
    const measured = await measure(stack);
    const total = measured.single.map((t) => t.firstStep - t.sent);
    const value = percentile(total, 95);
    const limit = percentile(
      measured.bareSingle.map((b) => b.started),
      95,
    );
    const note = `bare pod (the runner's pod spec and image running \`true\`) created -> container started (containerd's time) p95, same node, same run; ${ROUNDS} single slots`;
    return {
      name: "pod-start",
      ...measured,
      figures: [figure("pod-start", value, "ms", limit, { atMost: 1.3 }, note)],
    };
  } finally {
    await runAfterFileCleanups();
    await stack.stop();
  }
}

const STAGES: readonly [string, (t: Timeline) => number | undefined][] = [
  ["queue + spawner (sent -> Job)", (t) => t.seen.job && t.seen.job - t.sent],
  ["Job controller (Job -> pod)", (t) => t.seen.job && t.seen.created && t.seen.created - t.seen.job],
  ["scheduler (pod -> bound)", (t) => t.seen.created && t.seen.bound && t.seen.bound - t.seen.created],
  [
    "kubelet (bound -> container started)",
    (t) => t.seen.bound && t.seen.started && t.seen.started - t.seen.bound,
  ],
  ["runner (container started -> first step)", (t) => t.seen.started && t.firstStep - t.seen.started],
  [
    "(kubelet's report: started -> API)",
    (t) => t.seen.started && t.seen.reported && t.seen.reported - t.seen.started,
  ],
];

const ms = (values: readonly number[]) =>
  values.length ? `p50 ${percentile(values, 50)} ms, p95 ${percentile(values, 95)} ms` : "n/a";

/** The table: totals against the bare pod, then each stage's share. */
export function formatPodStartBench(result: PodStartResult): string {
  if (result.skipped) return `pod-start: skipped, the real node is not up (${result.skipped})`;
  const lines = [
    `pod-start: message -> first step on the real node (kube-node-0), against a bare pod of the same spec`,
    `  1 slot  (${result.single.length}x): ${ms(result.single.map((t) => t.firstStep - t.sent))}; bare pod created -> container started: ${ms(result.bareSingle.map((b) => b.started))} (the API showed it: ${ms(result.bareSingle.map((b) => b.reported))})`,
    `  ${BURST} at once: ${ms(result.burst.map((t) => t.firstStep - t.sent))}; ${BURST} bare pods at once: ${ms(result.bareBurst.map((b) => b.started))} (API: ${ms(result.bareBurst.map((b) => b.reported))})`,
    "  where it goes (watch events of this process):",
  ];
  for (const [stage, of] of STAGES) {
    const pick = (runs: readonly Timeline[]) =>
      runs.map(of).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    lines.push(
      `    ${stage.padEnd(42)} 1 slot ${ms(pick(result.single))}; ${BURST} at once ${ms(pick(result.burst))}`,
    );
  }
  return lines.join("\n");
}
