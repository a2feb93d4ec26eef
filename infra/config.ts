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
} as const;

/** Settings whose default depends on the stack or on another setting, or that are generated. */
const DERIVED_DEFAULTS = {
  profile: "from the stack name: `dev` for local, `minikube` for hybrid",
  kubeContext: "the value of `minikubeProfile`",
  appCheckoutPath: "unset",
  dbPassword: "generated once",
  encryptionKey: "generated once",
  localstackAuthToken: "unset",
} as const;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS | keyof typeof DERIVED_DEFAULTS;

/** A setting passed on to the services: its range and variable, as contracts/settings.ts defines them. */
const rangeOf = (setting: NumberSetting & { env: string }) =>
  `${setting.min}-${setting.max}, as \`${setting.env}\``;

/** What each setting means and which profiles read it: docs/stacks.md's stack-configuration table. */
export const CONFIG_DOCS: Readonly<
  Record<ConfigKey, { readonly profiles: "both" | Profile; readonly doc: string }>
> = {
  profile: {
    profiles: "both",
    doc: "`dev` (everything in Docker) or `minikube` (the scheduler in minikube)",
  },
  postgresPort: {
    profiles: "both",
    doc: "host port of Postgres; pods reach it through `host.minikube.internal`",
  },
  localstackPort: { profiles: "both", doc: "host port of LocalStack (SQS)" },
  appPort: { profiles: "both", doc: "host port of the app (with `appCheckoutPath`)" },
  postgresImage: { profiles: "both", doc: "pinned Postgres image: a version tag or digest, never `latest`" },
  localstackImage: {
    profiles: "both",
    doc: "pinned LocalStack image; 4.14.0 is the last that runs without `localstackAuthToken`",
  },
  nodeImage: {
    profiles: "both",
    doc: "base of the service images (`services/Dockerfile` `NODE_IMAGE`; CI tests this Node release)",
  },
  appCheckoutPath: {
    profiles: "both",
    doc: "absolute path of a KeeperHub checkout; the app-dev container exists only when set",
  },
  appImage: {
    profiles: "both",
    doc: "image the app-dev container runs in (the services' Node image: one base image serves both)",
  },
  appCommand: { profiles: "both", doc: "shell command that starts the app in its container" },
  minikubeProfile: { profiles: "minikube", doc: "`minikube -p` profile, started when it is not running" },
  minikubeMemoryMb: {
    profiles: "minikube",
    doc: "memory (MiB) of a minikube this program starts; a running one is never resized or stopped",
  },
  minikubeCpus: { profiles: "minikube", doc: "CPUs of a minikube this program starts" },
  minikubeStopOnDestroy: { profiles: "minikube", doc: "`pulumi destroy` also stops minikube" },
  kubeContext: { profiles: "minikube", doc: "the only kubeconfig context the program deploys to" },
  namespace: { profiles: "minikube", doc: "namespace of the scheduler objects and the runner Jobs" },
  jobTtlSeconds: {
    profiles: "minikube",
    doc: `seconds a finished runner Job is kept (${rangeOf(JOB_SETTINGS.jobTtlSeconds)})`,
  },
  jobActiveDeadlineSeconds: {
    profiles: "minikube",
    doc: `seconds a runner Job may run (${rangeOf(JOB_SETTINGS.jobActiveDeadlineSeconds)})`,
  },
  maxConcurrentJobs: {
    profiles: "minikube",
    doc: `runner Jobs at once, at most (${rangeOf(JOB_SETTINGS.maxConcurrentJobs)})`,
  },
  dispatcherStartingDeadlineSeconds: {
    profiles: "minikube",
    doc: "a dispatcher tick that cannot start within this many seconds is skipped",
  },
  logLevel: { profiles: "both", doc: `LOG_LEVEL of the services: ${LOG_LEVELS.join(", ")}` },
  awsRegion: { profiles: "both", doc: "AWS_REGION the services use against LocalStack" },
  dbPassword: {
    profiles: "both",
    doc: "(secret) Postgres password; a change is applied to the running database with `ALTER ROLE`",
  },
  encryptionKey: {
    profiles: "both",
    doc: "(secret) INTEGRATION_ENCRYPTION_KEY: `pulumi config set --secret keeperhub:encryptionKey $(openssl rand -hex 32)`",
  },
  localstackAuthToken: {
    profiles: "both",
    doc: "(secret) LOCALSTACK_AUTH_TOKEN, given to the LocalStack container only when set: images after 4.14.0 exit without one",
  },
};

/** The secret settings: read with getSecret, never through the schema (their values stay Outputs). */
export const SECRET_KEYS = ["dbPassword", "encryptionKey", "localstackAuthToken"] as const;

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
  /** AWS_REGION the services use against LocalStack. */
  readonly awsRegion: string;
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
});

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
  const profile = result.data?.profile ?? profileOfStack(stack);
  if (!profile && !present.profile) {
    problems.push(`${option("profile")} must be set for stack "${stack}" (dev or minikube)`);
  }
  if (!result.success || !profile || problems.length > 0) {
    throw new StackConfigError(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
  }
  const s = result.data;
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
    const stacks = profiles === "both" ? "both" : STACK_OF_PROFILE[profiles];
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
    },
  };
}
