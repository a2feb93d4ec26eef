import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { RunnerPodOptions } from "../contracts/job-template.js";
import { SPAWNER_SETTINGS, STALE_RUN_SETTINGS } from "../contracts/settings.js";
import type { KubernetesConfig } from "../core/config.js";
import type { Stoppable } from "../core/lifecycle.js";
import type { Logger } from "../core/logger.js";
import { type Periodic, startPeriodic } from "../core/periodic.js";
import type { Pool } from "../db/pool.js";
import { type StaleRunPolicy, staleRunPolicy } from "../db/stale-run-policy.js";
import { startIntake } from "../intake/intake.js";
import { resolveRunnerTimeouts } from "../runner/timeouts.js";
import { type HealthServer, startHealthServer } from "./http.js";
import { createJobLauncher } from "./job-launcher.js";
import type { KubeApi } from "./kube.js";
import { createSpawnerMetrics, type SpawnerMetrics } from "./metrics.js";
import { createReconciler } from "./reconciler.js";

/**
 * The running spawner: the shared intake (intake/) with the Job launcher, the reconciler on its interval,
 * and the health/metrics port. `khctl spawner` builds the dependencies and calls this.
 */

export interface SpawnerServiceDeps {
  readonly db: Pool;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** DLQ for malformed messages; unset leaves them to the queue's redrive policy. */
  readonly deadLetterQueueUrl?: string;
  readonly kube: KubeApi;
  readonly config: KubernetesConfig;
  readonly logger: Logger;
  /** Default: a fresh registry with the default process metrics. */
  readonly metrics?: SpawnerMetrics;
  /** Size and placement of the runner pods. Default: the Job template's resources, any node. */
  readonly runnerPod?: RunnerPodOptions;
}

export interface SpawnerServiceOptions {
  /** Messages handled at once. Default 10. */
  readonly concurrency?: number;
  /** Reconciler interval, ms; 0: no reconciler. Default 15000. */
  readonly reconcileIntervalMs?: number;
  /** Stuck image pull limit, ms. Default 120000. */
  readonly stuckPullLimitMs?: number;
  /** When an execution with no live Job is overdue. Default: from the default settings (contracts/settings.ts). */
  readonly staleRunPolicy?: StaleRunPolicy;
  /** Health port; 0 picks a free one; null serves none. Default 8080. */
  readonly port?: number | null;
  /** Listen address of the health port. Default 0.0.0.0. */
  readonly host?: string;
  /** Long-poll wait per receive, seconds. Default: the queue's ReceiveMessageWaitTimeSeconds (20 from `khctl queue ensure`). */
  readonly waitTimeSeconds?: number;
  /** Visibility timeout of received messages, seconds. Default 60. */
  readonly visibilityTimeoutSeconds?: number;
}

export interface SpawnerService extends Stoppable {
  readonly metrics: SpawnerMetrics;
  /** Resolves when the spawner has stopped. */
  readonly done: Promise<void>;
  /** The health server's base URL, when one is served. */
  readonly healthUrl: string | undefined;
  /**
   * Graceful stop: /readyz turns 503, receiving stops, in-flight creates finish (or are released after
   * timeoutMs), the reconciler and the health port stop. Idempotent.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export async function startSpawnerService(
  deps: SpawnerServiceDeps,
  options: SpawnerServiceOptions = {},
): Promise<SpawnerService> {
  const { db, sqs, queueUrl, kube, config, logger } = deps;
  const metrics = deps.metrics ?? createSpawnerMetrics();
  const health = options.port === null ? undefined : await startHealth(deps, options, metrics);
  const launcher = createJobLauncher({ db, kube, config, metrics, runnerPod: deps.runnerPod });
  const consumer = startIntake({
    db,
    launcher,
    sqs,
    queueUrl,
    deadLetterQueueUrl: deps.deadLetterQueueUrl,
    concurrency: options.concurrency ?? 10,
    waitTimeSeconds: options.waitTimeSeconds,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    logger,
    onMessage: () => metrics.messagesReceived.inc(),
  });
  const reconcileLoop = startReconcileLoop(deps, options, metrics);
  logger.info(
    {
      queueUrl,
      namespace: config.namespace,
      maxConcurrentJobs: config.maxConcurrentJobs,
      health: health?.url,
    },
    "spawner started",
  );

  let stopping: Promise<void> | undefined;
  const stop = ({ timeoutMs }: { timeoutMs?: number } = {}) => {
    if (stopping) return consumer.stop({ timeoutMs }).then(() => stopping);
    stopping = (async () => {
      health?.markStopping();
      logger.info({ inFlight: consumer.inFlight() }, "spawner stopping: no more receives, finishing creates");
      await Promise.all([consumer.stop({ timeoutMs }), reconcileLoop?.stop()]);
      await health?.close();
      logger.info("spawner stopped");
    })();
    return stopping;
  };
  return { metrics, healthUrl: health?.url, done: consumer.done.then(() => stopping), stop };
}

/** The reconciler on its interval (none when the interval is 0). */
function startReconcileLoop(
  deps: SpawnerServiceDeps,
  options: SpawnerServiceOptions,
  metrics: SpawnerMetrics,
): Periodic | undefined {
  const intervalMs =
    options.reconcileIntervalMs ?? STALE_RUN_SETTINGS.reconcileIntervalSeconds.default * 1000;
  if (intervalMs <= 0) return undefined;
  const reconciler = createReconciler({
    db: deps.db,
    kube: deps.kube,
    metrics,
    logger: deps.logger,
    options: {
      stuckPullLimitMs: options.stuckPullLimitMs ?? SPAWNER_SETTINGS.stuckPullLimitSeconds.default * 1000,
      policy:
        options.staleRunPolicy ??
        staleRunPolicy({
          runTimeoutMs: resolveRunnerTimeouts({}).runTimeoutMs,
          lostRunGraceSeconds: STALE_RUN_SETTINGS.lostRunGraceSeconds.default,
          pendingLimitSeconds: STALE_RUN_SETTINGS.pendingLimitSeconds.default,
        }),
    },
  });
  return startPeriodic(() => reconciler.reconcileOnce(), {
    intervalMs,
    logger: deps.logger,
    what: "reconcile pass",
  });
}

function startHealth(
  deps: SpawnerServiceDeps,
  options: SpawnerServiceOptions,
  metrics: SpawnerMetrics,
): Promise<HealthServer> {
  return startHealthServer({
    port: options.port ?? undefined,
    host: options.host,
    registry: metrics.registry,
    checks: {
      queue: () =>
        deps.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: deps.queueUrl, AttributeNames: ["QueueArn"] }),
        ),
      kubernetes: () => deps.kube.batch.getAPIResources(),
    },
  });
}
