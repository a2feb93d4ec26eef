import { existsSync, statSync } from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as z from "zod";
import {
  DEFAULT_LOCALSTACK_IMAGE,
  DEFAULT_NAMESPACE,
  DEFAULT_PORTS,
  LOG_LEVELS,
  PROFILES,
  type Profile,
  SERVICE_DEFAULTS,
  STACK_OF_PROFILE,
} from "../services/contracts/names.js";
import { JOB_SETTINGS, type NumberSetting } from "../services/contracts/settings.js";

/**
 * The stack's settings: Pulumi config in namespace `keeperhub`, read once and validated by one zod schema
 * before anything is declared. Every default is defined here (or in services/contracts, which this module
 * imports), once: the stack files set only what differs, and docs/stacks.md's table is checked against
 * CONFIG_DEFAULTS and CONFIG_DOCS (test/infra/config.test.ts).
 */
export const CONFIG_NAMESPACE = "keeperhub";

/** Base image of keeperhub-scheduler and keeperhub-runner (services/Dockerfile NODE_IMAGE). */
export const DEFAULT_NODE_IMAGE = "node:24.22.3-bookworm-slim";

/** The default of every setting that has a fixed one. */
export const CONFIG_DEFAULTS = {
  postgresPort: DEFAULT_PORTS.postgres,
  localstackPort: DEFAULT_PORTS.localstack,
  appPort: DEFAULT_PORTS.app,
  postgresImage: "postgres:16.9-bookworm",
  localstackImage: DEFAULT_LOCALSTACK_IMAGE,
  nodeImage: DEFAULT_NODE_IMAGE,
  appImage: DEFAULT_NODE_IMAGE,
  appCommand: "npm install && npm run dev",
  minikubeProfile: "minikube",
  minikubeMemoryMb: 4096,
  minikubeCpus: 2,
  minikubeStopOnDestroy: false,
  namespace: DEFAULT_NAMESPACE,
  jobTtlSeconds: SERVICE_DEFAULTS.jobTtlSeconds,
  jobActiveDeadlineSeconds: SERVICE_DEFAULTS.jobActiveDeadlineSeconds,
  maxConcurrentJobs: SERVICE_DEFAULTS.maxConcurrentJobs,
  dispatcherStartingDeadlineSeconds: 30,
  logLevel: SERVICE_DEFAULTS.logLevel,
  awsRegion: SERVICE_DEFAULTS.awsRegion,
  createQueues: false,
  serviceAccountAnnotations: "{}",
  spawnerReplicas: 2,
  runnerQuotaPods: 30,
  runnerQuotaCpu: "8",
  runnerQuotaMemory: "12Gi",
  runnerMaxCpu: "2",
  runnerMaxMemory: "2Gi",
} as const;

/** Settings whose default depends on the stack or on another setting, or that are generated. */
const DERIVED_DEFAULTS = {
  profile: "from the stack name: `dev` for local, `minikube` for hybrid, `cluster` for cluster",
  kubeContext: "the value of `minikubeProfile` (hybrid); required (cluster)",
  kubeconfig: "`KUBECONFIG`, else `~/.kube/config`",
  registry: "required (cluster)",
  registryUsername: "unset: the Docker config's credentials",
  registryPassword: "unset",
  databaseUrl: "required (cluster)",
  queueUrl: "required (cluster)",
  dlqUrl: "required (cluster)",
  sqsEndpoint: "unset: AWS itself",
  awsAccessKeyId: "unset",
  awsSecretAccessKey: "unset",
  appCheckoutPath: "unset",
  dbPassword: "generated once",
  encryptionKey: "generated once",
  localstackAuthToken: "unset",
} as const;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS | keyof typeof DERIVED_DEFAULTS;

/** A setting passed on to the services: its range and variable, as contracts/settings.ts defines them. */
const rangeOf = (setting: NumberSetting & { env: string }) =>
  `${setting.min}-${setting.max}, as \`${setting.env}\``;

/**
 * Which profiles read a setting: every one, the two with Docker containers (dev, minikube), the two with
 * Kubernetes objects (minikube, cluster), or one.
 */
export type ProfilesOf = "all" | "docker" | "kubernetes" | Profile;

/** The profiles each ProfilesOf names. */
export const PROFILES_OF: Readonly<Record<ProfilesOf, readonly Profile[]>> = {
  all: PROFILES,
  docker: ["dev", "minikube"],
  kubernetes: ["minikube", "cluster"],
  dev: ["dev"],
  minikube: ["minikube"],
  cluster: ["cluster"],
};

/** What each setting means and which profiles read it: docs/stacks.md's stack-configuration table. */
export const CONFIG_DOCS: Readonly<
  Record<ConfigKey, { readonly profiles: ProfilesOf; readonly doc: string }>
> = {
  profile: {
    profiles: "all",
    doc: "`dev` (everything in Docker), `minikube` (the scheduler in minikube) or `cluster` (any Kubernetes context, a registry, an external database and queue)",
  },
  postgresPort: {
    profiles: "docker",
    doc: "host port of Postgres; pods reach it through `host.minikube.internal`",
  },
  localstackPort: { profiles: "docker", doc: "host port of LocalStack (SQS)" },
  appPort: { profiles: "docker", doc: "host port of the app (with `appCheckoutPath`)" },
  postgresImage: {
    profiles: "docker",
    doc: "pinned Postgres image: a version tag or digest, never `latest`",
  },
  localstackImage: {
    profiles: "docker",
    doc: "pinned LocalStack image; 4.14.0 is the last that runs without `localstackAuthToken`",
  },
  nodeImage: {
    profiles: "all",
    doc: "base of the service images (`services/Dockerfile` `NODE_IMAGE`; CI tests this Node release)",
  },
  appCheckoutPath: {
    profiles: "docker",
    doc: "absolute path of a KeeperHub checkout; the app-dev container exists only when set",
  },
  appImage: {
    profiles: "docker",
    doc: "image the app-dev container runs in (the services' Node image: one base image serves both)",
  },
  appCommand: { profiles: "docker", doc: "shell command that starts the app in its container" },
  minikubeProfile: { profiles: "minikube", doc: "`minikube -p` profile, started when it is not running" },
  minikubeMemoryMb: {
    profiles: "minikube",
    doc: "memory (MiB) of a minikube this program starts; a running one is never resized or stopped",
  },
  minikubeCpus: { profiles: "minikube", doc: "CPUs of a minikube this program starts" },
  minikubeStopOnDestroy: { profiles: "minikube", doc: "`pulumi destroy` also stops minikube" },
  kubeContext: { profiles: "kubernetes", doc: "the only kubeconfig context the program deploys to" },
  kubeconfig: {
    profiles: "cluster",
    doc: "path of the kubeconfig file that holds `kubeContext`",
  },
  namespace: { profiles: "kubernetes", doc: "namespace of the scheduler objects and the runner Jobs" },
  jobTtlSeconds: {
    profiles: "kubernetes",
    doc: `seconds a finished runner Job is kept (${rangeOf(JOB_SETTINGS.jobTtlSeconds)})`,
  },
  jobActiveDeadlineSeconds: {
    profiles: "kubernetes",
    doc: `seconds a runner Job may run (${rangeOf(JOB_SETTINGS.jobActiveDeadlineSeconds)})`,
  },
  maxConcurrentJobs: {
    profiles: "kubernetes",
    doc: `runner Jobs at once, at most (${rangeOf(JOB_SETTINGS.maxConcurrentJobs)})`,
  },
  dispatcherStartingDeadlineSeconds: {
    profiles: "kubernetes",
    doc: "a dispatcher tick that cannot start within this many seconds is skipped",
  },
  logLevel: { profiles: "all", doc: `LOG_LEVEL of the services: ${LOG_LEVELS.join(", ")}` },
  awsRegion: {
    profiles: "all",
    doc: "AWS_REGION of the services: LocalStack's, or the region of the cluster stack's SQS",
  },
  dbPassword: {
    profiles: "docker",
    doc: "(secret) Postgres password; a change is applied to the running database with `ALTER ROLE`",
  },
  encryptionKey: {
    profiles: "all",
    doc: "(secret) INTEGRATION_ENCRYPTION_KEY: `pulumi config set --secret keeperhub:encryptionKey $(openssl rand -hex 32)`",
  },
  localstackAuthToken: {
    profiles: "docker",
    doc: "(secret) LOCALSTACK_AUTH_TOKEN, given to the LocalStack container only when set: images after 4.14.0 exit without one",
  },
  registry: {
    profiles: "cluster",
    doc: "where the images are pushed, `host[:port]/path` (`127.0.0.1:5000/keeperhub`, `<account>.dkr.ecr.<region>.amazonaws.com/keeperhub`); pods name them by digest",
  },
  registryUsername: {
    profiles: "cluster",
    doc: "registry user, with `registryPassword`; unset, the push uses the Docker config (`docker login`, a credential helper)",
  },
  registryPassword: { profiles: "cluster", doc: "(secret) the registry user's password or token" },
  databaseUrl: {
    profiles: "cluster",
    doc: "(secret) DATABASE_URL of the Postgres the pods and the migrations use (RDS, Aurora, Cloud SQL, any Postgres 14+)",
  },
  queueUrl: { profiles: "cluster", doc: "SQS_QUEUE_URL of `keeperhub-workflow-queue`" },
  dlqUrl: { profiles: "cluster", doc: "URL of its dead-letter queue `keeperhub-workflow-dlq`" },
  sqsEndpoint: {
    profiles: "cluster",
    doc: "AWS_ENDPOINT_URL for an SQS emulator (LocalStack, ElasticMQ); unset on AWS",
  },
  createQueues: {
    profiles: "cluster",
    doc: "`pulumi up` creates the queue pair (`khctl queue ensure`); false: the preflight checks that they exist",
  },
  awsAccessKeyId: {
    profiles: "cluster",
    doc: "(secret) static AWS key, with `awsSecretAccessKey`, kept in Secret `keeperhub-secrets`; never with `serviceAccountAnnotations`",
  },
  awsSecretAccessKey: { profiles: "cluster", doc: "(secret) the static key's secret" },
  serviceAccountAnnotations: {
    profiles: "cluster",
    doc: "JSON object of annotations on the `job-spawner` and `workflow-runner` ServiceAccounts (IRSA: `eks.amazonaws.com/role-arn`); never with static keys",
  },
  spawnerReplicas: {
    profiles: "cluster",
    doc: "job-spawner pods, spread across nodes; with more than one, a PodDisruptionBudget lets a drain take one at a time",
  },
  runnerQuotaPods: { profiles: "cluster", doc: "ResourceQuota of the namespace: pods at most" },
  runnerQuotaCpu: {
    profiles: "cluster",
    doc: "ResourceQuota of the namespace: the sum of the pods' CPU limits (`limits.cpu`)",
  },
  runnerQuotaMemory: {
    profiles: "cluster",
    doc: "ResourceQuota of the namespace: the sum of the pods' memory limits (`limits.memory`)",
  },
  runnerMaxCpu: { profiles: "cluster", doc: "LimitRange: CPU limit of one container at most" },
  runnerMaxMemory: { profiles: "cluster", doc: "LimitRange: memory limit of one container at most" },
};

/** The secret settings: read with getSecret, never through the schema (their values stay Outputs). */
export const SECRET_KEYS = [
  "dbPassword",
  "encryptionKey",
  "localstackAuthToken",
  "registryPassword",
  "databaseUrl",
  "awsAccessKeyId",
  "awsSecretAccessKey",
] as const;

export interface StackConfig {
  /** `dev` (everything in Docker: stack `local`) or `minikube` (stack `hybrid`). Default from the stack name. */
  readonly profile: Profile;
  /** Host ports published by the containers. */
  readonly ports: { readonly postgres: number; readonly localstack: number; readonly app: number };
  /** Pinned container images (a tag other than `latest`, or a digest). */
  readonly images: { readonly postgres: string; readonly localstack: string; readonly app: string };
  /** Whether `keeperhub:localstackAuthToken` is set (its value is a secret: StackSecrets). */
  readonly localstackAuthTokenSet: boolean;
  /** The Node image the service images are built on (a build argument of services/Dockerfile). */
  readonly nodeImage: string;
  readonly minikube: {
    /** minikube profile (`minikube -p`). */
    readonly profile: string;
    /** Memory for a minikube the program starts, MiB. */
    readonly memoryMb: number;
    /** CPUs for a minikube the program starts. */
    readonly cpus: number;
    /** Stop minikube on `pulumi destroy`; false leaves it running. */
    readonly stopOnDestroy: boolean;
  };
  /** The kubeconfig context the Kubernetes provider is pinned to. */
  readonly kubeContext: string;
  /** Namespace of the scheduler objects and runner Jobs. */
  readonly namespace: string;
  readonly jobs: {
    /** Seconds a finished runner Job is kept. */
    readonly ttlSeconds: number;
    /** Seconds a runner Job may run before Kubernetes stops it. */
    readonly activeDeadlineSeconds: number;
    /** Active runner Jobs at most. */
    readonly maxConcurrent: number;
  };
  /** Seconds the dispatcher CronJob may start late before a tick is skipped. */
  readonly dispatcherStartingDeadlineSeconds: number;
  /** Absolute path of a KeeperHub app checkout; the app-dev container exists only when set. */
  readonly appCheckoutPath: string | undefined;
  /** Shell command that starts the app inside its container. */
  readonly appCommand: string;
  /** LOG_LEVEL of the services. */
  readonly logLevel: string;
  /** AWS_REGION the services use (against LocalStack, or AWS for the cluster profile). */
  readonly awsRegion: string;
  /** The cluster profile's own settings; set for that profile only. */
  readonly cluster?: ClusterSettings;
}

/** What the cluster profile reads besides the shared settings. */
export interface ClusterSettings {
  /** The kubeconfig file holding `kubeContext`; undefined: KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  /** `host[:port]/path` the images are pushed under (`<registry>/keeperhub-runner`). */
  readonly registry: string;
  /** `host[:port]`: the registry server the push logs in to. */
  readonly registryServer: string;
  /** Registry user (with the secret registryPassword); undefined: the Docker config's credentials. */
  readonly registryUsername: string | undefined;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** An SQS emulator's endpoint; undefined: AWS itself. */
  readonly sqsEndpoint: string | undefined;
  /** `pulumi up` creates the queue pair; false: the preflight checks that it exists. */
  readonly createQueues: boolean;
  /**
   * `static`: keys from config in Secret `keeperhub-secrets`; `ambient`: none in the stack, the pods'
   * identity (serviceAccountAnnotations: IRSA, Pod Identity; or the node's role) gives them.
   */
  readonly awsCredentials: "static" | "ambient";
  /** Annotations of the spawner's and the runners' ServiceAccounts. */
  readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
  /** job-spawner replicas (a PodDisruptionBudget keeps one up, spread across nodes). */
  readonly spawnerReplicas: number;
  /** ResourceQuota and LimitRange of the namespace (Kubernetes quantities). */
  readonly quota: {
    readonly pods: number;
    readonly cpu: string;
    readonly memory: string;
    readonly maxCpu: string;
    readonly maxMemory: string;
  };
}

/** Invalid settings; the message lists every one, each by its `keeperhub:<key>` name. Pulumi prints it without a stack. */
export class StackConfigError extends pulumi.RunError {
  override name = "StackConfigError";
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** An image reference pinned to a version: a tag that is not `latest`, or a digest. */
export function isPinnedImage(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  if (colon === -1) return false;
  const tag = image.slice(colon + 1);
  return tag.length > 0 && tag !== "latest" && /^[\w][\w.-]{0,127}$/.test(tag);
}

// Each value arrives as the string Pulumi stores; a failed check says what was expected and what came.
const got = (raw: string) => `(got "${raw}")`;

function integer(min: number, max?: number) {
  const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
  return z.string().transform((raw, ctx) => {
    const value = Number(raw);
    if (!/^\s*-?\d+\s*$/.test(raw) || value < min || (max !== undefined && value > max)) {
      ctx.addIssue({ code: "custom", message: `must be an integer ${range} ${got(raw)}` });
      return z.NEVER;
    }
    return value;
  });
}

const port = () => integer(1, 65_535);
/** A value the stack passes on to a service setting: that setting's own range (contracts/settings.ts). */
const within = (setting: NumberSetting) => integer(setting.min, setting.max);

const boolean = () =>
  z.string().transform((raw, ctx) => {
    if (raw === "true" || raw === "false") return raw === "true";
    ctx.addIssue({ code: "custom", message: `must be true or false ${got(raw)}` });
    return z.NEVER;
  });

const oneOf = <const T extends readonly string[]>(values: T) =>
  z.string().refine((raw) => values.includes(raw), {
    error: (issue) => `must be one of ${values.join(", ")} ${got(String(issue.input))}`,
  }) as unknown as z.ZodType<T[number], string>;

const image = () =>
  z.string().refine(isPinnedImage, {
    error: (issue) => `must be pinned to a version tag or digest, never latest ${got(String(issue.input))}`,
  });

const dnsLabel = (what: string) =>
  z.string().refine((raw) => raw.length <= 63 && DNS_LABEL.test(raw), {
    error: (issue) => `must be ${what} ${got(String(issue.input))}`,
  });

/** `host[:port]` and an optional lowercase path, as Docker references name a repository. */
const REGISTRY = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?)(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

const registry = () =>
  z.string().refine((raw) => REGISTRY.test(raw), {
    error: (issue) =>
      `must be host[:port]/path in lowercase, without a scheme or tag, e.g. 127.0.0.1:5000/keeperhub ${got(String(issue.input))}`,
  });

const httpUrl = () =>
  z.string().refine((raw) => /^https?:\/\/[^\s/]+/.test(raw), {
    error: (issue) => `must be an http(s) URL ${got(String(issue.input))}`,
  });

/** A Kubernetes quantity: 500m, 2, 1.5, 512Mi, 2Gi. */
const quantity = () =>
  z.string().refine((raw) => /^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.test(raw), {
    error: (issue) => `must be a Kubernetes quantity like 500m, 2, 512Mi or 2Gi ${got(String(issue.input))}`,
  });

/** A JSON object of string values (`pulumi config set --path` stores objects as JSON). */
const stringMap = () =>
  z.string().transform((raw, ctx) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    const isMap =
      parsed !== null &&
      typeof parsed === "object" &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every((value) => typeof value === "string");
    if (!isMap) {
      ctx.addIssue({ code: "custom", message: `must be a JSON object of strings ${got(raw)}` });
      return z.NEVER;
    }
    return parsed as Record<string, string>;
  });

const absoluteDirectory = () =>
  z.string().superRefine((raw, ctx) => {
    if (!path.isAbsolute(raw))
      ctx.addIssue({ code: "custom", message: `must be an absolute path ${got(raw)}` });
    else if (!existsSync(raw) || !statSync(raw).isDirectory())
      ctx.addIssue({ code: "custom", message: `${raw} is not a directory` });
  });

const D = CONFIG_DEFAULTS;

/** The one schema of the stack's (non-secret) settings. Unknown `keeperhub:` keys are errors. */
const settingsSchema = z.strictObject({
  profile: oneOf(PROFILES).optional(),
  postgresPort: port().default(D.postgresPort),
  localstackPort: port().default(D.localstackPort),
  appPort: port().default(D.appPort),
  postgresImage: image().default(D.postgresImage),
  localstackImage: image().default(D.localstackImage),
  nodeImage: image().default(D.nodeImage),
  appImage: image().default(D.appImage),
  appCheckoutPath: absoluteDirectory().optional(),
  appCommand: z.string().default(D.appCommand),
  minikubeProfile: dnsLabel("lowercase letters, digits and '-'").default(D.minikubeProfile),
  minikubeMemoryMb: integer(2048).default(D.minikubeMemoryMb),
  minikubeCpus: integer(2).default(D.minikubeCpus),
  minikubeStopOnDestroy: boolean().default(D.minikubeStopOnDestroy),
  kubeContext: z.string().optional(),
  namespace: dnsLabel("a Kubernetes namespace name").default(D.namespace),
  jobTtlSeconds: within(JOB_SETTINGS.jobTtlSeconds).default(D.jobTtlSeconds),
  jobActiveDeadlineSeconds: within(JOB_SETTINGS.jobActiveDeadlineSeconds).default(D.jobActiveDeadlineSeconds),
  maxConcurrentJobs: within(JOB_SETTINGS.maxConcurrentJobs).default(D.maxConcurrentJobs),
  dispatcherStartingDeadlineSeconds: integer(10).default(D.dispatcherStartingDeadlineSeconds),
  logLevel: oneOf(LOG_LEVELS).default(D.logLevel),
  awsRegion: z.string().default(D.awsRegion),
  kubeconfig: z.string().optional(),
  registry: registry().optional(),
  registryUsername: z.string().optional(),
  queueUrl: httpUrl().optional(),
  dlqUrl: httpUrl().optional(),
  sqsEndpoint: httpUrl().optional(),
  createQueues: boolean().default(D.createQueues),
  serviceAccountAnnotations: stringMap().default(JSON.parse(D.serviceAccountAnnotations)),
  spawnerReplicas: integer(1, 20).default(D.spawnerReplicas),
  runnerQuotaPods: integer(1).default(D.runnerQuotaPods),
  runnerQuotaCpu: quantity().default(D.runnerQuotaCpu),
  runnerQuotaMemory: quantity().default(D.runnerQuotaMemory),
  runnerMaxCpu: quantity().default(D.runnerMaxCpu),
  runnerMaxMemory: quantity().default(D.runnerMaxMemory),
});

type ParsedSettings = z.infer<typeof settingsSchema>;

/** What the cluster profile cannot go without, each with how to set it. */
const CLUSTER_REQUIRED: Readonly<Record<string, string>> = {
  kubeContext: "the context of the cluster to deploy to (`kubectl config get-contexts`)",
  registry: "e.g. 127.0.0.1:5000/keeperhub or <account>.dkr.ecr.<region>.amazonaws.com/keeperhub",
  databaseUrl: "`pulumi config set --secret keeperhub:databaseUrl postgres://…`",
  queueUrl: "the URL of keeperhub-workflow-queue",
  dlqUrl: "the URL of keeperhub-workflow-dlq",
};

const isSet = (raw: Readonly<Record<string, string>>, key: string) => (raw[key] ?? "") !== "";

/** Annotations given as a non-empty JSON object (unparseable ones are the schema's to report). */
function hasAnnotations(raw: Readonly<Record<string, string>>): boolean {
  try {
    const parsed = JSON.parse(raw.serviceAccountAnnotations ?? "{}") as unknown;
    return parsed !== null && typeof parsed === "object" && Object.keys(parsed).length > 0;
  } catch {
    return false;
  }
}

/**
 * The cluster profile's rules across settings: what it requires, which settings go in pairs, and the
 * credentials, which come either from static keys or from the ServiceAccounts' identity, never both. Pure.
 */
export function clusterProblems(raw: Readonly<Record<string, string>>): string[] {
  const problems = Object.entries(CLUSTER_REQUIRED)
    .filter(([key]) => !isSet(raw, key))
    .map(([key, hint]) => `${option(key)} must be set for profile cluster: ${hint}`);
  const pairs = [
    ["awsAccessKeyId", "awsSecretAccessKey"],
    ["registryUsername", "registryPassword"],
  ] as const;
  for (const [a, b] of pairs) {
    if (isSet(raw, a) !== isSet(raw, b))
      problems.push(`${option(a)} and ${option(b)} are set together or not at all`);
  }
  if ((isSet(raw, "awsAccessKeyId") || isSet(raw, "awsSecretAccessKey")) && hasAnnotations(raw)) {
    problems.push(
      `${option("awsAccessKeyId")} and ${option("serviceAccountAnnotations")} are both set: choose static keys (a Kubernetes Secret) or the ServiceAccounts' identity (IRSA, Pod Identity), never both`,
    );
  }
  return problems;
}

/**
 * Settings the stack's profile would ignore in silence, across the line between the cluster profile and
 * the Docker ones: a Docker setting on stack cluster (`postgresPort`: there is no container), a cluster one
 * on local or hybrid (`registry`: nothing is pushed). Pure.
 */
export function unreadSettings(raw: Readonly<Record<string, string>>, profile: Profile): string[] {
  const clusterOnly = (key: ConfigKey) => CONFIG_DOCS[key].profiles === "cluster";
  const readBy = (key: ConfigKey) => PROFILES_OF[CONFIG_DOCS[key].profiles].includes(profile);
  return (Object.keys(raw) as ConfigKey[])
    .filter((key) => key in CONFIG_DOCS && isSet(raw, key) && !readBy(key))
    .filter((key) => profile === "cluster" || clusterOnly(key))
    .map((key) => {
      const stacks = PROFILES_OF[CONFIG_DOCS[key].profiles].map((p) => STACK_OF_PROFILE[p]).join(", ");
      return `${option(key)} is not read by profile ${profile} (it is for ${stacks}): pulumi config rm ${option(key)}`;
    });
}

/** The cluster profile's settings, once every check passed. Pure. */
function clusterSettings(s: ParsedSettings, raw: Readonly<Record<string, string>>): ClusterSettings {
  const registryRef = s.registry ?? "";
  return {
    kubeconfig: s.kubeconfig,
    registry: registryRef,
    registryServer: registryRef.split("/")[0] ?? registryRef,
    registryUsername: s.registryUsername,
    queueUrl: s.queueUrl ?? "",
    dlqUrl: s.dlqUrl ?? "",
    sqsEndpoint: s.sqsEndpoint,
    createQueues: s.createQueues,
    awsCredentials: isSet(raw, "awsAccessKeyId") ? "static" : "ambient",
    serviceAccountAnnotations: s.serviceAccountAnnotations,
    spawnerReplicas: s.spawnerReplicas,
    quota: {
      pods: s.runnerQuotaPods,
      cpu: s.runnerQuotaCpu,
      memory: s.runnerQuotaMemory,
      maxCpu: s.runnerMaxCpu,
      maxMemory: s.runnerMaxMemory,
    },
  };
}

const option = (key: string) => `${CONFIG_NAMESPACE}:${key}`;

/** The profile a stack name implies (local -> dev, hybrid -> minikube), if any. */
function profileOfStack(stack: string): Profile | undefined {
  return (Object.keys(STACK_OF_PROFILE) as Profile[]).find((p) => STACK_OF_PROFILE[p] === stack);
}

const PORT_KEYS = ["postgresPort", "localstackPort", "appPort"] as const;

/**
 * Two containers cannot publish the same host port. Checked apart from the schema so that a clash is
 * reported together with every other bad setting (zod skips object refinements once a field fails).
 */
function portClashes(present: Readonly<Record<string, string>>): string[] {
  const taken = new Map<number, string>();
  const clashes: string[] = [];
  for (const key of PORT_KEYS) {
    const parsed = settingsSchema.shape[key].safeParse(present[key]);
    if (!parsed.success) continue;
    const other = taken.get(parsed.data);
    if (other) clashes.push(`${option(key)} ${parsed.data} is also ${option(other)}`);
    taken.set(parsed.data, key);
  }
  return clashes;
}

/** One line per zod issue, each starting with the setting's full name. */
function describeIssues(error: z.ZodError, raw: Readonly<Record<string, string>>): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => `${option(key)} is not a setting${suggestion(key)}`);
    }
    const key = String(issue.path[0] ?? "");
    const message =
      issue.code === "invalid_type" ? `must be a string ${got(String(raw[key]))}` : issue.message;
    return [`${option(key)} ${message}`];
  });
}

function suggestion(key: string): string {
  const known = Object.keys(CONFIG_DOCS).find((k) => k.toLowerCase() === key.toLowerCase());
  return known ? ` (did you mean ${option(known)}?)` : ` (settings: docs/stacks.md "Stack configuration")`;
}

/**
 * Validates raw settings (keys without the `keeperhub:` prefix; secrets excluded) into a StackConfig.
 * Pure. Throws one StackConfigError listing every bad setting. Empty values count as unset.
 */
export function parseStackConfig(raw: Readonly<Record<string, string>>, stack: string): StackConfig {
  const present = Object.fromEntries(
    Object.entries(raw).filter(
      ([key, value]) => value !== "" && !(SECRET_KEYS as readonly string[]).includes(key),
    ),
  );
  const result = settingsSchema.safeParse(present);
  const problems = [
    ...(result.success ? [] : describeIssues(result.error, present)),
    ...portClashes(present),
  ];
  const named = (PROFILES as readonly string[]).includes(present.profile ?? "")
    ? (present.profile as Profile)
    : undefined;
  const profile = named ?? (present.profile ? undefined : profileOfStack(stack));
  if (!profile && !present.profile) {
    problems.push(`${option("profile")} must be set for stack "${stack}" (${PROFILES.join(", ")})`);
  }
  if (profile === "cluster") problems.push(...clusterProblems(raw));
  if (profile) problems.push(...unreadSettings(raw, profile));
  if (!result.success || !profile || problems.length > 0) {
    throw new StackConfigError(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
  }
  return stackConfigOf(result.data, raw, profile);
}

/** The StackConfig of settings that passed every check. Pure. */
function stackConfigOf(
  s: ParsedSettings,
  raw: Readonly<Record<string, string>>,
  profile: Profile,
): StackConfig {
  return {
    profile,
    ports: { postgres: s.postgresPort, localstack: s.localstackPort, app: s.appPort },
    images: { postgres: s.postgresImage, localstack: s.localstackImage, app: s.appImage },
    localstackAuthTokenSet: (raw.localstackAuthToken ?? "") !== "",
    nodeImage: s.nodeImage,
    minikube: {
      profile: s.minikubeProfile,
      memoryMb: s.minikubeMemoryMb,
      cpus: s.minikubeCpus,
      stopOnDestroy: s.minikubeStopOnDestroy,
    },
    // The cluster profile requires its context (clusterProblems); only hybrid's defaults to minikube's.
    kubeContext: s.kubeContext ?? s.minikubeProfile,
    namespace: s.namespace,
    jobs: {
      ttlSeconds: s.jobTtlSeconds,
      activeDeadlineSeconds: s.jobActiveDeadlineSeconds,
      maxConcurrent: s.maxConcurrentJobs,
    },
    dispatcherStartingDeadlineSeconds: s.dispatcherStartingDeadlineSeconds,
    appCheckoutPath: s.appCheckoutPath,
    appCommand: s.appCommand,
    logLevel: s.logLevel,
    awsRegion: s.awsRegion,
    ...(profile === "cluster" ? { cluster: clusterSettings(s, raw) } : {}),
  };
}

/** docs/stacks.md's stack-configuration table, from CONFIG_DOCS and the defaults. Pure. */
export function configTableMarkdown(): string {
  const defaultOf = (key: ConfigKey): string =>
    key in DERIVED_DEFAULTS
      ? DERIVED_DEFAULTS[key as keyof typeof DERIVED_DEFAULTS]
      : `\`${CONFIG_DEFAULTS[key as keyof typeof CONFIG_DEFAULTS]}\``;
  const rows = (Object.keys(CONFIG_DOCS) as ConfigKey[]).map((key) => {
    const { profiles, doc } = CONFIG_DOCS[key];
    const stacks =
      profiles === "all" ? "all" : PROFILES_OF[profiles].map((p) => STACK_OF_PROFILE[p]).join(", ");
    return `| \`${key}\` | ${defaultOf(key)} | ${stacks} | ${doc} |`;
  });
  return ["| key | default | stacks | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** The stack's secrets: set with `pulumi config set --secret`, otherwise generated once (see secrets.ts). */
export interface StackSecrets {
  /** `keeperhub:dbPassword`, if set. */
  readonly dbPassword: pulumi.Output<string> | undefined;
  /** `keeperhub:encryptionKey`, if set (INTEGRATION_ENCRYPTION_KEY). */
  readonly encryptionKey: pulumi.Output<string> | undefined;
  /** `keeperhub:localstackAuthToken`, if set (never generated: a LocalStack account's token). */
  readonly localstackAuthToken: pulumi.Output<string> | undefined;
  /** `keeperhub:databaseUrl` (cluster profile: required). */
  readonly databaseUrl?: pulumi.Output<string>;
  /** `keeperhub:registryPassword` (cluster profile, with registryUsername). */
  readonly registryPassword?: pulumi.Output<string>;
  /** `keeperhub:awsAccessKeyId` and `awsSecretAccessKey` (cluster profile, static credentials). */
  readonly awsAccessKeyId?: pulumi.Output<string>;
  readonly awsSecretAccessKey?: pulumi.Output<string>;
}

/** The stack's `keeperhub:` settings as Pulumi holds them, keys without the prefix. */
function rawSettings(): Record<string, string> {
  const prefix = `${CONFIG_NAMESPACE}:`;
  return Object.fromEntries(
    Object.entries(pulumi.runtime.allConfig()).flatMap(([key, value]) =>
      key.startsWith(prefix) ? [[key.slice(prefix.length), value]] : [],
    ),
  );
}

/**
 * The secret settings the cluster profile's preflight hands to `khctl doctor` (an invoke: they reach its
 * environment, never the state or a resource's inputs), as the engine gives them to the program.
 */
export function preflightSecretValues(): {
  databaseUrl?: string;
  awsAccessKeyId?: string;
  awsSecretAccessKey?: string;
} {
  const raw = rawSettings();
  const value = (key: string) => (raw[key] ? { [key]: raw[key] } : {});
  return { ...value("databaseUrl"), ...value("awsAccessKeyId"), ...value("awsSecretAccessKey") };
}

/** Reads and validates the current stack's config. Call once, from infra/index.ts. */
export function loadStackConfig(): { config: StackConfig; secrets: StackSecrets } {
  const cfg = new pulumi.Config(CONFIG_NAMESPACE);
  const config = parseStackConfig(rawSettings(), pulumi.getStack());
  return {
    config,
    secrets: {
      dbPassword: cfg.getSecret("dbPassword"),
      encryptionKey: cfg.getSecret("encryptionKey"),
      localstackAuthToken: cfg.getSecret("localstackAuthToken"),
      databaseUrl: cfg.getSecret("databaseUrl"),
      registryPassword: cfg.getSecret("registryPassword"),
      awsAccessKeyId: cfg.getSecret("awsAccessKeyId"),
      awsSecretAccessKey: cfg.getSecret("awsSecretAccessKey"),
    },
  };
}
