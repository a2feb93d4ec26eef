import { z } from "zod";
import { SPAWNER_HEALTH } from "../contracts/names.js";
import { readEnv } from "../core/config.js";

/**
 * The spawner's own settings (beyond DATABASE_URL, the queue and the Kubernetes settings every
 * service shares). Each has an env var; `khctl spawner` flags override them.
 */
export const SPAWNER_ENV = {
  port: "SPAWNER_PORT",
  concurrency: "SPAWNER_CONCURRENCY",
  reconcileIntervalSeconds: "RECONCILE_INTERVAL_SECONDS",
  stuckPullLimitSeconds: "STUCK_PULL_LIMIT_SECONDS",
  lostAfterSeconds: "RUNNER_LOST_AFTER_SECONDS",
  kubeContext: "KUBE_CONTEXT",
  requestTimeoutMs: "K8S_REQUEST_TIMEOUT_MS",
  shutdownTimeoutSeconds: "SHUTDOWN_TIMEOUT_SECONDS",
} as const;

export interface SpawnerSettings {
  /** Port of /healthz, /readyz and /metrics. Default 8080. */
  readonly port: number;
  /** Messages handled (Jobs being created) at once. Default 10. */
  readonly concurrency: number;
  /** Seconds between reconciler passes. Default 15. */
  readonly reconcileIntervalSeconds: number;
  /** Seconds a runner pod may wait in ImagePullBackOff/ErrImagePull before its execution fails. Default 120. */
  readonly stuckPullLimitSeconds: number;
  /** Seconds after which a pending/running execution with no Job is "runner lost". Default JOB_ACTIVE_DEADLINE + 600. */
  readonly lostAfterSeconds: number | undefined;
  /** kubeconfig context (outside a cluster). Default: the current context. */
  readonly kubeContext: string | undefined;
  /** Each Kubernetes API request fails after this long, ms. Default 10000. */
  readonly requestTimeoutMs: number;
  /** On SIGTERM, in-flight creates get this long to finish, seconds. Default 20 (pods get 30). */
  readonly shutdownTimeoutSeconds: number;
}

const positiveInt = z.coerce.number().int().positive();
const shape = {
  [SPAWNER_ENV.port]: z.coerce.number().int().min(0).max(65_535).default(SPAWNER_HEALTH.port),
  [SPAWNER_ENV.concurrency]: positiveInt.max(100).default(10),
  [SPAWNER_ENV.reconcileIntervalSeconds]: positiveInt.default(15),
  [SPAWNER_ENV.stuckPullLimitSeconds]: z.coerce.number().int().min(0).default(120),
  [SPAWNER_ENV.lostAfterSeconds]: positiveInt.optional(),
  [SPAWNER_ENV.kubeContext]: z.string().min(1).optional(),
  [SPAWNER_ENV.requestTimeoutMs]: positiveInt.default(10_000),
  [SPAWNER_ENV.shutdownTimeoutSeconds]: z.coerce.number().int().min(0).default(20),
};

/** Reads the spawner settings; throws ConfigError naming the bad variable. */
export function loadSpawnerSettings(env: NodeJS.ProcessEnv = process.env): SpawnerSettings {
  const parsed = readEnv(shape, env);
  return {
    port: parsed[SPAWNER_ENV.port],
    concurrency: parsed[SPAWNER_ENV.concurrency],
    reconcileIntervalSeconds: parsed[SPAWNER_ENV.reconcileIntervalSeconds],
    stuckPullLimitSeconds: parsed[SPAWNER_ENV.stuckPullLimitSeconds],
    lostAfterSeconds: parsed[SPAWNER_ENV.lostAfterSeconds],
    kubeContext: parsed[SPAWNER_ENV.kubeContext],
    requestTimeoutMs: parsed[SPAWNER_ENV.requestTimeoutMs],
    shutdownTimeoutSeconds: parsed[SPAWNER_ENV.shutdownTimeoutSeconds],
  };
}
