import type { V1Container, V1EnvVar, V1Job, V1ResourceRequirements } from "@kubernetes/client-node";
import type { KubernetesConfig } from "../core/config.js";
import { ENV, ID_PATTERN, jobNameFor, K8S, LABELS, RUNNER_APP_LABEL, SECRET_ENV } from "./names.js";

/**
 * The runner Job: one per execution, built by a pure function so the spawner creates it and the Pulumi
 * program and the tests can inspect it. Type-only imports keep this module free of runtime dependencies
 * beyond names.ts, so infra/ can import it cheaply.
 */

/** The runner container's name (khctl logs reads this container). */
export const RUNNER_CONTAINER = "runner";

/**
 * The uid/gid the runner runs as. Numeric on purpose: with `runAsNonRoot` the kubelet can only verify a
 * numeric user, and 1000 is the `node` user of the official Node images the runner image is built from.
 */
export const RUNNER_UID = 1000;

/**
 * Seconds a runner pod gets between SIGTERM (its Job deleted, its deadline passed) and SIGKILL: the runner
 * aborts its steps and records the execution as cancelled in that time.
 */
export const RUNNER_TERMINATION_GRACE_SECONDS = 30;

/** Where the runner may write (an emptyDir), since its root filesystem is read-only. */
export const RUNNER_TMP_PATH = "/tmp";

/**
 * The objects a runner Job references by name. The hybrid stack must create each of them in the
 * namespace (infra tests check this), or the runner pod cannot start.
 */
export const RUNNER_JOB_REFERENCES = {
  serviceAccount: K8S.runnerServiceAccount,
  /** Holds the secret env vars; each key is the env var's name (see SECRET_ENV). */
  secret: K8S.secret,
  secretKeys: SECRET_ENV,
  /** Non-secret settings (AWS endpoint, queue URL, LOG_LEVEL, ...), passed whole with envFrom. */
  configMap: K8S.configMap,
} as const;

/** Requests and limits of the runner container unless the caller gives its own. */
export const DEFAULT_RUNNER_RESOURCES: Readonly<V1ResourceRequirements> = Object.freeze({
  requests: { cpu: "100m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "512Mi" },
});

export interface JobTemplateInput {
  /** 21-character [0-9a-z] id; the Job is named `wf-<executionId>`. */
  readonly executionId: string;
  readonly workflowId: string;
  /** Set for scheduled runs; manual runs have none (and no schedule-id label). */
  readonly scheduleId?: string | null;
  readonly config: Pick<
    KubernetesConfig,
    "namespace" | "runnerImage" | "jobTtlSeconds" | "jobActiveDeadlineSeconds"
  >;
  /** Container requests and limits. Default DEFAULT_RUNNER_RESOURCES. */
  readonly resources?: V1ResourceRequirements;
  /** Nodes the runner pod may run on (the pod's nodeSelector). Default: any node. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

/** How a spawner sizes and places its runner pods; unset fields keep the template's defaults. */
export type RunnerPodOptions = Pick<JobTemplateInput, "resources" | "nodeSelector">;

/** An input that can never make a valid Job (bad id or label value). Retrying will not help. */
export class JobTemplateError extends Error {
  override name = "JobTemplateError";
}

// Kubernetes label values: at most 63 characters, alphanumeric at both ends, `-_.` inside.
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelValue(field: string, value: string): string {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw new JobTemplateError(`${field} "${value}" is not a valid Kubernetes label value`);
  }
  return value;
}

// Label keys: an optional DNS-subdomain prefix and `/`, then a name like a value's, at most 63 characters.
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * A nodeSelector from `key=value,key=value` (RUNNER_NODE_SELECTOR): label keys and values as Kubernetes
 * takes them. Throws JobTemplateError naming the first pair that is not one.
 */
export function parseNodeSelector(text: string): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const pair of text.split(",").map((part) => part.trim())) {
    const [key = "", value, ...rest] = pair.split("=");
    if (value === undefined || rest.length > 0 || !LABEL_KEY.test(key)) {
      throw new JobTemplateError(`"${pair}" is not a key=value pair (kubernetes.io/hostname=node-1)`);
    }
    selector[key] = labelValue(key, value);
  }
  return selector;
}

/** `key=value,key=value`: RUNNER_NODE_SELECTOR as parseNodeSelector reads it. */
export function formatNodeSelector(selector: Readonly<Record<string, string>>): string {
  return Object.entries(selector)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** The labels of a runner Job and its pod; `app=workflow-runner` selects them all. */
export function runnerLabels(input: Pick<JobTemplateInput, "executionId" | "workflowId" | "scheduleId">): {
  [key: string]: string;
} {
  return {
    [LABELS.app]: RUNNER_APP_LABEL,
    [LABELS.executionId]: labelValue("executionId", input.executionId),
    [LABELS.workflowId]: labelValue("workflowId", input.workflowId),
    ...(input.scheduleId ? { [LABELS.scheduleId]: labelValue("scheduleId", input.scheduleId) } : {}),
  };
}

/** Label selector for every runner Job or pod, or the one of an execution. */
export function runnerSelector(executionId?: string): string {
  const app = `${LABELS.app}=${RUNNER_APP_LABEL}`;
  return executionId ? `${app},${LABELS.executionId}=${executionId}` : app;
}

/** Builds the batch/v1 Job that runs `khctl run <executionId>`. Pure; throws JobTemplateError on bad ids. */
export function buildJobTemplate(input: JobTemplateInput): V1Job {
  if (!ID_PATTERN.test(input.executionId)) {
    throw new JobTemplateError(`executionId "${input.executionId}" is not a 21-character [0-9a-z] id`);
  }
  const { config } = input;
  const labels = runnerLabels(input);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobNameFor(input.executionId), namespace: config.namespace, labels },
    spec: {
      // One attempt: a retry would run the workflow's side effects twice; the runner records the outcome.
      backoffLimit: 0,
      podFailurePolicy: runnerPodFailurePolicy(),
      activeDeadlineSeconds: config.jobActiveDeadlineSeconds,
      ttlSecondsAfterFinished: config.jobTtlSeconds,
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: K8S.runnerServiceAccount,
          // The runner never talks to the Kubernetes API.
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: RUNNER_TERMINATION_GRACE_SECONDS,
          // Service links would add an env var per Service in the namespace.
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUNNER_UID,
            runAsGroup: RUNNER_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(input.nodeSelector ? { nodeSelector: { ...input.nodeSelector } } : {}),
          volumes: [{ name: "tmp", emptyDir: {} }],
          containers: [runnerContainer(input)],
        },
      },
    },
  };
}

/**
 * Every way a runner pod can fail ends the Job at once: a non-zero exit of the runner and a disruption
 * (eviction, preemption, a drained node) alike. backoffLimit 0 already allows no second pod; the policy
 * says so per cause and keeps a disruption from being retried should the limit ever be raised: the runner
 * (or the spawner's reconciler) records the end, Kubernetes never runs a workflow's side effects twice.
 */
export function runnerPodFailurePolicy(): NonNullable<NonNullable<V1Job["spec"]>["podFailurePolicy"]> {
  return {
    rules: [
      { action: "FailJob", onExitCodes: { containerName: RUNNER_CONTAINER, operator: "NotIn", values: [0] } },
      { action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
    ],
  };
}

/** The runner's container: `khctl run <id>`, secrets by reference, nothing writable but /tmp. */
function runnerContainer(input: JobTemplateInput): V1Container {
  return {
    name: RUNNER_CONTAINER,
    image: input.config.runnerImage,
    // Images are tagged by content hash, so a present image is the right one.
    imagePullPolicy: "IfNotPresent",
    args: ["run", input.executionId],
    env: runnerEnv(input),
    envFrom: [{ configMapRef: { name: K8S.configMap } }],
    resources: input.resources ?? {
      requests: { ...DEFAULT_RUNNER_RESOURCES.requests },
      limits: { ...DEFAULT_RUNNER_RESOURCES.limits },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [{ name: "tmp", mountPath: RUNNER_TMP_PATH }],
  };
}

/** The Secret's keys by reference (never a value in the spec), and the run's ids. */
function runnerEnv(input: JobTemplateInput): V1EnvVar[] {
  const secretEnv = SECRET_ENV.map((name) => ({
    name,
    valueFrom: { secretKeyRef: { name: K8S.secret, key: name } },
  }));
  // Ids are not secrets; the runner also accepts them from env, as the original runner did.
  return [
    ...secretEnv,
    { name: ENV.executionId, value: input.executionId },
    { name: ENV.workflowId, value: input.workflowId },
    ...(input.scheduleId ? [{ name: ENV.scheduleId, value: input.scheduleId }] : []),
  ];
}
