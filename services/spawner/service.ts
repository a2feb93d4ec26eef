import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { KubernetesConfig } from "../core/config.js";
import type { Logger } from "../core/logger.js";
import type { Pool } from "../db/pool.js";
import { startConsumer } from "../queue/consumer.js";
import { type HealthServer, startHealthServer } from "./http.js";
import type { KubeApi } from "./kube.js";
import { createSpawnerMetrics, type SpawnerMetrics } from "./metrics.js";
import { createReconciler, startReconcileLoop } from "./reconciler.js";
import { createJobSpawner, type JobSpawner } from "./spawner.js";

/**
 * The running spawner: the shared consumer loop feeding the JobSpawner, the reconciler on its interval,
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
}

export interface SpawnerServiceOptions {
  /** Messages handled at once. Default 10. */
  readonly concurrency?: number;
  /** Reconciler interval, ms. Default 15000. */
  readonly reconcileIntervalMs?: number;
  /** Stuck image pull limit, ms. Default 120000. */
  readonly stuckPullLimitMs?: number;
  /** Seconds before an execution with no Job is "runner lost". Default JOB_ACTIVE_DEADLINE + 600. */
  readonly lostAfterSeconds?: number;
  /** Health port; 0 picks a free one; null serves none. Default 8080. */
  readonly port?: number | null;
  /** Listen address of the health port. Default 0.0.0.0. */
  readonly host?: string;
  /** Long-poll wait, seconds. Default 20. */
  readonly waitTimeSeconds?: number;
  /** Visibility timeout of received messages, seconds. Default 60. */
  readonly visibilityTimeoutSeconds?: number;
}

export interface SpawnerService {
  readonly spawner: JobSpawner;
  readonly metrics: SpawnerMetrics;
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
  const spawner = createJobSpawner({ db, kube, config, metrics });

  let health: HealthServer | undefined;
  if (options.port !== null) {
    health = await startHealthServer({
      port: options.port ?? undefined,
      host: options.host,
      registry: metrics.registry,
      checks: {
        queue: () =>
          sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] })),
        kubernetes: () => kube.batch.getAPIResources(),
      },
    });
  }

  const consumer = startConsumer({
    sqs,
    queueUrl,
    deadLetterQueueUrl: deps.deadLetterQueueUrl,
    handle: spawner.handle,
    capacity: spawner.capacity,
    concurrency: options.concurrency ?? 10,
    waitTimeSeconds: options.waitTimeSeconds,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    logger,
  });

  const reconciler = createReconciler({
    db,
    kube,
    metrics,
    logger,
    options: {
      stuckPullLimitMs: options.stuckPullLimitMs ?? 120_000,
      lostAfterSeconds: options.lostAfterSeconds ?? config.jobActiveDeadlineSeconds + 600,
    },
  });
  const reconcileLoop = startReconcileLoop(reconciler, {
    intervalMs: options.reconcileIntervalMs ?? 15_000,
    logger,
  });
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
  return {
    spawner,
    metrics,
    healthUrl: health?.url,
    stop({ timeoutMs } = {}) {
      stopping ??= (async () => {
        health?.markStopping();
        logger.info(
          { inFlight: spawner.inFlight() },
          "spawner stopping: no more receives, finishing creates",
        );
        await Promise.all([consumer.stop({ timeoutMs }), reconcileLoop.stop()]);
        await health?.close();
        logger.info("spawner stopped");
      })();
      return stopping;
    },
  };
}
