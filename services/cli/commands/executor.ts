import type { Command } from "commander";
import { ENV, EXECUTOR_ENV } from "../../contracts/names.js";
import { ConfigError, loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { createLogger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { onStopSignals } from "../../dev/signals.js";
import { startExecutor } from "../../executor/executor.js";
import { createSqsClient } from "../../queue/client.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { CliError } from "../errors.js";
import { formatDuration } from "../shared.js";

interface ExecutorFlags {
  concurrency?: string;
  shutdownTimeout?: string;
}

function setting(
  flag: string | undefined,
  flagName: string,
  envName: string,
  fallback: number,
  min: number,
): number {
  const raw = flag ?? (process.env[envName] || undefined);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    const message = `${flag !== undefined ? flagName : envName} must be a number >= ${min}, got "${raw}"`;
    throw flag !== undefined ? new CliError(message, 2) : new ConfigError(message);
  }
  return value;
}

export function register(program: Command): void {
  program
    .command("executor")
    .description(
      "consume the workflow queue and run each execution with `khctl run` in a child process (the local stack's runner)",
    )
    .option("--concurrency <n>", `executions run at once [${EXECUTOR_ENV.concurrency}, default 4]`)
    .option(
      "--shutdown-timeout <seconds>",
      `on SIGTERM, how long running executions may finish before they are cancelled [${EXECUTOR_ENV.shutdownTimeoutSeconds}, default 30]`,
    )
    .addHelpText(
      "after",
      `
Environment (a flag overrides its variable):
  ${ENV.databaseUrl}          (required) postgres:// URL (passed on to each khctl run)
  ${ENV.sqsQueueUrl}         (required) the workflow queue (khctl queue ensure prints it)
  ${ENV.awsEndpointUrl}      SQS endpoint (LocalStack, fauxqs); unset = AWS
  ${ENV.awsRegion}            default us-east-1
  ${ENV.awsAccessKeyId}, ${ENV.awsSecretAccessKey}   default test/test when ${ENV.awsEndpointUrl} is set
  ${EXECUTOR_ENV.concurrency}, ${EXECUTOR_ENV.shutdownTimeoutSeconds}   see the flags
  ${ENV.logLevel}            default info; STEP_TIMEOUT_SECONDS and RUN_TIMEOUT_SECONDS reach each run

A message is deleted only after its execution is recorded as finished. A redelivered message for an
execution that is finished or running is not run again. Malformed messages go to the DLQ at once.
SIGTERM/SIGINT: stop receiving, let running executions finish (up to --shutdown-timeout), then cancel
them (recorded as cancelled), exit 0. A second signal cancels at once.`,
    )
    .action(async (flags: ExecutorFlags) => {
      const concurrency = Math.floor(
        setting(flags.concurrency, "--concurrency", EXECUTOR_ENV.concurrency, 4, 1),
      );
      const shutdownSeconds = setting(
        flags.shutdownTimeout,
        "--shutdown-timeout",
        EXECUTOR_ENV.shutdownTimeoutSeconds,
        30,
        0,
      );
      const { databaseUrl } = loadDatabaseConfig();
      const queue = loadQueueConfig();
      const logger = createLogger("executor");
      const pool = createPool(databaseUrl, {
        applicationName: "khctl-executor",
        max: Math.max(4, concurrency),
      });
      const sqs = createSqsClient(queue);
      try {
        const deadLetterQueueUrl = await findDeadLetterQueueUrl(sqs, queue.queueUrl);
        const executor = startExecutor({
          pool,
          sqs,
          queueUrl: queue.queueUrl,
          deadLetterQueueUrl,
          logger,
          concurrency,
        });
        executor.events.on("start", (e) =>
          logger.info({ executionId: e.executionId, pid: e.pid }, "execution started"),
        );
        executor.events.on("end", (e) =>
          logger.info(
            { executionId: e.executionId, status: e.status, duration: formatDuration(e.durationMs) },
            "execution finished",
          ),
        );
        const signals = onStopSignals({
          graceful: (signal) => {
            logger.info({ signal, shutdownTimeoutSeconds: shutdownSeconds }, "stopping");
            void executor.stop({ timeoutMs: shutdownSeconds * 1000 });
          },
          force: () => void executor.stop({ timeoutMs: 0 }),
        });
        logger.info({ concurrency, queueUrl: queue.queueUrl }, "executor started");
        await executor.done;
        signals.dispose();
        logger.info("executor stopped");
      } finally {
        sqs.destroy();
        await pool.end();
        logger.flush();
      }
    });
}
