import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { jobNameFor } from "../services/contracts/names.js";
import { runAfterFileCleanups } from "../test/helpers/after-file.js";
import { createTestSqs } from "../test/helpers/sqs.js";
import { startDataContainers } from "../test/real/docker/data-containers.js";
import { createTestDocker, docker } from "../test/real/docker/docker.js";
import { kubectl } from "../test/real/kube/cluster.js";
import { enqueue, gatedExecution, startGate } from "../test/real/kube/fixtures.js";
import { podUrl } from "../test/real/node/node.js";
import { type Figure, figure } from "./figures.js";
import { realNodeSpawnerPodSetup, realNodeUnavailable } from "./real-node.js";

/**
 * Hybrid-memory benchmark, on the tools' real worker node: resident memory with RUNS runs in flight (each
 * runner's step held at a gate until the reading is taken), in two parts.
 * - The profile's own: its runner pods and its job-spawner pod, the Deployment the stack declares (each
 *   pod cgroup's memory usage less its inactive file cache, the working set the kubelet reports), and the
 *   profile's Postgres and LocalStack containers as the program declares them (`docker stats`): Postgres
 *   is the runs' database; LocalStack idles, the runs' queue being the bench's fauxqs (the queue URLs
 *   LocalStack hands out name a host pods resolve otherwise). The dispatcher CronJob's pod lives about a
 *   second a minute and is not counted.
 * - The cluster's: kube-apiserver, etcd, the controller manager, the scheduler, kwok (the fake node the
 *   control plane keeps), the node's kubelet and its containerd with their shims (not Docker's), PSS from
 *   /proc (smaps_rollup: shared pages split among their users).
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

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: MIB,
  GiB: 1024 * MIB,
  kB: 1000,
  MB: 1e6,
  GB: 1e9,
};

/** Each container's memory use as `docker stats --no-stream` shows it (usage less page cache). */
async function containerMemory(names: readonly string[]): Promise<number[]> {
  const { stdout } = await docker(["stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", ...names]);
  const byName = new Map(
    stdout
      .trim()
      .split("\n")
      .map((line) => {
        const [name, usage] = line.split("\t");
        const match = /^([\d.]+)\s*([A-Za-z]+)/.exec(usage ?? "");
        return [
          name,
          match ? Number(match[1]) * (UNITS[match[2] as string] ?? Number.NaN) : Number.NaN,
        ] as const;
      }),
  );
  return names.map((name) => {
    const bytes = byName.get(name);
    if (bytes === undefined || !Number.isFinite(bytes))
      throw new Error(`docker stats shows no memory for ${name}`);
    return bytes;
  });
}

/** RUNS runs held in their step; the reading; then the runs released. */
async function measure(): Promise<{ own: Part[]; cluster: Part[] }> {
  const containers = await startDataContainers(createTestDocker(), "minikube");
  const sqs = await createTestSqs();
  const { space, queues, spawnerPod } = await realNodeSpawnerPodSetup(containers.db, sqs, RUNS * 2);
  const gate = await startGate();
  const podGate = { ...gate, base: (await podUrl(gate.base)).replace(/\/$/, "") };
  const runs = await Promise.all(
    Array.from({ length: RUNS }, () => gatedExecution(containers.db.pool, podGate)),
  );
  for (const run of runs) await enqueue(sqs, queues, run);
  await Promise.all(runs.map((run) => gate.reached(run.key)));
  try {
    const uids = await runnerPodUids(
      space.namespace,
      runs.map((r) => r.executionId),
    );
    if (uids.length !== RUNS) throw new Error(`${uids.length} runner pods for ${RUNS} runs in flight`);
    const [postgres, localstack] = await containerMemory([containers.postgres, containers.localstack]);
    const own: Part[] = [
      {
        name: `runner pods (${RUNS}, working set)`,
        bytes: uids.reduce((sum, uid) => sum + podWorkingSet(uid), 0),
      },
      { name: "job-spawner pod (working set)", bytes: podWorkingSet(spawnerPod.metadata.uid) },
      { name: "Postgres container (docker stats; the runs' database)", bytes: postgres as number },
      { name: "LocalStack container (docker stats; idle, the runs use fauxqs)", bytes: localstack as number },
    ];
    return { own, cluster: clusterParts(processes()) };
  } finally {
    for (const run of runs) gate.release(run.key);
  }
}

const sum = (parts: readonly Part[]) => parts.reduce((total, p) => total + p.bytes, 0);

export async function runHybridMemoryBench(): Promise<HybridMemoryResult> {
  const reason = await realNodeUnavailable();
  if (reason) return { name: "hybrid-memory", skipped: reason, own: [], cluster: [], figures: [] };
  try {
    const { own, cluster } = await measure();
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
  }
}

/** The table: each part's resident memory, and each side's sum. */
export function formatHybridMemoryBench(result: HybridMemoryResult): string {
  if (result.skipped) return `hybrid-memory: skipped, the real node is not up (${result.skipped})`;
  const line = (p: Part) => `    ${p.name.padEnd(64)} ${(p.bytes / MIB).toFixed(0).padStart(6)} MiB`;
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
