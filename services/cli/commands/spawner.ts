import type { Command } from "commander";
import { SPAWNER_HEALTH } from "../../contracts/names.js";
import { loadDatabaseConfig, loadKubernetesConfig, loadQueueConfig } from "../../core/config.js";
import { errorMessage } from "../../core/errors.js";
import { loadKubeConfig } from "../../core/kube-config.js";
import { createLogger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { createSqsClient } from "../../queue/client.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { loadSpawnerSettings, SPAWNER_ENV } from "../../spawner/config.js";
import { createKubeApi } from "../../spawner/kube.js";
import { startSpawnerService } from "../../spawner/service.js";

interface SpawnerFlags {
  port?: string;
  concurrency?: string;
  reconcileInterval?: string;
  stuckPullLimit?: string;
  lostAfter?: string;
  context?: string;
  requestTimeout?: string;
  shutdownTimeout?: string;
}

// Each flag overrides its env var, so one validation (and one error message) covers both.
const FLAG_ENV: Record<keyof SpawnerFlags, string> = {
  port: SPAWNER_ENV.port,
  concurrency: SPAWNER_ENV.concurrency,
  reconcileInterval: SPAWNER_ENV.reconcileIntervalSeconds,
  stuckPullLimit: SPAWNER_ENV.stuckPullLimitSeconds,
  lostAfter: SPAWNER_ENV.lostAfterSeconds,
  context: SPAWNER_ENV.kubeContext,
  requestTimeout: SPAWNER_ENV.requestTimeoutMs,
  shutdownTimeout: SPAWNER_ENV.shutdownTimeoutSeconds,
};

const HELP = `
Environment (a flag overrides its variable):
  DATABASE_URL                (required) postgres:// URL of the KeeperHub database
  SQS_QUEUE_URL               (required) the workflow queue (khctl queue ensure prints it)
  AWS_ENDPOINT_URL            SQS endpoint (LocalStack, fauxqs); unset = AWS
  AWS_REGION                  default us-east-1
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   default test/test against an endpoint
  RUNNER_IMAGE                (required) keeperhub-runner:<content tag> (never :latest)
  K8S_NAMESPACE               namespace of the runner Jobs, default local
  JOB_TTL_SECONDS             finished Jobs are deleted after this, default 3600
  JOB_ACTIVE_DEADLINE         a runner Job is killed after this many seconds, default 300
  MAX_CONCURRENT_JOBS         active runner Jobs at most; at the cap nothing is received, default 10
  ${SPAWNER_ENV.port.padEnd(27)} --port, default ${SPAWNER_HEALTH.port}
  ${SPAWNER_ENV.concurrency.padEnd(27)} --concurrency, default 10
  ${SPAWNER_ENV.reconcileIntervalSeconds.padEnd(27)} --reconcile-interval, default 15
  ${SPAWNER_ENV.stuckPullLimitSeconds.padEnd(27)} --stuck-pull-limit, default 120
  ${SPAWNER_ENV.lostAfterSeconds.padEnd(27)} --lost-after, default JOB_ACTIVE_DEADLINE + 600
  ${SPAWNER_ENV.kubeContext.padEnd(27)} --context (outside a cluster)
  KUBECONFIG                  kubeconfig file(s), as kubectl reads them; --kubeconfig picks one file
  ${SPAWNER_ENV.requestTimeoutMs.padEnd(27)} --request-timeout, default 10000
  ${SPAWNER_ENV.shutdownTimeoutSeconds.padEnd(27)} --shutdown-timeout, default 20
  LOG_LEVEL                   default info (JSON logs on stderr in a pod)

Kubernetes: in a pod (KUBERNETES_SERVICE_HOST set) the in-cluster service account is used unless
--context/--kubeconfig is given; elsewhere the kubeconfig and its current context.

HTTP (one port): ${SPAWNER_HEALTH.livenessPath} (alive), ${SPAWNER_HEALTH.readinessPath} (queue and Kubernetes API reachable;
503 while stopping), /metrics (Prometheus).

SIGTERM/SIGINT: stop receiving, let in-flight Job creates finish (up to --shutdown-timeout), exit 0.`;

export function register(program: Command): void {
  program
    .command("spawner")
    .description(
      "turn each queue message into one Kubernetes Job running `khctl run <executionId>`, and reconcile Jobs with executions",
    )
    .option(
      "--port <port>",
      `port of /healthz, /readyz and /metrics (0 = any free port) [${SPAWNER_ENV.port}]`,
    )
    .option(
      "--concurrency <n>",
      `messages handled (Jobs created) at once, 1-100 [${SPAWNER_ENV.concurrency}]`,
    )
    .option(
      "--reconcile-interval <seconds>",
      `seconds between reconciler passes [${SPAWNER_ENV.reconcileIntervalSeconds}]`,
    )
    .option(
      "--stuck-pull-limit <seconds>",
      `seconds a runner pod may sit in ImagePullBackOff/ErrImagePull/CreateContainerConfigError before its execution fails [${SPAWNER_ENV.stuckPullLimitSeconds}]`,
    )
    .option(
      "--lost-after <seconds>",
      `seconds after start (or creation) when a pending/running execution with no Job is "runner lost" [${SPAWNER_ENV.lostAfterSeconds}]`,
    )
    .option("--context <name>", `kubeconfig context to use [${SPAWNER_ENV.kubeContext}]`)
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
    .option(
      "--request-timeout <ms>",
      `timeout of each Kubernetes API request [${SPAWNER_ENV.requestTimeoutMs}]`,
    )
    .option(
      "--shutdown-timeout <seconds>",
      `on SIGTERM, how long in-flight creates may take before they are released [${SPAWNER_ENV.shutdownTimeoutSeconds}]`,
    )
    .addHelpText("after", HELP)
    .action(async (flags: SpawnerFlags & { kubeconfig?: string }) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const [flag, name] of Object.entries(FLAG_ENV)) {
        const value = flags[flag as keyof SpawnerFlags];
        if (value !== undefined) env[name] = value;
      }
      // Validate everything before connecting to anything: one clear line for the first bad setting.
      const { databaseUrl } = loadDatabaseConfig(env);
      const queue = loadQueueConfig(env);
      const kubernetes = loadKubernetesConfig(env);
      const settings = loadSpawnerSettings(env);
      const logger = createLogger("job-spawner", env);

      const kc = loadKubeConfig({ context: settings.kubeContext, kubeconfig: flags.kubeconfig }, env);
      const kube = createKubeApi(kc, {
        namespace: kubernetes.namespace,
        requestTimeoutMs: settings.requestTimeoutMs,
      });
      const pool = createPool(databaseUrl, { applicationName: "job-spawner" });
      const sqs = createSqsClient({ endpoint: queue.endpoint, region: queue.region }, env);
      const deadLetterQueueUrl = await findDeadLetterQueueUrl(sqs, queue.queueUrl).catch((error) => {
        logger.warn(
          { err: errorMessage(error) },
          "could not find the DLQ; poison messages go by the redrive policy",
        );
        return undefined;
      });

      const service = await startSpawnerService(
        { db: pool, sqs, queueUrl: queue.queueUrl, deadLetterQueueUrl, kube, config: kubernetes, logger },
        {
          port: settings.port,
          concurrency: settings.concurrency,
          reconcileIntervalMs: settings.reconcileIntervalSeconds * 1000,
          stuckPullLimitMs: settings.stuckPullLimitSeconds * 1000,
          lostAfterSeconds: settings.lostAfterSeconds,
        },
      );
      let stopping: Promise<void> | undefined;
      let onSignal: (signal: NodeJS.Signals) => void = () => {};
      await new Promise<void>((resolve) => {
        onSignal = (signal) => {
          if (stopping) {
            logger.warn(
              { signal },
              "already stopping; in-flight creates are released after the shutdown timeout",
            );
            return;
          }
          logger.info({ signal }, "stopping");
          stopping = service.stop({ timeoutMs: settings.shutdownTimeoutSeconds * 1000 }).then(resolve);
        };
        process.on("SIGTERM", onSignal);
        process.on("SIGINT", onSignal);
      });
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      sqs.destroy();
      await pool.end();
      logger.flush();
    });
}
