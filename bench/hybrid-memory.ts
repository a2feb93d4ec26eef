import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { jobNameFor } from "../services/contracts/names.js";
import { runAfterFileCleanups } from "../test/helpers/after-file.js";
import { kubectl } from "../test/real/kube/cluster.js";
import { enqueue, gatedExecution, startGate } from "../test/real/kube/fixtures.js";
import { podUrl } from "../test/real/node/node.js";
import { type Figure, figure } from "./figures.js";
import { realNodeSetup, realNodeUnavailable } from "./real-node.js";
import { type BenchStack, startBenchStack } from "./stack.js";

/**
 * Hybrid-memory benchmark, on the tools' real worker node: resident memory with RUNS runs in flight (each
 * runner's step held at a gate until the reading is taken), in two parts.
 * - The profile's own: its runner pods (each pod cgroup's memory usage less its inactive file cache, the
 *   working set the kubelet reports), the spawner (this bench process's RSS, which also holds the bench, its
 *   watches and fauxqs: an upper bound) and Postgres (the embedded server's processes' PSS, standing in for the
 *   profile's Postgres container). The bench starts no Docker container, so there is no `docker stats` part.
 * - The cluster's: kube-apiserver, etcd, the controller manager, the scheduler, kwok (the fake node the
 *   control plane keeps), the node's kubelet and its containerd with their shims (not Docker's), PSS from
 *   /proc (smaps_rollup: shared pages split among their users, so a server's backends are not counted
 *   once each for the shared buffers).
 * Figures `hybrid-memory-own` (goal <= 1 GiB) and `hybrid-memory-total` (both parts, goal <= 2 GiB).
 * Skips with one line when the node is not up. Run alone: `npm run bench -- hybrid-memory`.
 */

const RUNS = 4;
const MIB = 1024 * 1024;
/** cgroup v1's memory controller, where the node's kubelet puts pods (cgroupfs driver). */
const POD_CGROUPS = ["/sys/fs/cgroup/memory/kubepods", "/sys/fs/cgroup/kubepods"];

interface Part {
  readonly name: string;
  readonly bytes: number;
}

export interface HybridMemoryResult {
  readonly name: "hybrid-memory";
  readonly skipped?: string;
  readonly own: readonly Part[];
  readonly cluster: readonly Part[];
  readonly figures: Figure[];
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly exe: string;
  readonly argv: readonly string[];
  /** Proportional set size: shared pages (Postgres's shared buffers, a binary's text) split among their users. */
  readonly pss: number;
}

/** Every process's name (argv[0]'s base), argv, parent and PSS, from /proc. */
function processes(): Proc[] {
  const list: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const rollup = readFileSync(`/proc/${entry}/smaps_rollup`, "utf8");
      const field = (text: string, key: string) =>
        Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
      list.push({
        pid: Number(entry),
        ppid: field(status, "PPid"),
        exe: path.basename(argv[0] ?? ""),
        argv,
        pss: field(rollup, "Pss") * 1024,
      });
    } catch {
      // Gone while reading.
    }
  }
  return list;
}

/** The PSS of `root` and everything under it. */
function treePss(all: readonly Proc[], root: number): number {
  const children = all.filter((p) => p.ppid === root);
  return (
    (all.find((p) => p.pid === root)?.pss ?? 0) + children.reduce((sum, c) => sum + treePss(all, c.pid), 0)
  );
}

/** The bench's Postgres server (the postmaster started with `-p <port>`) and its backends. */
function postgresPss(all: readonly Proc[], port: number): number {
  const postmaster = all.find(
    (p) => p.exe === "postgres" && p.argv[p.argv.indexOf("-p") + 1] === String(port),
  );
  if (!postmaster) throw new Error(`no postgres process listening on port ${port}`);
  return treePss(all, postmaster.pid);
}

/** The node's own state dir: its containerd's config and its shims' socket are under it (Docker's are not). */
const NODE_DIR = process.env.KUBE_NODE_DIR ?? "/var/tmp/kube-node";

/** The cluster's processes by name, summed. */
function clusterParts(all: readonly Proc[]): Part[] {
  const named = (names: readonly string[], ofNode = false) =>
    all
      .filter((p) => names.includes(p.exe) && (!ofNode || p.argv.some((a) => a.includes(NODE_DIR))))
      .reduce((sum, p) => sum + p.pss, 0);
  return [
    { name: "kube-apiserver", bytes: named(["kube-apiserver"]) },
    { name: "etcd", bytes: named(["etcd"]) },
    {
      name: "controller manager, scheduler, kwok",
      bytes: named(["kube-controller-manager", "kube-scheduler", "kwok"]),
    },
    { name: "kubelet", bytes: named(["kubelet"]) },
    { name: "node containerd and its shims", bytes: named(["containerd", "containerd-shim-runc-v2"], true) },
  ];
}

/** A pod's working set: its cgroup's usage less inactive file cache (what the kubelet reports). */
function podWorkingSet(uid: string): number {
  for (const root of POD_CGROUPS) {
    for (const qos of ["burstable", "besteffort", "."]) {
      const dir = path.join(root, qos, `pod${uid}`);
      try {
        const v1 = readFileSync(path.join(dir, "memory.usage_in_bytes"), "utf8");
        const inactive = /^total_inactive_file (\d+)/m.exec(
          readFileSync(path.join(dir, "memory.stat"), "utf8"),
        );
        return Number(v1) - Number(inactive?.[1] ?? 0);
      } catch {
        try {
          const v2 = readFileSync(path.join(dir, "memory.current"), "utf8");
          const inactive = /^inactive_file (\d+)/m.exec(readFileSync(path.join(dir, "memory.stat"), "utf8"));
          return Number(v2) - Number(inactive?.[1] ?? 0);
        } catch {
          // Not under this QoS class.
        }
      }
    }
  }
  throw new Error(`no memory cgroup for pod ${uid} under ${POD_CGROUPS.join(" or ")}`);
}

/** The runner pods of the executions, by uid. */
async function runnerPodUids(namespace: string, executionIds: readonly string[]): Promise<string[]> {
  const { stdout } = await kubectl(["-n", namespace, "get", "pods", "-o", "json"]);
  const pods = (
    JSON.parse(stdout) as { items: { metadata: { uid: string; labels?: Record<string, string> } }[] }
  ).items;
  const jobs = new Set(executionIds.map(jobNameFor));
  return pods.filter((p) => jobs.has(p.metadata.labels?.["job-name"] ?? "")).map((p) => p.metadata.uid);
}

/** RUNS runs held in their step; the reading; then the runs released. */
async function measure(stack: BenchStack): Promise<{ own: Part[]; cluster: Part[] }> {
  const { sqs, space, queues } = await realNodeSetup(stack, RUNS * 2);
  const gate = await startGate();
  const podGate = { ...gate, base: (await podUrl(gate.base)).replace(/\/$/, "") };
  const runs = await Promise.all(Array.from({ length: RUNS }, () => gatedExecution(stack.pool, podGate)));
  for (const run of runs) await enqueue(sqs, queues, run);
  await Promise.all(runs.map((run) => gate.reached(run.key)));
  try {
    const uids = await runnerPodUids(
      space.namespace,
      runs.map((r) => r.executionId),
    );
    if (uids.length !== RUNS) throw new Error(`${uids.length} runner pods for ${RUNS} runs in flight`);
    const all = processes();
    const own: Part[] = [
      {
        name: `runner pods (${RUNS}, working set)`,
        bytes: uids.reduce((sum, uid) => sum + podWorkingSet(uid), 0),
      },
      { name: "spawner (this bench process: also the bench and fauxqs)", bytes: process.memoryUsage().rss },
      {
        name: "Postgres (embedded, for the profile's container)",
        bytes: postgresPss(all, stack.server.port),
      },
    ];
    return { own, cluster: clusterParts(all) };
  } finally {
    for (const run of runs) gate.release(run.key);
  }
}

const sum = (parts: readonly Part[]) => parts.reduce((total, p) => total + p.bytes, 0);

export async function runHybridMemoryBench(): Promise<HybridMemoryResult> {
  const reason = await realNodeUnavailable();
  if (reason) return { name: "hybrid-memory", skipped: reason, own: [], cluster: [], figures: [] };
  const stack = await startBenchStack("hybrid-memory");
  try {
    const { own, cluster } = await measure(stack);
    const ownMib = sum(own) / MIB;
    const totalMib = (sum(own) + sum(cluster)) / MIB;
    return {
      name: "hybrid-memory",
      own,
      cluster,
      figures: [
        figure(
          "hybrid-memory-own",
          ownMib,
          "MiB",
          1024,
          { atMost: 1 },
          `the profile's own parts, ${RUNS} runs in flight; the 1 GiB goal`,
        ),
        figure(
          "hybrid-memory-total",
          totalMib,
          "MiB",
          2048,
          { atMost: 1 },
          "the profile's own and the cluster's; the 2 GiB goal",
        ),
      ],
    };
  } finally {
    await runAfterFileCleanups();
    await stack.stop();
  }
}

/** The table: each part's resident memory, and each side's sum. */
export function formatHybridMemoryBench(result: HybridMemoryResult): string {
  if (result.skipped) return `hybrid-memory: skipped, the real node is not up (${result.skipped})`;
  const line = (p: Part) => `    ${p.name.padEnd(58)} ${(p.bytes / MIB).toFixed(0).padStart(6)} MiB`;
  return [
    `hybrid-memory: resident memory with ${RUNS} runs in flight on the real node`,
    "  the profile's own:",
    ...result.own.map(line),
    line({ name: "sum", bytes: sum(result.own) }),
    "  the cluster's:",
    ...result.cluster.map(line),
    line({ name: "sum", bytes: sum(result.cluster) }),
  ].join("\n");
}
