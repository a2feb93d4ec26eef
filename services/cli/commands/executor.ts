import type { Command } from "commander";
import { ENV, EXECUTOR_ENV, RUNNER_ENV } from "../../contracts/names.js";
import { loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { createLogger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { onStopSignals } from "../../dev/signals.js";
import { startExecutor } from "../../executor/executor.js";
import {
  DEFAULT_LOST_RUN_GRACE_SECONDS,
  DEFAULT_LOST_RUN_SWEEP_INTERVAL_MS,
} from "../../executor/lost-runs.js";
import { createSqsClient } from "../../queue/client.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { resolveRunnerTimeouts } from "../../runner/timeouts.js";
import { formatDuration, numberSetting } from "../shared.js";

interface ExecutorFlags {
  concurrency?: string;
  shutdownTimeout?: string;
  lostRunGrace?: string;
  lostRunSweep?: string;
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
    .option(
      "--lost-run-grace <seconds>",
      `a running execution not run by this executor counts as lost this long after its run timeout [${EXECUTOR_ENV.lostRunGraceSeconds}, default ${DEFAULT_LOST_RUN_GRACE_SECONDS}]`,
    )
    .option(
      "--lost-run-sweep <seconds>",
      `seconds between lost-run sweeps, 0 for none [${EXECUTOR_ENV.lostRunSweepSeconds}, default ${DEFAULT_LOST_RUN_SWEEP_INTERVAL_MS / 1000}]`,
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
  ${EXECUTOR_ENV.lostRunGraceSeconds}, ${EXECUTOR_ENV.lostRunSweepSeconds}   see the flags
  ${RUNNER_ENV.stepTimeoutSeconds}, ${RUNNER_ENV.runTimeoutSeconds}, ${ENV.jobActiveDeadline}   reach each run (see khctl run --help);
                        the run timeout also sets when a run counts as lost
  ${ENV.logLevel}            default info

A message is deleted only after its execution is recorded as finished. A redelivered message for an
execution that is finished or running is not run again. Malformed messages go to the DLQ at once.
Lost runs: at start and every --lost-run-sweep seconds, an execution still running longer than the run
timeout plus --lost-run-grace (database clock), and not run by this executor, lost its runner (an executor
died with it): it is recorded as error "runner lost: ..." and counted on its schedule. With a run timeout
of 0 there is no bound, and no sweep.
SIGTERM/SIGINT: stop receiving, let running executions finish (up to --shutdown-timeout), then cancel
them (recorded as cancelled), exit 0. A second signal cancels at once.`,
    )
    .action(async (flags: ExecutorFlags) => {
      const concurrency = Math.floor(
        numberSetting(flags.concurrency, "--concurrency", EXECUTOR_ENV.concurrency, 4, 1),
      );
      const shutdownSeconds = numberSetting(
        flags.shutdownTimeout,
        "--shutdown-timeout",
        EXECUTOR_ENV.shutdownTimeoutSeconds,
        30,
        0,
      );
      const lostRunGrace = numberSetting(
        flags.lostRunGrace,
        "--lost-run-grace",
        EXECUTOR_ENV.lostRunGraceSeconds,
        DEFAULT_LOST_RUN_GRACE_SECONDS,
        0,
      );
      const lostRunSweep = numberSetting(
        flags.lostRunSweep,
        "--lost-run-sweep",
        EXECUTOR_ENV.lostRunSweepSeconds,
        DEFAULT_LOST_RUN_SWEEP_INTERVAL_MS / 1000,
        0,
      );
      // The children get this process's env, so their run timeout is this one.
      const { runTimeoutMs } = resolveRunnerTimeouts(process.env);
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
          lostRuns: { runTimeoutMs, graceSeconds: lostRunGrace, intervalMs: lostRunSweep * 1000 },
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
        logger.info(
          { concurrency, queueUrl: queue.queueUrl, runTimeoutSeconds: runTimeoutMs / 1000 },
          "executor started",
        );
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
