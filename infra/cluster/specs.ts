import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import {
  DISPATCHER_APP_LABEL,
  DISPATCHER_SCHEDULE,
  ENV,
  K8S,
  LABELS,
  SECRET_ENV,
  SPAWNER_APP_LABEL,
} from "../../services/contracts/names.js";

type Input<T> = pulumi.Input<T>;
type Container = k8s.types.input.core.v1.Container;
type EnvVar = k8s.types.input.core.v1.EnvVar;

/** The uid of the `node` user in the service images (numeric, so runAsNonRoot can be verified). */
export const SERVICE_UID = 1000;

/** Where the job-spawner serves its probes. */
export interface SpawnerProbes {
  readonly port: number;
  readonly livenessPath: string;
  readonly readinessPath: string;
}

/** The Secret's keys besides SECRET_ENV: LocalStack's (dummy) credentials, kept out of the ConfigMap anyway. */
export const AWS_CREDENTIAL_ENV = [ENV.awsAccessKeyId, ENV.awsSecretAccessKey] as const;

export interface SchedulerSettings {
  /** SQS endpoint from pods (http://host.minikube.internal:4566). */
  readonly awsEndpointUrl: string;
  readonly awsRegion: string;
  readonly queueUrl: Input<string>;
  readonly namespace: string;
  readonly jobTtlSeconds: number;
  readonly jobActiveDeadlineSeconds: number;
  readonly maxConcurrentJobs: number;
  readonly logLevel: string;
}

/** ConfigMap `scheduler-env`: every non-secret setting, passed whole with envFrom (the runner Jobs use it too). */
export function schedulerConfigData(settings: SchedulerSettings): Record<string, Input<string>> {
  return {
    [ENV.awsEndpointUrl]: settings.awsEndpointUrl,
    [ENV.awsRegion]: settings.awsRegion,
    [ENV.sqsQueueUrl]: settings.queueUrl,
    [ENV.k8sNamespace]: settings.namespace,
    [ENV.jobTtlSeconds]: String(settings.jobTtlSeconds),
    [ENV.jobActiveDeadline]: String(settings.jobActiveDeadlineSeconds),
    [ENV.maxConcurrentJobs]: String(settings.maxConcurrentJobs),
    [ENV.logLevel]: settings.logLevel,
  };
}

/** Env entries that read each secret key from Secret `keeperhub-secrets`: never a literal value. */
export function secretEnv(keys: readonly string[] = [...SECRET_ENV, ...AWS_CREDENTIAL_ENV]): EnvVar[] {
  return keys.map((name) => ({ name, valueFrom: { secretKeyRef: { name: K8S.secret, key: name } } }));
}

/**
 * The spawner's permissions, and nothing more: create and follow runner Jobs, clean them up, and read
 * their pods and logs to report failures.
 */
export function spawnerRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
  return [
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list"] },
  ];
}

/** Hardened container settings shared by the spawner and the dispatcher. */
export function containerSecurityContext(): k8s.types.input.core.v1.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: SERVICE_UID,
    runAsGroup: SERVICE_UID,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

function serviceContainer(name: string, image: Input<string>, args: string[], extraEnv: EnvVar[]): Container {
  return {
    name,
    image,
    // Images are loaded into minikube by content tag and never pulled from a registry.
    imagePullPolicy: "Never",
    args,
    envFrom: [{ configMapRef: { name: K8S.configMap } }],
    env: [...secretEnv(), ...extraEnv],
    // A container that exits with an error reports its last log lines as its status, which Pulumi shows.
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

/** The pod annotation that carries the hash of the ConfigMap and the Secret the pods read. */
export const CONFIG_HASH_ANNOTATION = "keeperhub.io/config-hash";

/**
 * Seconds the spawner's rollout may go without progress before Kubernetes marks it failed (and Pulumi
 * stops waiting, with the pods' errors), instead of Kubernetes' 600 s default.
 */
export const SPAWNER_PROGRESS_DEADLINE_SECONDS = 90;

export interface SpawnerDeploymentInput {
  readonly namespace: Input<string>;
  /** Metadata annotations of the Deployment itself (its restore token). */
  readonly annotations?: Record<string, string>;
  /** keeperhub-scheduler:<tag>. */
  readonly image: Input<string>;
  /** keeperhub-runner:<tag>, given to the spawner as RUNNER_IMAGE; a new tag rolls the Deployment. */
  readonly runnerImage: Input<string>;
  readonly probes: SpawnerProbes;
  /**
   * A hash of ConfigMap `scheduler-env` and Secret `keeperhub-secrets`: env is read at pod start, so a
   * change to either must roll the pods.
   */
  readonly configHash: Input<string>;
}

/** Deployment `job-spawner` (`khctl spawner`): one replica, probes, resources, non-root. */
export function spawnerDeploymentArgs(input: SpawnerDeploymentInput): k8s.apps.v1.DeploymentArgs {
  const labels = { [LABELS.app]: SPAWNER_APP_LABEL };
  const container = serviceContainer(
    "spawner",
    input.image,
    ["spawner"],
    [{ name: ENV.runnerImage, value: input.runnerImage }],
  );
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return {
    metadata: {
      name: K8S.spawnerDeployment,
      namespace: input.namespace,
      labels,
      annotations: input.annotations,
    },
    spec: {
      replicas: 1,
      progressDeadlineSeconds: SPAWNER_PROGRESS_DEADLINE_SECONDS,
      selector: { matchLabels: labels },
      // One consumer at a time keeps MAX_CONCURRENT_JOBS meaningful during a rollout.
      strategy: { type: "Recreate" },
      template: {
        metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: input.configHash } },
        spec: {
          serviceAccountName: K8S.spawnerServiceAccount,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          volumes: [{ name: "tmp", emptyDir: {} }],
          containers: [
            {
              ...container,
              ports: [{ name: "http", containerPort: input.probes.port }],
              livenessProbe: { ...probe(input.probes.livenessPath, 10), initialDelaySeconds: 5 },
              readinessProbe: probe(input.probes.readinessPath, 5),
              resources: {
                requests: { cpu: "50m", memory: "128Mi" },
                limits: { cpu: "500m", memory: "256Mi" },
              },
            },
          ],
        },
      },
    },
  };
}

export interface DispatcherCronJobInput {
  readonly namespace: Input<string>;
  /** Metadata annotations of the CronJob itself (its restore token). */
  readonly annotations?: Record<string, string>;
  /** Like the spawner's: each tick reads the env anew, but the template shows what it reads. */
  readonly configHash: Input<string>;
  /** keeperhub-scheduler:<tag>. */
  readonly image: Input<string>;
  /** Seconds a tick may start late before it is skipped. */
  readonly startingDeadlineSeconds: number;
}

/** CronJob `schedule-dispatcher` (`khctl dispatch`, every minute, never two at once). */
export function dispatcherCronJobArgs(input: DispatcherCronJobInput): k8s.batch.v1.CronJobArgs {
  const labels = { [LABELS.app]: DISPATCHER_APP_LABEL };
  return {
    metadata: {
      name: K8S.dispatcherCronJob,
      namespace: input.namespace,
      labels,
      annotations: input.annotations,
    },
    spec: {
      schedule: DISPATCHER_SCHEDULE,
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: input.startingDeadlineSeconds,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          // The next tick retries; a run must not overlap the next minute.
          backoffLimit: 0,
          activeDeadlineSeconds: 55,
          template: {
            metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: input.configHash } },
            spec: {
              restartPolicy: "Never",
              // The dispatcher talks to Postgres and SQS only, never to the Kubernetes API.
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
              volumes: [{ name: "tmp", emptyDir: {} }],
              containers: [
                {
                  ...serviceContainer("dispatcher", input.image, ["dispatch"], []),
                  resources: {
                    requests: { cpu: "50m", memory: "96Mi" },
                    limits: { cpu: "500m", memory: "256Mi" },
                  },
                },
              ],
            },
          },
        },
      },
    },
  };
}
