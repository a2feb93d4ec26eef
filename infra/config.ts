import { existsSync, statSync } from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_NAMESPACE,
  DEFAULT_PORTS,
  PROFILES,
  type Profile,
  STACK_OF_PROFILE,
} from "../services/contracts/names.js";

/**
 * The stack's settings, read once from Pulumi config (namespace `keeperhub`) and validated before any
 * resource is declared. Every problem is reported at once, each naming its `keeperhub:<key>` option.
 */
export const CONFIG_NAMESPACE = "keeperhub";

export interface StackConfig {
  /** `dev` (everything in Docker: stack `local`) or `minikube` (stack `hybrid`). Default from the stack name. */
  readonly profile: Profile;
  /** Host ports published by the containers. Defaults 5433, 4566, 3000. */
  readonly ports: { readonly postgres: number; readonly localstack: number; readonly app: number };
  /** Pinned container images (a tag other than `latest`, or a digest). */
  readonly images: { readonly postgres: string; readonly localstack: string; readonly app: string };
  /** The Node image the service images are built on (a build argument of services/Dockerfile). */
  readonly nodeImage: string;
  readonly minikube: {
    /** minikube profile (`minikube -p`). Default `minikube`. */
    readonly profile: string;
    /** Memory for a minikube the program starts, MiB. Default 4096. */
    readonly memoryMb: number;
    /** CPUs for a minikube the program starts. Default 2. */
    readonly cpus: number;
    /** Stop minikube on `pulumi destroy`. Default false: destroy leaves it running. */
    readonly stopOnDestroy: boolean;
  };
  /** The kubeconfig context the Kubernetes provider is pinned to. Default: the minikube profile's name. */
  readonly kubeContext: string;
  /** Namespace of the scheduler objects and runner Jobs. Default `local`. */
  readonly namespace: string;
  readonly jobs: {
    /** Seconds a finished runner Job is kept. Default 3600. */
    readonly ttlSeconds: number;
    /** Seconds a runner Job may run before Kubernetes stops it. Default 300. */
    readonly activeDeadlineSeconds: number;
    /** Active runner Jobs at most. Default 10. */
    readonly maxConcurrent: number;
  };
  /** Seconds the dispatcher CronJob may start late before a tick is skipped. Default 30. */
  readonly dispatcherStartingDeadlineSeconds: number;
  /** Absolute path of a KeeperHub app checkout; the app-dev container exists only when set. */
  readonly appCheckoutPath: string | undefined;
  /** Shell command that starts the app inside its container. Default `npm install && npm run dev`. */
  readonly appCommand: string;
  /** LOG_LEVEL of the services. Default `info`. */
  readonly logLevel: string;
  /** AWS_REGION the services use against LocalStack. Default `us-east-1`. */
  readonly awsRegion: string;
}

/** Reads one raw config value; `undefined` when unset. Pulumi's Config in the program, a map in tests. */
export type ConfigReader = (key: string) => string | undefined;

export class StackConfigError extends Error {
  override name = "StackConfigError";
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
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

/**
 * Validates raw settings into a StackConfig. Pure: `read` supplies values, `stack` the stack name
 * (for the default profile). Throws one StackConfigError listing every bad option.
 */
export function parseStackConfig(read: ConfigReader, stack: string): StackConfig {
  const problems: string[] = [];
  const option = (key: string) => `${CONFIG_NAMESPACE}:${key}`;
  const str = (key: string, fallback: string): string => {
    const value = read(key);
    return value === undefined || value === "" ? fallback : value;
  };
  const int = (key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = read(key);
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
      problems.push(`${option(key)} must be an integer ${range} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const raw = read(key);
    if (raw === undefined || raw === "") return fallback;
    if (raw === "true" || raw === "false") return raw === "true";
    problems.push(`${option(key)} must be true or false (got "${raw}")`);
    return fallback;
  };
  const image = (key: string, fallback: string): string => {
    const value = str(key, fallback);
    if (!isPinnedImage(value)) {
      problems.push(
        `${option(key)} must be pinned to a version tag or digest, never latest (got "${value}")`,
      );
    }
    return value;
  };

  const stackProfile = (Object.keys(STACK_OF_PROFILE) as Profile[]).find(
    (p) => STACK_OF_PROFILE[p] === stack,
  );
  const rawProfile = read("profile");
  let profile: Profile = stackProfile ?? "dev";
  if (rawProfile !== undefined && rawProfile !== "") {
    if ((PROFILES as readonly string[]).includes(rawProfile)) profile = rawProfile as Profile;
    else problems.push(`${option("profile")} must be one of ${PROFILES.join(", ")} (got "${rawProfile}")`);
  } else if (!stackProfile) {
    problems.push(`${option("profile")} must be set for stack "${stack}" (dev or minikube)`);
  }

  const ports = {
    postgres: int("postgresPort", DEFAULT_PORTS.postgres, 1, 65_535),
    localstack: int("localstackPort", DEFAULT_PORTS.localstack, 1, 65_535),
    app: int("appPort", DEFAULT_PORTS.app, 1, 65_535),
  };
  const taken = new Map<number, string>();
  for (const [name, port] of Object.entries(ports)) {
    const other = taken.get(port);
    if (other) problems.push(`${option(`${name}Port`)} ${port} is also ${option(`${other}Port`)}`);
    taken.set(port, name);
  }

  const minikubeProfile = str("minikubeProfile", "minikube");
  if (!DNS_LABEL.test(minikubeProfile)) {
    problems.push(
      `${option("minikubeProfile")} must be lowercase letters, digits and '-' (got "${minikubeProfile}")`,
    );
  }
  const namespace = str("namespace", DEFAULT_NAMESPACE);
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) {
    problems.push(`${option("namespace")} must be a Kubernetes namespace name (got "${namespace}")`);
  }
  const logLevel = str("logLevel", "info");
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`${option("logLevel")} must be one of ${LOG_LEVELS.join(", ")} (got "${logLevel}")`);
  }

  const rawCheckout = read("appCheckoutPath");
  let appCheckoutPath: string | undefined;
  if (rawCheckout !== undefined && rawCheckout !== "") {
    if (!path.isAbsolute(rawCheckout)) {
      problems.push(`${option("appCheckoutPath")} must be an absolute path (got "${rawCheckout}")`);
    } else if (!existsSync(rawCheckout) || !statSync(rawCheckout).isDirectory()) {
      problems.push(`${option("appCheckoutPath")} ${rawCheckout} is not a directory`);
    } else {
      appCheckoutPath = rawCheckout;
    }
  }

  const config: StackConfig = {
    profile,
    ports,
    images: {
      postgres: image("postgresImage", "postgres:16.9-bookworm"),
      localstack: image("localstackImage", "localstack/localstack:4.4.0"),
      app: image("appImage", "node:24.22.3-bookworm-slim"),
    },
    nodeImage: image("nodeImage", "node:24.22.3-bookworm-slim"),
    minikube: {
      profile: minikubeProfile,
      memoryMb: int("minikubeMemoryMb", 4096, 2048),
      cpus: int("minikubeCpus", 2, 2),
      stopOnDestroy: bool("minikubeStopOnDestroy", false),
    },
    kubeContext: str("kubeContext", minikubeProfile),
    namespace,
    jobs: {
      ttlSeconds: int("jobTtlSeconds", 3600, 0),
      activeDeadlineSeconds: int("jobActiveDeadlineSeconds", 300, 1),
      maxConcurrent: int("maxConcurrentJobs", 10, 1),
    },
    dispatcherStartingDeadlineSeconds: int("dispatcherStartingDeadlineSeconds", 30, 10),
    appCheckoutPath,
    appCommand: str("appCommand", "npm install && npm run dev"),
    logLevel,
    awsRegion: str("awsRegion", "us-east-1"),
  };
  if (problems.length > 0) {
    throw new StackConfigError(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
  }
  return config;
}

/** The stack's secrets: set with `pulumi config set --secret`, otherwise generated once (see secrets.ts). */
export interface StackSecrets {
  /** `keeperhub:dbPassword`, if set. */
  readonly dbPassword: pulumi.Output<string> | undefined;
  /** `keeperhub:encryptionKey`, if set (INTEGRATION_ENCRYPTION_KEY). */
  readonly encryptionKey: pulumi.Output<string> | undefined;
}

/** Reads and validates the current stack's config. Call once, from infra/index.ts. */
export function loadStackConfig(): { config: StackConfig; secrets: StackSecrets } {
  const cfg = new pulumi.Config(CONFIG_NAMESPACE);
  const config = parseStackConfig((key) => cfg.get(key), pulumi.getStack());
  return {
    config,
    secrets: { dbPassword: cfg.getSecret("dbPassword"), encryptionKey: cfg.getSecret("encryptionKey") },
  };
}
