import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync } from "node:fs";
import { readFile, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { AuthorizationV1Api, KubeConfig } from "@kubernetes/client-node";
import {
  namespaceArgs,
  runnerServiceAccountArgs,
  type SchedulerSecrets,
  type SchedulerSettings,
  schedulerConfigMapArgs,
  schedulerSecretArgs,
  schedulerSecretData,
  spawnerRoleArgs,
  spawnerRoleBindingArgs,
  spawnerServiceAccountArgs,
} from "../../../infra/cluster/specs.js";
import { jobNameFor, K8S } from "../../../services/contracts/names.js";
import { newId } from "../../../services/core/ids.js";
import { afterFile } from "../../helpers/after-file.js";
import { scaled, until } from "../../helpers/wait.js";
import { ADMIN_KUBECONFIG, KUBE_TOOLS_DIR, KUBECTL } from "../engines.js";

/**
 * The real control plane as a test file uses it: kubectl as admin, a namespace of the file's own with
 * PodSecurity "restricted" enforced (deleted when the file ends), the hybrid stack's objects in it built by
 * the same functions the Pulumi program uses (infra/cluster/specs.ts), and the job-spawner
 * ServiceAccount's own token (TokenRequest), so RBAC judges every call the spawner makes.
 */

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** kubectl as admin (system:masters); rejects with its stderr when it fails. */
export async function kubectl(args: readonly string[], input?: string): Promise<KubectlResult> {
  const child = spawn(KUBECTL, ["--kubeconfig", ADMIN_KUBECONFIG, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdin.end(input ?? "");
  const [code] = await once(child, "close");
  if (code !== 0) {
    throw Object.assign(new Error(`kubectl ${args.join(" ")} failed (${code}): ${stderr.trim()}`), {
      stdout,
      stderr,
    });
  }
  return { stdout, stderr };
}

/** A Kubernetes object from the args of a Pulumi resource: the same fields, plus apiVersion and kind. */
export function manifest(apiVersion: string, kind: string, args: object): Record<string, unknown> {
  // Through JSON: Pulumi args may carry undefined fields, which a manifest leaves out.
  return JSON.parse(JSON.stringify({ apiVersion, kind, ...args }));
}

/**
 * Server-side apply with strict field validation, as the stack's provider applies (enableServerSideApply):
 * one object per request, so the server judges each (kubectl checks a List on the client instead).
 * Resolves what the server returned, and kubectl's warnings (stderr).
 */
export async function applyObjects(
  objects: readonly object[],
  options: { dryRun?: boolean } = {},
): Promise<{ applied: Record<string, unknown>[]; warnings: string }> {
  const applied: Record<string, unknown>[] = [];
  let warnings = "";
  for (const object of objects) {
    const { stdout, stderr } = await kubectl(
      [
        "apply",
        "--server-side",
        "--field-manager=kh-real-tier",
        "--validate=strict",
        ...(options.dryRun ? ["--dry-run=server"] : []),
        "-o",
        "json",
        "-f",
        "-",
      ],
      JSON.stringify(object),
    );
    applied.push(JSON.parse(stdout));
    warnings += stderr;
  }
  return { applied, warnings };
}

/** A namespace for the calling test file, as the stack declares it (PodSecurity "restricted"); deleted after it. */
export async function createTestNamespace(): Promise<string> {
  const name = `kh-test-${newId().slice(0, 10)}`;
  await applyObjects([manifest("v1", "Namespace", namespaceArgs(name))]);
  afterFile(async () => {
    await kubectl(["delete", "namespace", name, "--ignore-not-found", "--wait=false"]);
  });
  return name;
}

export interface StackObjectsInput {
  readonly namespace: string;
  readonly settings: Omit<SchedulerSettings, "namespace">;
  readonly secrets: SchedulerSecrets;
}

/**
 * The hybrid stack's objects in the namespace (infra/cluster/scheduler.ts): ConfigMap, Secret, the
 * spawner's ServiceAccount, Role and RoleBinding, the runner's ServiceAccount.
 */
export function stackObjects(input: StackObjectsInput): Record<string, unknown>[] {
  const { namespace } = input;
  const metadata = (name: string) => ({ name, namespace });
  return [
    manifest(
      "v1",
      "ConfigMap",
      schedulerConfigMapArgs(metadata(K8S.configMap), { ...input.settings, namespace }),
    ),
    manifest("v1", "Secret", schedulerSecretArgs(metadata(K8S.secret), schedulerSecretData(input.secrets))),
    manifest("v1", "ServiceAccount", spawnerServiceAccountArgs(metadata(K8S.spawnerServiceAccount))),
    manifest("rbac.authorization.k8s.io/v1", "Role", spawnerRoleArgs(metadata(K8S.spawnerRole))),
    manifest(
      "rbac.authorization.k8s.io/v1",
      "RoleBinding",
      spawnerRoleBindingArgs(metadata(K8S.spawnerRoleBinding), {
        roleName: K8S.spawnerRole,
        serviceAccountName: K8S.spawnerServiceAccount,
        namespace,
      }),
    ),
    manifest("v1", "ServiceAccount", runnerServiceAccountArgs(metadata(K8S.runnerServiceAccount))),
  ];
}

/** A short-lived token of the job-spawner ServiceAccount (TokenRequest, as the kubelet asks for a pod's). */
export async function spawnerToken(namespace: string): Promise<string> {
  const { stdout } = await kubectl([
    "-n",
    namespace,
    "create",
    "token",
    K8S.spawnerServiceAccount,
    "--duration=2h",
  ]);
  return stdout.trim();
}

/** A KubeConfig for the control plane that authenticates with `token` only (no client certificate). */
export function tokenKubeConfig(token: string, namespace: string): KubeConfig {
  const admin = new KubeConfig();
  admin.loadFromFile(ADMIN_KUBECONFIG);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error(`no current cluster in ${ADMIN_KUBECONFIG}`);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "kube-tools", server: cluster.server, caData: cluster.caData }],
    users: [{ name: K8S.spawnerServiceAccount, token }],
    contexts: [{ name: "spawner", cluster: "kube-tools", user: K8S.spawnerServiceAccount, namespace }],
    currentContext: "spawner",
  });
  return kc;
}

/** The same as a kubeconfig file, for a khctl process. */
export async function writeKubeconfig(file: string, kc: KubeConfig): Promise<string> {
  await writeFile(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

/** Whether `kc`'s user may do `verb` on `resource` in `namespace` (SelfSubjectAccessReview). */
export async function canI(
  kc: KubeConfig,
  access: { namespace: string; group: string; resource: string; verb: string; subresource?: string },
): Promise<boolean> {
  const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: access },
    },
  });
  return review.status?.allowed === true;
}

/** Deletes an execution's runner Job as a user would (`kubectl delete job`), without waiting for it to go. */
export async function deleteRunnerJob(namespace: string, executionId: string): Promise<void> {
  await kubectl(["-n", namespace, "delete", "job", jobNameFor(executionId), "--wait=false"]);
}

/** Labels and state of a Job, as admin; undefined when it does not exist. */
export async function getJob(namespace: string, name: string): Promise<JobJson | undefined> {
  const { stdout } = await kubectl(["-n", namespace, "get", "job", name, "--ignore-not-found", "-o", "json"]);
  return stdout.trim() ? (JSON.parse(stdout) as JobJson) : undefined;
}

export interface JobJson {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: Record<string, unknown>;
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** The reason of the Job's true condition of `type` (Complete, Failed), or undefined. */
export const jobCondition = (job: JobJson | undefined, type: string) =>
  job?.status?.conditions?.find((condition) => condition.type === type && condition.status === "True");

/** Resolves the Job once its condition `type` (Complete, Failed) is true. */
export function jobReaches(
  namespace: string,
  name: string,
  type: string,
  timeoutMs = 60_000,
): Promise<JobJson> {
  return until(
    `Job ${name} ${type}`,
    async () => {
      const job = await getJob(namespace, name);
      return jobCondition(job, type) ? job : undefined;
    },
    timeoutMs,
  );
}

// --- the API server, stopped and started again ------------------------------------------------------------

const PIDS = path.join(KUBE_TOOLS_DIR, "run", "pids");
const APISERVER_LOG = path.join(KUBE_TOOLS_DIR, "run", "logs", "kube-apiserver.log");

async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the kube-apiserver (by the PID up.sh recorded; SIGKILL if it has not exited after 10 s) and
 * resolves a function that starts it again exactly as up.sh did (the same command line, in its own
 * session, its PID recorded for down.sh) and waits until it is ready. Only the apiserver: etcd, the
 * controllers and kwok keep running and reconnect, as they would after an apiserver restart.
 */
export async function stopApiServer(): Promise<() => Promise<void>> {
  const pidFile = path.join(PIDS, "kube-apiserver");
  const pid = Number((await readFile(pidFile, "utf8")).trim());
  const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
  const cwd = await readlink(`/proc/${pid}/cwd`);
  process.kill(pid, "SIGTERM");
  // Its graceful shutdown can take 40 s; down.sh gives it 10.
  const killer = setTimeout(() => process.kill(pid, "SIGKILL"), scaled(10_000));
  await until("the kube-apiserver exiting", async () => !(await alive(pid)), 60_000).finally(() =>
    clearTimeout(killer),
  );
  let started = false;
  return async () => {
    if (started) return;
    started = true;
    const out = openSync(APISERVER_LOG, "a");
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd,
      detached: true,
      stdio: ["ignore", out, out],
    });
    closeSync(out);
    child.unref();
    await writeFile(pidFile, `${child.pid}\n`);
    await until(
      "the kube-apiserver ready again",
      () =>
        kubectl(["get", "--raw", "/readyz"]).then(
          () => true,
          () => false,
        ),
      120_000,
    );
  };
}
