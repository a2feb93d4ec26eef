import { JOB_SETTINGS } from "./settings.js";

/**
 * The names other parts and users' scripts rely on (docs/architecture.md). One definition each: the
 * Pulumi program imports this module, so infra and services cannot drift apart. Numeric settings and
 * their defaults are in settings.ts. Dependency-free (but for settings.ts) on purpose.
 */

export const QUEUE_NAME = "keeperhub-workflow-queue";
export const DLQ_NAME = "keeperhub-workflow-dlq";
/** Receives before SQS moves a message to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;
/**
 * Sends of a pending execution's message at most: the first, and the stale-run policy's re-sends when no
 * runner took it within the pending limit (db/stale-run-policy.ts). After the last one it is an error.
 */
export const MAX_SENDS = 3;

export const DEFAULT_NAMESPACE = "local";

/** Kubernetes object names in the namespace. */
export const K8S = {
  configMap: "scheduler-env",
  secret: "keeperhub-secrets",
  spawnerServiceAccount: "job-spawner",
  spawnerRole: "job-spawner",
  spawnerRoleBinding: "job-spawner",
  spawnerDeployment: "job-spawner",
  runnerServiceAccount: "workflow-runner",
  dispatcherCronJob: "schedule-dispatcher",
} as const;

/**
 * Every Kubernetes API call made with the job-spawner's ServiceAccount, as RBAC rules: Jobs created,
 * listed (back-pressure, the reconciler) and deleted (stuck pulls) by spawner/kube.ts; pods listed by the
 * reconciler and `khctl logs`, whose log `khctl logs` reads when it runs in the spawner's pod. Its Role
 * grants exactly these (infra/cluster/specs.ts); the real-engine tier checks that each is allowed and
 * that nothing else is.
 */
export const SPAWNER_API_ACCESS = [
  { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "list", "delete"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
] as const;

/** The dispatcher CronJob's schedule: every minute, as in production. */
export const DISPATCHER_SCHEDULE = "* * * * *";

/** Runner Job labels. `app=workflow-runner` selects every runner Job and pod. */
export const LABELS = {
  app: "app",
  executionId: "execution-id",
  workflowId: "workflow-id",
  scheduleId: "schedule-id",
} as const;
export const RUNNER_APP_LABEL = "workflow-runner";
export const SPAWNER_APP_LABEL = "job-spawner";
export const DISPATCHER_APP_LABEL = "schedule-dispatcher";

/** Container images, always tagged by content hash, never `latest`. */
export const IMAGES = {
  runner: "keeperhub-runner",
  scheduler: "keeperhub-scheduler",
} as const;

export const jobNameFor = (executionId: string): string => `wf-${executionId}`;

/** Environment variables the services read. */
export const ENV = {
  databaseUrl: "DATABASE_URL",
  awsEndpointUrl: "AWS_ENDPOINT_URL",
  awsRegion: "AWS_REGION",
  awsAccessKeyId: "AWS_ACCESS_KEY_ID",
  awsSecretAccessKey: "AWS_SECRET_ACCESS_KEY",
  sqsQueueUrl: "SQS_QUEUE_URL",
  runnerImage: "RUNNER_IMAGE",
  k8sNamespace: "K8S_NAMESPACE",
  /** `key=value,…`: the runner pods' nodeSelector (default: any node). */
  runnerNodeSelector: "RUNNER_NODE_SELECTOR",
  jobTtlSeconds: JOB_SETTINGS.jobTtlSeconds.env,
  jobActiveDeadline: JOB_SETTINGS.jobActiveDeadlineSeconds.env,
  maxConcurrentJobs: JOB_SETTINGS.maxConcurrentJobs.env,
  integrationEncryptionKey: "INTEGRATION_ENCRYPTION_KEY",
  /** The `_FILE` twins of the secret variables (services/core/secret-files.ts): a file holds the value. */
  databaseUrlFile: "DATABASE_URL_FILE",
  integrationEncryptionKeyFile: "INTEGRATION_ENCRYPTION_KEY_FILE",
  logLevel: "LOG_LEVEL",
  executionId: "EXECUTION_ID",
  workflowId: "WORKFLOW_ID",
  scheduleId: "SCHEDULE_ID",
  workflowInput: "WORKFLOW_INPUT",
  /** kubeconfig context outside a cluster (`khctl spawner`, `khctl logs`, `khctl status`). */
  kubeContext: "KUBE_CONTEXT",
  /** `khctl dev`'s data directory. */
  dataDir: "KH_DATA_DIR",
  /** `json` keeps logs JSON on a terminal too. */
  logFormat: "LOG_FORMAT",
  /** Set in `khctl dev`'s detached worker (dev/detach.ts). */
  devWorker: "KH_DEV_WORKER",
  /** "1": `khctl dev` detaches without a terminal too, "0": never (dev/detach.ts). */
  devDetach: "KH_DEV_DETACH",
} as const;

/**
 * Defaults of the service settings that the Pulumi stacks also set (their stack config defaults are
 * these): AWS_REGION, JOB_TTL_SECONDS, JOB_ACTIVE_DEADLINE (seconds), MAX_CONCURRENT_JOBS, LOG_LEVEL.
 */
export const SERVICE_DEFAULTS = {
  awsRegion: "us-east-1",
  jobTtlSeconds: JOB_SETTINGS.jobTtlSeconds.default,
  jobActiveDeadlineSeconds: JOB_SETTINGS.jobActiveDeadlineSeconds.default,
  maxConcurrentJobs: JOB_SETTINGS.maxConcurrentJobs.default,
  logLevel: "info",
} as const;

/** LOG_LEVEL values (pino's levels). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;

/** Env vars that hold secrets: only ever set from a Secret reference, never as a literal. */
export const SECRET_ENV = [ENV.databaseUrl, ENV.integrationEncryptionKey] as const;

/** Execution statuses, in lifecycle order. */
export const EXECUTION_STATUSES = ["pending", "running", "success", "error", "cancelled"] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ["success", "error", "cancelled"];
export const isTerminal = (status: string): boolean =>
  (TERMINAL_STATUSES as readonly string[]).includes(status);

export const STEP_STATUSES = ["running", "success", "error", "skipped", "cancelled"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TRIGGER_TYPES = ["schedule", "manual"] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

/** Ids are 21-character lowercase nanoids, valid inside Kubernetes names. */
export const ID_PATTERN = /^[0-9a-z]{21}$/;

/**
 * The three Pulumi stacks and the profile each runs (`khctl doctor --profile`, `khctl status --profile`):
 * `local` everything in Docker, `hybrid` Docker and minikube, `cluster` any Kubernetes context with a
 * registry, a database and a queue of the team's own (no Docker containers, no minikube).
 */
export const PROFILES = ["dev", "minikube", "cluster"] as const;
export type Profile = (typeof PROFILES)[number];
export const STACK_OF_PROFILE: Readonly<Record<Profile, string>> = {
  dev: "local",
  minikube: "hybrid",
  cluster: "cluster",
};

/** Docker objects the Pulumi stacks create (one set at a time: both stacks publish the same ports). */
export const DOCKER = {
  network: "keeperhub-network",
  postgres: "keeperhub-db",
  localstack: "keeperhub-localstack",
  app: "keeperhub-app",
  dispatcher: "keeperhub-dispatcher",
  executor: "keeperhub-executor",
  postgresVolume: "keeperhub-db-data",
  localstackVolume: "keeperhub-localstack-data",
} as const;
/** Docker label on every container a stack creates; its value is the stack name. */
export const STACK_LABEL = "io.keeperhub.stack";

/**
 * LocalStack: 4.14.0 (2026-02-26) is the last community release. Images after it exit with code 55 unless
 * LOCALSTACK_AUTH_TOKEN is set (since 2026-03-23), so the stacks pin this one and `khctl doctor` warns
 * about a newer tag without a token.
 */
export const LAST_FREE_LOCALSTACK_VERSION = "4.14.0";
export const DEFAULT_LOCALSTACK_IMAGE = `localstack/localstack:${LAST_FREE_LOCALSTACK_VERSION}`;
/** The variable a licensed LocalStack image reads its token from. */
export const LOCALSTACK_AUTH_TOKEN_ENV = "LOCALSTACK_AUTH_TOKEN";

/** Host ports the containers publish (and pods reach through HOST_ALIAS). */
export const DEFAULT_PORTS = { postgres: 5433, localstack: 4566, app: 3000 } as const;
/** The name minikube pods use for the host; the host need not (SQS calls go to the endpoint; the /etc/hosts line is only for tools that send to a queue URL's host). */
export const HOST_ALIAS = "host.minikube.internal";
export const HOSTS_LINE = `127.0.0.1 ${HOST_ALIAS}`;

/** Where the job-spawner serves its probes (the Deployment's liveness and readiness probes use these). */
export const SPAWNER_HEALTH = { port: 8080, livenessPath: "/healthz", readinessPath: "/readyz" } as const;
