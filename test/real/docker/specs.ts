import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { V1Container, V1EnvVar, V1Job, V1PodSecurityContext } from "@kubernetes/client-node";
import { type ContainerSpec, SECRET_FILE_MODE, type SecretFile } from "../../../infra/containers.js";
import { scaled } from "../../helpers/wait.js";
import { DOCKER } from "../engines.js";
import { docker } from "./docker.js";

/**
 * The stacks' declarations as `docker run` arguments, so the tier runs exactly what the program declares
 * (infra/containers.ts, infra/local-services.ts) and what the spawner creates (the Job template), never a
 * restatement of it. Pure, but for runSpec, which runs them.
 */

export interface SpecRunOptions {
  /** The container's own name (the spec's name is kept as its alias on the network). */
  readonly name: string;
  readonly image: string;
  readonly network: string;
  /** More `--label` flags: the file's, and the stack label. */
  readonly labels: readonly string[];
  /** The named volume mounted at the spec's dataPath. */
  readonly volume?: string;
  /** Publishes the spec's port on this host address: "127.0.0.1:<port>", or "127.0.0.1:" for any port. */
  readonly publish?: string;
}

/**
 * `docker run --detach` arguments that start a container as the program declares it (`create`: the same
 * container, created and not started, for runSpec to put its secret files in first).
 */
export function specRunArgs(
  spec: ContainerSpec,
  options: SpecRunOptions,
  verb: "run" | "create" = "run",
): string[] {
  if (verb === "run" && spec.secretFiles?.length) {
    throw new Error(`${spec.name} has secret files: start it with runSpec, which writes them first`);
  }
  const args = [
    ...(verb === "run" ? ["run", "--detach"] : ["create"]),
    "--name",
    options.name,
    ...options.labels,
  ];
  args.push("--network", options.network, "--network-alias", spec.name, "--restart", spec.restart);
  for (const { name, value } of spec.env) args.push("--env", `${name}=${value}`);
  if (spec.healthcheck) {
    const check = spec.healthcheck;
    args.push("--health-cmd", check.tests[1], "--health-interval", check.interval);
    args.push("--health-timeout", check.timeout, "--health-retries", String(check.retries));
    args.push("--health-start-period", check.startPeriod);
  }
  if (spec.stopSignal) args.push("--stop-signal", spec.stopSignal);
  if (spec.stopTimeoutSeconds !== undefined) args.push("--stop-timeout", String(spec.stopTimeoutSeconds));
  if (spec.dataPath) {
    if (!options.volume) throw new Error(`${spec.name} keeps data in ${spec.dataPath}: give it a volume`);
    args.push("--mount", `type=volume,src=${options.volume},dst=${spec.dataPath}`);
  }
  if (options.publish !== undefined) {
    if (spec.port === undefined) throw new Error(`${spec.name} serves no port to publish`);
    args.push("--publish", `${options.publish}:${spec.port}`);
  }
  return [...args, options.image, ...(spec.command ?? [])];
}

/**
 * Starts a container as the program declares it, secret files included: created, each file copied in as
 * the docker provider's uploads do before the first start (a tar with the file's owner and mode 0400, which
 * Docker extracts with the tar's own ownership; `-a` would look the container's user up instead), then
 * started.
 */
export async function runSpec(spec: ContainerSpec, options: SpecRunOptions): Promise<void> {
  if (!spec.secretFiles?.length) {
    await docker(specRunArgs(spec, options));
    return;
  }
  await docker(specRunArgs(spec, options, "create"));
  for (const file of spec.secretFiles) await copySecretFile(options.name, file);
  await docker(["start", options.name]);
}

/** One secret file into a created container, owned by its owner, mode 0400 (GNU tar sets both). */
async function copySecretFile(container: string, file: SecretFile): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "kh-secret-file-"));
  try {
    const relative = file.path.replace(/^\//, "");
    await mkdir(path.join(dir, path.dirname(relative)), { recursive: true });
    await writeFile(path.join(dir, relative), file.value);
    const owner = String(file.owner);
    const tar = `tar -c --numeric-owner --owner=${owner} --group=${owner} --mode=${SECRET_FILE_MODE} -C '${dir}' '${relative}'`;
    await promisify(execFile)("sh", ["-c", `${tar} | '${DOCKER}' cp - '${container}:/'`], {
      timeout: scaled(60_000),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The data a kubelet reads env from: ConfigMaps and Secrets by name, each key to its value. */
export interface EnvSources {
  readonly configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface JobRunOptions {
  readonly name: string;
  readonly network: string;
  readonly labels: readonly string[];
  /** The Docker volume that backs each emptyDir volume of the pod, by the pod's volume name. */
  readonly emptyDirs: Readonly<Record<string, string>>;
}

/** What a kubelet gives a container as its environment: envFrom first, then env (env wins). */
export function resolveContainerEnv(container: V1Container, sources: EnvSources): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const configMap = from.configMapRef?.name;
    const secret = from.secretRef?.name;
    const source = configMap ? sources.configMaps[configMap] : secret ? sources.secrets[secret] : undefined;
    if (!source) throw new Error(`envFrom ${JSON.stringify(from)} names nothing this test provides`);
    Object.assign(env, source);
  }
  for (const entry of container.env ?? []) env[entry.name] = envValue(entry, sources);
  return env;
}

function envValue(entry: V1EnvVar, sources: EnvSources): string {
  if (entry.value !== undefined) return entry.value;
  const secret = entry.valueFrom?.secretKeyRef;
  const config = entry.valueFrom?.configMapKeyRef;
  const ref = secret ?? config;
  const data = secret?.name
    ? sources.secrets[secret.name]
    : config?.name
      ? sources.configMaps[config.name]
      : undefined;
  const value = ref && data?.[ref.key];
  // A kubelet refuses to start the container (CreateContainerConfigError); so does this.
  if (value === undefined) throw new Error(`env ${entry.name}: ${JSON.stringify(entry.valueFrom)} not found`);
  return value;
}

/** Docker's memory units for Kubernetes quantities (binary suffixes). */
function memory(quantity: string): string {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!match) throw new Error(`memory quantity ${quantity} is not translated`);
  return `${match[1]}${{ Ki: "k", Mi: "m", Gi: "g" }[match[2] ?? ""] ?? "b"}`;
}

function cpus(quantity: string): string {
  return quantity.endsWith("m") ? String(Number(quantity.slice(0, -1)) / 1000) : quantity;
}

/** Fields of the security contexts translated below; any other one fails, rather than be dropped unseen. */
const POD_SECURITY = new Set(["runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile"]);
const CONTAINER_SECURITY = new Set([
  "allowPrivilegeEscalation",
  "privileged",
  "readOnlyRootFilesystem",
  "runAsNonRoot",
  "runAsUser",
  "runAsGroup",
  "capabilities",
  "seccompProfile",
]);

function unknownKeys(object: object | undefined, known: Set<string>): string[] {
  return Object.keys(object ?? {}).filter((key) => !known.has(key));
}

/**
 * `docker run --detach` arguments that run a Job's only container as a kubelet would: its user and group,
 * read-only root filesystem, dropped capabilities, no privilege escalation, RuntimeDefault seccomp (Docker's
 * default), its emptyDir volumes, limits, and the env resolved from ConfigMaps and Secrets.
 */
export function jobRunArgs(job: V1Job, sources: EnvSources, options: JobRunOptions): string[] {
  const pod = job.spec?.template.spec;
  const container = pod?.containers[0];
  if (!pod || !container || pod.containers.length !== 1) throw new Error("expected one container");
  const podSecurity: V1PodSecurityContext = pod.securityContext ?? {};
  const security = container.securityContext ?? {};
  const unknown = [
    ...unknownKeys(podSecurity, POD_SECURITY).map((k) => `pod securityContext.${k}`),
    ...unknownKeys(security, CONTAINER_SECURITY).map((k) => `container securityContext.${k}`),
  ];
  if (unknown.length > 0) throw new Error(`not translated to docker run: ${unknown.join(", ")}`);
  for (const profile of [podSecurity.seccompProfile, security.seccompProfile]) {
    if (profile && profile.type !== "RuntimeDefault") throw new Error(`seccomp ${profile.type}`);
  }
  const uid = security.runAsUser ?? podSecurity.runAsUser;
  const gid = security.runAsGroup ?? podSecurity.runAsGroup;
  // runAsNonRoot: the kubelet refuses a container whose (numeric) user is root or unknown.
  if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) && !uid)
    throw new Error("runAsNonRoot without a uid");

  const args = ["run", "--detach", "--name", options.name, ...options.labels, "--network", options.network];
  if (uid !== undefined) args.push("--user", gid !== undefined ? `${uid}:${gid}` : String(uid));
  if (security.readOnlyRootFilesystem) args.push("--read-only");
  if (security.allowPrivilegeEscalation === false) args.push("--security-opt", "no-new-privileges");
  if (security.privileged) args.push("--privileged");
  for (const cap of security.capabilities?.drop ?? []) args.push("--cap-drop", cap);
  for (const cap of security.capabilities?.add ?? []) args.push("--cap-add", cap);
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const backing = options.emptyDirs[mount.name];
    if (!volume?.emptyDir || !backing) throw new Error(`volume ${mount.name}: only emptyDir is translated`);
    args.push("--mount", `type=volume,src=${backing},dst=${mount.mountPath}`);
  }
  const limits = container.resources?.limits;
  if (limits?.memory) args.push("--memory", memory(limits.memory));
  if (limits?.cpu) args.push("--cpus", cpus(limits.cpu));
  for (const [name, value] of Object.entries(resolveContainerEnv(container, sources))) {
    args.push("--env", `${name}=${value}`);
  }
  // restartPolicy Never: Docker's default (no restart).
  if (container.command) args.push("--entrypoint", container.command[0] as string);
  if (!container.image) throw new Error("the container names no image");
  return [...args, container.image, ...(container.command?.slice(1) ?? []), ...(container.args ?? [])];
}
