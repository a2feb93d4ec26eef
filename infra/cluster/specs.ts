import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { formatNodeSelector } from "../../services/contracts/job-template.js";
import {
  DISPATCHER_APP_LABEL,
  DISPATCHER_SCHEDULE,
  ENV,
  K8S,
  LABELS,
  SECRET_ENV,
  SPAWNER_API_ACCESS,
  SPAWNER_APP_LABEL,
} from "../../services/contracts/names.js";

/**
 * The Kubernetes objects of the hybrid stack as pure functions of their inputs: the Pulumi program
 * (cluster.ts, scheduler.ts) passes their results to the resources, and the real-engine tier
 * (test/real/kube/) applies the same results to a real API server, so neither retypes a spec.
 */

type Input<T> = pulumi.Input<T>;
type Container = k8s.types.input.core.v1.Container;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type ObjectMeta = k8s.types.input.meta.v1.ObjectMeta;

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
  /** SQS endpoint from pods (http://host.minikube.internal:4566); undefined: AWS itself (cluster profile). */
  readonly awsEndpointUrl: string | undefined;
  readonly awsRegion: string;
  readonly queueUrl: Input<string>;
  readonly namespace: string;
  readonly jobTtlSeconds: number;
  readonly jobActiveDeadlineSeconds: number;
  readonly maxConcurrentJobs: number;
  readonly logLevel: string;
  /** The runner pods' nodeSelector (RUNNER_NODE_SELECTOR); unset: any node. */
  readonly runnerNodeSelector?: Readonly<Record<string, string>>;
}

/** ConfigMap `scheduler-env`: every non-secret setting, passed whole with envFrom (the runner Jobs use it too). */
export function schedulerConfigData(settings: SchedulerSettings): Record<string, Input<string>> {
  return {
    ...(settings.awsEndpointUrl === undefined ? {} : { [ENV.awsEndpointUrl]: settings.awsEndpointUrl }),
    [ENV.awsRegion]: settings.awsRegion,
    [ENV.sqsQueueUrl]: settings.queueUrl,
    [ENV.k8sNamespace]: settings.namespace,
    [ENV.jobTtlSeconds]: String(settings.jobTtlSeconds),
    [ENV.jobActiveDeadline]: String(settings.jobActiveDeadlineSeconds),
    [ENV.maxConcurrentJobs]: String(settings.maxConcurrentJobs),
    [ENV.logLevel]: settings.logLevel,
    ...(settings.runnerNodeSelector
      ? { [ENV.runnerNodeSelector]: formatNodeSelector(settings.runnerNodeSelector) }
      : {}),
  };
}

/** ConfigMap `scheduler-env`: schedulerConfigData(). */
export function schedulerConfigMapArgs(
  metadata: ObjectMeta,
  settings: SchedulerSettings,
): k8s.core.v1.ConfigMapArgs {
  return { metadata, data: schedulerConfigData(settings) };
}

/** Secret `keeperhub-secrets`, holding schedulerSecretData() (the stack passes it wrapped as a Pulumi secret). */
export function schedulerSecretArgs(
  metadata: ObjectMeta,
  stringData: Input<Record<string, Input<string>>>,
): k8s.core.v1.SecretArgs {
  return { metadata, type: "Opaque", stringData };
}

/**
 * The Secret's keys: SECRET_ENV, and the AWS keys when the stack holds static credentials (LocalStack's
 * dummy ones, or the cluster profile's from config); without them the SDK finds the pod's own identity.
 */
export function schedulerSecretKeys(withAwsCredentials: boolean): string[] {
  return [...SECRET_ENV, ...(withAwsCredentials ? AWS_CREDENTIAL_ENV : [])];
}

/** Env entries that read each secret key from Secret `keeperhub-secrets`: never a literal value. */
export function secretEnv(keys: readonly string[] = schedulerSecretKeys(true)): EnvVar[] {
  return keys.map((name) => ({ name, valueFrom: { secretKeyRef: { name: K8S.secret, key: name } } }));
}

/**
 * PodSecurity admission enforces the "restricted" profile in the namespace: a pod that could run as root,
 * escalate privileges or keep capabilities is refused when it is created, on minikube as anywhere else.
 */
export const POD_SECURITY_LABELS = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
} as const;

/** The stack's namespace, with PodSecurity "restricted" enforced. */
export function namespaceArgs(name: string, annotations?: Record<string, string>): k8s.core.v1.NamespaceArgs {
  return { metadata: { name, labels: { ...POD_SECURITY_LABELS }, annotations } };
}

/**
 * The spawner's permissions, and nothing more: exactly the calls its account makes (SPAWNER_API_ACCESS).
 */
export function spawnerRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
  return SPAWNER_API_ACCESS.map((rule) => ({
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
  }));
}

/** ServiceAccount `job-spawner`: the spawner's identity; its token is mounted (it talks to the API). */
export function spawnerServiceAccountArgs(metadata: ObjectMeta): k8s.core.v1.ServiceAccountArgs {
  return { metadata };
}

/** Role `job-spawner`: spawnerRoleRules(). */
export function spawnerRoleArgs(metadata: ObjectMeta): k8s.rbac.v1.RoleArgs {
  return { metadata, rules: spawnerRoleRules() };
}

/** RoleBinding `job-spawner`: the Role to the spawner's ServiceAccount, in the namespace only. */
export function spawnerRoleBindingArgs(
  metadata: ObjectMeta,
  input: { roleName: Input<string>; serviceAccountName: Input<string>; namespace: Input<string> },
): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: input.roleName },
    subjects: [{ kind: "ServiceAccount", name: input.serviceAccountName, namespace: input.namespace }],
  };
}

/** ServiceAccount `workflow-runner`: runner pods never talk to the API, so no token is mounted. */
export function runnerServiceAccountArgs(metadata: ObjectMeta): k8s.core.v1.ServiceAccountArgs {
  return { metadata, automountServiceAccountToken: false };
}

export interface SchedulerSecrets {
  /** DATABASE_URL as pods see it. */
  readonly databaseUrl: Input<string>;
  readonly encryptionKey: Input<string>;
  /**
   * Static AWS credentials: LocalStack's (dummy values, kept in the Secret all the same) or the cluster
   * profile's from config. Undefined: none in the Secret (the ServiceAccounts' identity gives them).
   */
  readonly awsCredentials:
    | { readonly accessKeyId: Input<string>; readonly secretAccessKey: Input<string> }
    | undefined;
}

/**
 * The data of Secret `keeperhub-secrets`, by env var name: every key the pods reference (SECRET_ENV) must
 * be there, or they fail with CreateContainerConfigError.
 */
export function schedulerSecretData(secrets: SchedulerSecrets): Record<string, Input<string>> {
  const aws = secrets.awsCredentials;
  const data: Record<string, Input<string>> = {
    [ENV.databaseUrl]: secrets.databaseUrl,
    [ENV.integrationEncryptionKey]: secrets.encryptionKey,
    ...(aws
      ? { [AWS_CREDENTIAL_ENV[0]]: aws.accessKeyId, [AWS_CREDENTIAL_ENV[1]]: aws.secretAccessKey }
      : {}),
  };
  for (const key of SECRET_ENV) if (!(key in data)) throw new Error(`Secret is missing key ${key}`);
  return data;
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

/**
 * How the scheduler's pods get their images and secrets, per profile. hybrid: loaded into minikube by
 * content tag, never pulled (`Never`), LocalStack's keys in the Secret; cluster: pulled from the registry
 * by digest, so a present image is the right one (`IfNotPresent`), AWS keys only when configured.
 */
export interface PodSource {
  readonly imagePullPolicy: "Never" | "IfNotPresent";
  /** The Secret's keys the containers read (schedulerSecretKeys). */
  readonly secretKeys: readonly string[];
}

/** The PodSource of a pull policy, the Secret's keys as schedulerSecretData writes them. Pure. */
export function podSourceFor(
  imagePullPolicy: PodSource["imagePullPolicy"],
  withAwsCredentials: boolean,
): PodSource {
  return { imagePullPolicy, secretKeys: schedulerSecretKeys(withAwsCredentials) };
}

/** hybrid's PodSource (LocalStack's keys in the Secret): what every spec builder defaults to. */
export const MINIKUBE_POD_SOURCE: PodSource = podSourceFor("Never", true);

function serviceContainer(
  name: string,
  image: Input<string>,
  args: string[],
  extraEnv: EnvVar[],
  source: PodSource,
): Container {
  return {
    name,
    image,
    imagePullPolicy: source.imagePullPolicy,
    args,
    envFrom: [{ configMapRef: { name: K8S.configMap } }],
    env: [...secretEnv(source.secretKeys), ...extraEnv],
    // A container that exits with an error reports its last log lines as its status, which Pulumi shows.
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

/** The pod `pulumi up` runs to check reachability from the namespace, and removes again. */
export const REACH_CHECK_POD = "keeperhub-reach-check";

/** The khctl arguments of the reachability check (the image's entrypoint is khctl). */
export function reachCheckArgs(targets: readonly string[]): string[] {
  return ["doctor", ...targets.flatMap((target) => ["--reach", target])];
}

/**
 * What `kubectl run` (with --override-type=strategic: its container is merged by name) adds to the
 * reachability check's pod: the runner's account (no token; the namespace's `default` one may not exist
 * yet right after it is created), a deadline, and the hardened settings PodSecurity "restricted" demands;
 * `nodeSelector` pins it (a cluster with more than one node; the real-node tests).
 */
export function reachCheckPodOverrides(nodeSelector?: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: "v1",
    spec: {
      ...(nodeSelector ? { nodeSelector } : {}),
      serviceAccountName: K8S.runnerServiceAccount,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      activeDeadlineSeconds: 60,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      volumes: [{ name: "tmp", emptyDir: {} }],
      containers: [
        {
          name: REACH_CHECK_POD,
          securityContext: containerSecurityContext(),
          volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
        },
      ],
    },
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
  /** Where images and secrets come from. Default MINIKUBE_POD_SOURCE. */
  readonly source?: PodSource;
  /**
   * Spawner pods. Default 1, replaced all at once (Recreate); more roll one at a time and are spread
   * across nodes (spawnerSpread).
   */
  readonly replicas?: number;
}

/**
 * Spawner pods on different nodes where there are several (a node's loss stops one spawner, not all);
 * on a one-node cluster they still schedule (ScheduleAnyway).
 */
export function spawnerSpread(): k8s.types.input.core.v1.TopologySpreadConstraint[] {
  return [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: { [LABELS.app]: SPAWNER_APP_LABEL } },
    },
  ];
}

/**
 * One spawner replaces another at once (Recreate) so MAX_CONCURRENT_JOBS stays meaningful during a
 * rollout; several are rolled one at a time and never all down: each lists the namespace's active Jobs
 * before it takes work, so they share the cap (an overshoot is bounded by the messages in flight).
 */
function spawnerStrategy(replicas: number): k8s.types.input.apps.v1.DeploymentStrategy {
  if (replicas === 1) return { type: "Recreate" };
  return { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } };
}

/** Deployment `job-spawner` (`khctl spawner`): `replicas` (default one), probes, resources, non-root. */
export function spawnerDeploymentArgs(input: SpawnerDeploymentInput): k8s.apps.v1.DeploymentArgs {
  const labels = { [LABELS.app]: SPAWNER_APP_LABEL };
  const replicas = input.replicas ?? 1;
  const container = serviceContainer(
    "spawner",
    input.image,
    ["spawner"],
    [{ name: ENV.runnerImage, value: input.runnerImage }],
    input.source ?? MINIKUBE_POD_SOURCE,
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
      replicas,
      progressDeadlineSeconds: SPAWNER_PROGRESS_DEADLINE_SECONDS,
      selector: { matchLabels: labels },
      strategy: spawnerStrategy(replicas),
      template: {
        metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: input.configHash } },
        spec: {
          serviceAccountName: K8S.spawnerServiceAccount,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          ...(replicas > 1 ? { topologySpreadConstraints: spawnerSpread() } : {}),
          securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
          volumes: [{ name: "tmp", emptyDir: {} }],
          containers: [
            {
              ...container,
              ports: [{ name: "http", containerPort: input.probes.port }],
              // Probed every second until it first answers (up to a minute), so a new pod is Ready about
              // a second after it listens, not a readiness period later; liveness and readiness start then.
              startupProbe: { ...probe(input.probes.livenessPath, 1), failureThreshold: 60 },
              livenessProbe: probe(input.probes.livenessPath, 10),
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
  /** Where images and secrets come from. Default MINIKUBE_POD_SOURCE. */
  readonly source?: PodSource;
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
                  ...serviceContainer(
                    "dispatcher",
                    input.image,
                    ["dispatch"],
                    [],
                    input.source ?? MINIKUBE_POD_SOURCE,
                  ),
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
