import * as z from "zod";
import { JobTemplateError, parseNodeSelector } from "../contracts/job-template.js";
import { DEFAULT_NAMESPACE, ENV, SERVICE_DEFAULTS } from "../contracts/names.js";
import { JOB_SETTINGS } from "../contracts/settings.js";
import { ConfigError } from "./errors.js";
import { readSettings } from "./settings.js";

/**
 * Service configuration from the environment. Each service asks for the parts it needs; a missing or
 * malformed variable fails at start with one line naming it (ConfigError), and the CLI exits 1.
 */
export { ConfigError } from "./errors.js";

const databaseShape = {
  [ENV.databaseUrl]: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" }),
};
/** How SQS is reached: AWS_ENDPOINT_URL (unset = AWS itself) and AWS_REGION. */
export const sqsConnectionShape = {
  [ENV.awsEndpointUrl]: z.url().optional(),
  [ENV.awsRegion]: z.string().min(1).default(SERVICE_DEFAULTS.awsRegion),
};
const queueShape = {
  [ENV.sqsQueueUrl]: z.url({ error: "must be the queue URL (khctl queue ensure prints it)" }),
  ...sqsConnectionShape,
};
const kubernetesShape = {
  [ENV.k8sNamespace]: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a Kubernetes namespace name")
    .default(DEFAULT_NAMESPACE),
  [ENV.runnerImage]: z
    .string()
    .min(1)
    .refine((image) => !image.endsWith(":latest"), "must be pinned, not :latest"),
  [ENV.runnerNodeSelector]: z
    .string()
    .transform((text, context) => {
      try {
        return parseNodeSelector(text);
      } catch (error) {
        if (!(error instanceof JobTemplateError)) throw error;
        context.addIssue({ code: "custom", message: `has ${error.message}` });
        return z.NEVER;
      }
    })
    .optional(),
};

/** Reads the given shape from env; throws ConfigError naming the first bad variable. */
export function readEnv<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<z.ZodObject<S>>> {
  // Empty strings count as unset, as shells and ConfigMaps often produce them.
  const present = Object.fromEntries(
    Object.keys(shape).flatMap((key) => (env[key] ? [[key, env[key]]] : [])),
  );
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const message = issue?.code === "invalid_type" && !env[name] ? "is not set" : issue?.message;
    throw new ConfigError(`${name} ${message}`);
  }
  return Object.freeze(result.data);
}

export interface DatabaseConfig {
  readonly databaseUrl: string;
}
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  return { databaseUrl: readEnv(databaseShape, env)[ENV.databaseUrl] };
}

export interface QueueConfig {
  readonly queueUrl: string;
  /** The SQS endpoint (LocalStack or fauxqs); unset means AWS itself. */
  readonly endpoint: string | undefined;
  readonly region: string;
}
export function loadQueueConfig(env: NodeJS.ProcessEnv = process.env): QueueConfig {
  const parsed = readEnv(queueShape, env);
  return {
    queueUrl: parsed[ENV.sqsQueueUrl],
    endpoint: parsed[ENV.awsEndpointUrl],
    region: parsed[ENV.awsRegion],
  };
}

export interface KubernetesConfig {
  readonly namespace: string;
  readonly runnerImage: string;
  /** Seconds a finished Job is kept before Kubernetes deletes it. */
  readonly jobTtlSeconds: number;
  /** Seconds a runner Job may run before Kubernetes kills it. */
  readonly jobActiveDeadlineSeconds: number;
  /** Active runner Jobs at most; at the cap the spawner stops receiving. */
  readonly maxConcurrentJobs: number;
  /** The runner pods' nodeSelector (RUNNER_NODE_SELECTOR); unset: any node. */
  readonly runnerNodeSelector?: Readonly<Record<string, string>>;
}
export function loadKubernetesConfig(env: NodeJS.ProcessEnv = process.env): KubernetesConfig {
  const parsed = readEnv(kubernetesShape, env);
  return {
    namespace: parsed[ENV.k8sNamespace],
    runnerImage: parsed[ENV.runnerImage],
    ...readSettings(JOB_SETTINGS, env),
    ...(parsed[ENV.runnerNodeSelector] ? { runnerNodeSelector: parsed[ENV.runnerNodeSelector] } : {}),
  };
}
