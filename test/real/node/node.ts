import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import {
  imageLoadScript,
  imageUnloadScript,
  kubeNodeImageLoader,
  qualifiedRef,
} from "../../../infra/cluster/image-loader.js";
import { spawnerDeploymentArgs } from "../../../infra/cluster/specs.js";
import { shellQuote } from "../../../infra/khctl.js";
import { K8S, LABELS, SPAWNER_APP_LABEL, SPAWNER_HEALTH } from "../../../services/contracts/names.js";
import { afterFile } from "../../helpers/after-file.js";
import type { TestDatabase } from "../../helpers/database.js";
import type { TestQueues, TestSqs } from "../../helpers/sqs.js";
import { scaled, until } from "../../helpers/wait.js";
import { createTestDocker } from "../docker/docker.js";
import { type BuiltImage, buildServiceImage } from "../docker/images.js";
import { ADMIN_KUBECONFIG, KUBE_NODE_NAME, KUBECTL, POD_HOST_ADDRESS, TOOLS_DIR } from "../engines.js";
import { kubectl, manifest } from "../kube/cluster.js";
import { type SpawnerNamespace, spawnerNamespace, startSpawner } from "../kube/fixtures.js";
import { startRelay } from "./relay.js";

/**
 * The real worker node of the tools (../shared/tools/kube/node.sh: a kubelet with its own containerd and
 * runc, joined to the control plane), as a test file uses it: images loaded through the stack's loader
 * interface (infra/cluster/image-loader.ts), runner pods pinned to it by a nodeSelector (kwok's fake node
 * stays schedulable for the kwok tests), and this machine's servers exposed on the address pods reach it at.
 */

const run = promisify(execFile);

/** The tools' node script. */
export const NODE_SCRIPT = path.join(TOOLS_DIR, "kube", "node.sh");
export { POD_HOST_ADDRESS } from "../engines.js";
/** Pins a runner pod to the real node. */
export const ON_REAL_NODE = { "kubernetes.io/hostname": KUBE_NODE_NAME } as const;

const loader = kubeNodeImageLoader(NODE_SCRIPT);

/** Runs a shell command; rejects with its stderr. Deadline scaled; default 120 s. */
async function sh(script: string, timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run("sh", ["-c", script], {
    timeout: scaled(timeoutMs),
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Loads an image from the Docker engine into the node, as the stack loads it into minikube; unloaded after the file. */
export async function loadIntoNode(ref: string): Promise<void> {
  await sh(imageLoadScript(loader, ref), 300_000);
  afterFile(() => unloadFromNode(ref));
}

/** Removes an image from the node by the stack's unload command (a digest reference too); never fails. */
export async function unloadFromNode(ref: string): Promise<void> {
  await sh(imageUnloadScript(loader, ref));
}

/**
 * Both service images built by the real Docker engine from services/Dockerfile (as the stack builds them)
 * and loaded into the node; removed from both when the file ends.
 */
export async function nodeServiceImages(): Promise<{ runner: BuiltImage; scheduler: BuiltImage }> {
  const testDocker = createTestDocker();
  const [runner, scheduler] = await Promise.all([
    buildServiceImage(testDocker, "runner"),
    buildServiceImage(testDocker, "scheduler"),
  ]);
  await Promise.all([loadIntoNode(runner.ref), loadIntoNode(scheduler.ref)]);
  return { runner, scheduler };
}

/** Whether the node's runtime has the image by this reference, a tag or a digest (`crictl inspecti`). */
export async function nodeHasImage(ref: string): Promise<boolean> {
  try {
    await sh(`bash '${NODE_SCRIPT}' crictl inspecti ${shellQuote(qualifiedRef(ref))}`, 30_000);
    return true;
  } catch {
    return false;
  }
}

/** `crictl inspect <container>` on the node: the OCI spec runc ran the container with. */
export async function inspectContainer(containerId: string): Promise<CriContainer> {
  const id = containerId.replace(/^containerd:\/\//, "");
  return JSON.parse(await sh(`bash '${NODE_SCRIPT}' crictl inspect ${id}`)) as CriContainer;
}

/** SIGKILLs a container on the node (`crictl stop --timeout 0`), as a crash or the OOM killer would. */
export async function killContainer(containerId: string): Promise<void> {
  const id = containerId.replace(/^containerd:\/\//, "");
  await sh(`bash '${NODE_SCRIPT}' crictl stop --timeout 0 ${id}`);
}

export interface CriContainer {
  /** The runtime's times, RFC 3339 with nanoseconds (the API's containerStatuses have seconds). */
  status: { createdAt: string; startedAt: string };
  info: {
    runtimeSpec: {
      process: {
        user: { uid: number; gid: number };
        capabilities?: Record<string, string[] | undefined>;
        noNewPrivileges?: boolean;
      };
      root: { path: string; readonly?: boolean };
      linux: { seccomp?: { defaultAction: string } | null; resources?: { memory?: { limit?: number } } };
    };
  };
}

/**
 * Listens on POD_HOST_ADDRESS and forwards each connection to a server of this machine on 127.0.0.1 (the
 * run's Postgres, a file's fauxqs), so a pod reaches it as a minikube pod reaches the stack's published
 * ports. Resolves the port pods use; closed when the file ends.
 */
export async function exposeToPods(targetPort: number): Promise<number> {
  const relay = await startRelay(POD_HOST_ADDRESS, { host: "127.0.0.1", port: targetPort });
  afterFile(() => relay.close());
  return relay.port;
}

const exposed = new Map<number, Promise<number>>();

/** `url` with its host and port replaced by where pods reach it (one exposeToPods per server). */
export async function podUrl(url: string): Promise<string> {
  const parsed = new URL(url);
  const port = Number(parsed.port);
  if (!exposed.has(port)) exposed.set(port, exposeToPods(port));
  parsed.hostname = POD_HOST_ADDRESS;
  parsed.port = String(await exposed.get(port));
  return parsed.toString();
}

/**
 * Runs a script the stack runs (a command resource's bash) as `pulumi up` would on a machine whose kubectl
 * is the tools' one, as the control plane's admin (its context: ADMIN_CONTEXT); never rejects.
 */
export async function runStackScript(
  script: string,
  timeoutMs = 180_000,
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run("bash", ["-c", script], {
      timeout: scaled(timeoutMs),
      env: {
        ...process.env,
        PATH: `${path.dirname(KUBECTL)}:${process.env.PATH}`,
        KUBECONFIG: ADMIN_KUBECONFIG,
      },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      output: `${failed.stdout ?? ""}${failed.stderr ?? ""}`,
    };
  }
}

/** The admin kubeconfig's context (the one kube/up.sh writes). */
export function adminContext(): string {
  const admin = new KubeConfig();
  admin.loadFromFile(ADMIN_KUBECONFIG);
  return admin.getCurrentContext();
}

/** The stack's namespace on the real API server, with the runners' Secret and ConfigMap pointing where pods reach this machine. */
export interface PodNamespace {
  readonly space: SpawnerNamespace;
  /** The queue the namespace's ConfigMap names (where the dispatcher sends), by its host URL. */
  readonly hostQueues: TestQueues;
  /** The Postgres URL the runners get (through POD_HOST_ADDRESS). */
  readonly podDatabaseUrl: string;
}

/**
 * The hybrid stack's objects (spawnerNamespace) for runners on the real node: the file's Postgres and
 * fauxqs reached through POD_HOST_ADDRESS, the queue URL rewritten to match.
 */
export async function podNamespace(
  db: TestDatabase,
  sqs: TestSqs,
  overrides: Parameters<typeof spawnerNamespace>[3] = {},
): Promise<PodNamespace> {
  const podDatabaseUrl = await podUrl(db.url);
  const podSqsEndpoint = (await podUrl(sqs.endpoint)).replace(/\/$/, "");
  const hostQueues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
  const podQueues: TestQueues = {
    ...hostQueues,
    queueUrl: hostQueues.queueUrl.replace(sqs.endpoint, podSqsEndpoint),
  };
  const space = await spawnerNamespace(
    { ...db, url: podDatabaseUrl },
    { ...sqs, endpoint: podSqsEndpoint },
    podQueues,
    overrides,
  );
  return { space, hostQueues, podDatabaseUrl };
}

/** A spawner on its own queue (or `queues`), creating runner Jobs pinned to the real node from `runnerImage`. */
export async function nodeSpawner(
  db: TestDatabase,
  sqs: TestSqs,
  space: SpawnerNamespace,
  options: { runnerImage: string; memoryLimit?: string; queues?: TestQueues },
) {
  const queues = options.queues ?? (await sqs.createQueues({ visibilityTimeoutSeconds: 30 }));
  const spawner = await startSpawner(db, sqs, queues, space, {
    config: { runnerImage: options.runnerImage },
    runnerPod: {
      nodeSelector: ON_REAL_NODE,
      ...(options.memoryLimit ? { resources: { limits: { memory: options.memoryLimit } } } : {}),
    },
  });
  return { queues, spawner };
}

/** What the node tests read of a pod (`kubectl get pods -o json`). */
export interface PodJson {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: {
    nodeName?: string;
    securityContext?: Record<string, unknown>;
    containers: {
      image: string;
      env?: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
      envFrom?: Record<string, unknown>[];
      securityContext?: Record<string, unknown>;
    }[];
  };
  status: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      containerID?: string;
      restartCount: number;
      state?: { terminated?: { reason?: string; exitCode?: number } };
    }[];
  };
}

/** The pods of `namespace` that `selector` picks, as admin. */
export async function podsIn(namespace: string, selector: string): Promise<PodJson[]> {
  const { stdout } = await kubectl(["-n", namespace, "get", "pods", "-l", selector, "-o", "json"]);
  return (JSON.parse(stdout) as { items: PodJson[] }).items;
}

/**
 * The hybrid stack's job-spawner Deployment (spawnerDeploymentArgs, the program's own builder) with one
 * change: its pod pinned to the real node (kwok's fake node takes pods too). Its runners are placed by the
 * namespace's RUNNER_NODE_SELECTOR (podNamespace's `runnerNodeSelector`).
 */
export function nodeSpawnerDeployment(input: {
  namespace: string;
  image: string;
  runnerImage: string;
}): Record<string, unknown> {
  const deployment = manifest(
    "apps/v1",
    "Deployment",
    spawnerDeploymentArgs({ ...input, probes: SPAWNER_HEALTH, configHash: "real-node" }),
  ) as { spec: { template: { spec: Record<string, unknown> } } };
  deployment.spec.template.spec.nodeSelector = ON_REAL_NODE;
  return deployment;
}

const isReady = (pod: PodJson) =>
  pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/** Waits for the spawner Deployment's rollout; resolves its first pod that is Ready and not going away. */
export async function spawnerRolledOut(
  namespace: string,
  timeoutMs = 120_000,
  replicas = 1,
): Promise<PodJson> {
  await kubectl([
    "-n",
    namespace,
    "rollout",
    "status",
    `deployment/${K8S.spawnerDeployment}`,
    `--timeout=${Math.round(scaled(timeoutMs) / 1000)}s`,
  ]);
  // The rollout is done when the old pods are told to go: wait for them to be gone too.
  const ready = await until(`${replicas} spawner pods Ready, none going away`, async () => {
    const pods = await podsIn(namespace, `${LABELS.app}=${SPAWNER_APP_LABEL}`);
    const serving = pods.filter((pod) => !pod.metadata.deletionTimestamp && isReady(pod));
    return serving.length === replicas && pods.length === replicas ? serving : undefined;
  });
  return ready[0] as PodJson;
}
