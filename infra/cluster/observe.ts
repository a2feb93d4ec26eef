import { K8S } from "../../services/contracts/names.js";
import type { Seen } from "../drift.js";
import { runOnHost, shellQuote } from "../khctl.js";

/**
 * What the program reads of minikube on every preview and update (hybrid only), so that `pulumi up`
 * heals a stopped or deleted minikube, images missing from it, and objects deleted from the cluster.
 */
export interface ClusterObservation {
  /** running (host and API server), stopped (exists, not running), absent (never created, or deleted). */
  readonly minikube: "running" | "stopped" | "absent";
  /** Images in minikube's container runtime (`name:tag`); undefined when they could not be listed. */
  readonly images?: readonly string[];
  /** The stack's objects present in the cluster (`kind/name`); undefined when they could not be listed. */
  readonly objects?: readonly string[];
}

/** The exit status of `minikube status` for a profile that does not exist. */
export const MINIKUBE_PROFILE_NOT_FOUND = 85;

/** The stack's objects in the cluster, as `kubectl get -o name` prints them (and accepts them). */
export function clusterObjectRefs(namespace: string) {
  return {
    namespace: `namespace/${namespace}`,
    configMap: `configmap/${K8S.configMap}`,
    secret: `secret/${K8S.secret}`,
    spawnerAccount: `serviceaccount/${K8S.spawnerServiceAccount}`,
    spawnerRole: `role.rbac.authorization.k8s.io/${K8S.spawnerRole}`,
    spawnerBinding: `rolebinding.rbac.authorization.k8s.io/${K8S.spawnerRoleBinding}`,
    runnerAccount: `serviceaccount/${K8S.runnerServiceAccount}`,
    spawner: `deployment.apps/${K8S.spawnerDeployment}`,
    dispatcher: `cronjob.batch/${K8S.dispatcherCronJob}`,
  } as const;
}
export type ClusterObject = keyof ReturnType<typeof clusterObjectRefs>;

export interface ObserveArgs {
  /** minikube profile. */
  readonly profile: string;
  /** kubeconfig context of the cluster. */
  readonly context: string;
  readonly namespace: string;
}

/** `minikube -p <profile> <args>`. */
export const minikube = (profile: string, args: string) => `minikube -p ${shellQuote(profile)} ${args}`;

/** `kubectl` when installed, else the one minikube bundles, as a shell function `k`. */
export function kubectlFunction(profile: string): string {
  return `if command -v kubectl >/dev/null 2>&1; then k() { kubectl "$@"; }; else k() { ${minikube(profile, "kubectl --")} "$@"; }; fi`;
}

/**
 * A read-only script that prints, one fact a line: `minikube <exit status> <Host>/<APIServer>`, then
 * (only when it runs) `image <ref>` lines and `images listed`, `object <kind/name>` lines and `objects
 * listed`. A listing that fails prints no `listed` line, so nothing is taken for missing by mistake.
 */
export function observeScript(args: ObserveArgs): string {
  const objects = Object.values(clusterObjectRefs(args.namespace)).map(shellQuote).join(" ");
  const get = `k --context ${shellQuote(args.context)} -n ${shellQuote(args.namespace)} get ${objects} --ignore-not-found -o name`;
  return [
    `state=$(${minikube(args.profile, "status --format '{{.Host}}/{{.APIServer}}' 2>/dev/null")}); echo "minikube $? $state"`,
    `[ "$state" = "Running/Running" ] || exit 0`,
    `if images=$(${minikube(args.profile, "image ls 2>/dev/null")}); then printf '%s\\n' "$images" | sed 's/^/image /'; echo "images listed"; fi`,
    kubectlFunction(args.profile),
    `if objects=$(${get} 2>/dev/null); then printf '%s\\n' "$objects" | sed 's/^/object /'; echo "objects listed"; fi`,
    "exit 0",
  ].join("\n");
}

/** minikube lists images with their registry (docker.io/library/x:t); the stack names them x:t. */
export function normalizeImage(ref: string): string {
  return ref.replace(/^docker\.io\/(library\/)?/, "");
}

/** Reads observeScript's output. Pure. */
export function parseObservation(stdout: string): ClusterObservation {
  const lines = stdout.split("\n").map((line) => line.trim());
  const [, code, state = ""] =
    /^minikube (\d+) ?(.*)$/.exec(lines.find((l) => l.startsWith("minikube ")) ?? "") ?? [];
  const minikube =
    state === "Running/Running"
      ? "running"
      : Number(code) === MINIKUBE_PROFILE_NOT_FOUND || /Nonexistent/.test(state)
        ? "absent"
        : "stopped";
  const values = (prefix: string) =>
    lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim());
  return {
    minikube,
    ...(lines.includes("images listed") ? { images: values("image ").map(normalizeImage) } : {}),
    ...(lines.includes("objects listed") ? { objects: values("object ") } : {}),
  };
}

/** Runs observeScript on this machine (an invoke: every preview and update). */
export async function observeCluster(args: ObserveArgs): Promise<ClusterObservation> {
  return parseObservation((await runOnHost(observeScript(args))).stdout);
}

/** Whether minikube runs: a stopped or deleted one is started again. */
export function seenMinikube(observed: ClusterObservation): Seen {
  return observed.minikube === "running" ? "present" : "missing";
}

/**
 * Whether an image is loaded. A deleted minikube has none; a stopped one keeps them but cannot be asked
 * (unknown: left as is, and looked at again on the next run).
 */
export function seenImage(observed: ClusterObservation, ref: string): Seen {
  return seenIn(observed, observed.images, ref);
}

/** Whether an object exists; like images, unknown for a stopped minikube. */
export function seenObject(observed: ClusterObservation, ref: string): Seen {
  return seenIn(observed, observed.objects, ref);
}

function seenIn(observed: ClusterObservation, listed: readonly string[] | undefined, ref: string): Seen {
  if (observed.minikube === "absent") return "missing";
  if (observed.minikube === "stopped" || listed === undefined) return "unknown";
  return listed.includes(ref) ? "present" : "missing";
}
