import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { EXECUTOR_SETTINGS, RUNNER_SETTINGS, STALE_RUN_SETTINGS } from "../../contracts/settings.js";
import { loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { formatDuration } from "../../core/duration.js";
import { holdStopSignals, runUntilStopped } from "../../core/lifecycle.js";
import { createLogger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { staleRunPolicy } from "../../db/stale-run-policy.js";
import { startExecutor } from "../../executor/executor.js";
import { createSqsClient } from "../../queue/client.js";
import { prepareConsumerQueues } from "../../queue/ensure.js";
import { resolveRunnerTimeouts } from "../../runner/timeouts.js";
import { COMMAND_LIST } from "../command-list.js";
import {
  databaseLine,
  envHelp,
  FLAGS_OVER_ENV,
  LOG_LEVEL_LINE,
  QUEUE_RESTORE_HELP,
  queueLine,
  SQS_CONNECTION,
} from "../env-help.js";
import { addSettingOptions, commandSettings } from "../settings.js";

const HELP = `${envHelp(
  [
    databaseLine("postgres:// URL (passed on to each khctl run)"),
    queueLine(),
    ...SQS_CONNECTION,
    [
      `${RUNNER_SETTINGS.stepTimeoutSeconds.env}, ${RUNNER_SETTINGS.runTimeoutSeconds.env}, ${ENV.jobActiveDeadline}`,
      "reach each run (see khctl run --help); the run timeout also sets when a run counts as lost",
    ],
    LOG_LEVEL_LINE,
  ],
  FLAGS_OVER_ENV,
)}

A message is deleted only after its execution is recorded as finished. A redelivered message for an
execution that is finished or running is not run again. Malformed messages go to the DLQ at once.
Stale runs: at start and every --reconcile-interval seconds, an execution still running longer than the
run timeout plus --lost-run-grace (database clock), and not run by this executor, lost its runner (an
executor died with it): it is recorded as error "runner lost: ..." and counted on its schedule. One whose
message was sent longer than --pending-limit ago and that no executor started is recorded as error
"never started: ...". With a run timeout of 0, running executions never count as lost.
${QUEUE_RESTORE_HELP}
SIGTERM/SIGINT: stop receiving, let running executions finish (up to --shutdown-timeout), then cancel
them (recorded as cancelled), exit 0. A second signal cancels them at once.`;

export function register(program: Command): void {
  const command = program.command("executor").description(COMMAND_LIST.executor.summary);
  addSettingOptions(command, EXECUTOR_SETTINGS);
  addSettingOptions(command, STALE_RUN_SETTINGS)
    .addHelpText("after", HELP)
    .action((_flags: unknown, self: Command) => runExecutor(self));
}

/** `khctl executor`: the intake with child-process runs until a stop signal. */
async function runExecutor(self: Command): Promise<void> {
  holdStopSignals();
  const settings = {
    ...commandSettings(self, EXECUTOR_SETTINGS),
    ...commandSettings(self, STALE_RUN_SETTINGS),
  };
  // The children get this process's env, so their run timeout is this one.
  const { runTimeoutMs } = resolveRunnerTimeouts(process.env);
  const { databaseUrl } = loadDatabaseConfig();
  const queue = loadQueueConfig();
  const logger = createLogger("executor");
  const pool = createPool(databaseUrl, {
    applicationName: "khctl-executor",
    max: Math.max(4, settings.concurrency),
  });
  const sqs = createSqsClient(queue);
  try {
    const { deadLetterQueueUrl } = await prepareConsumerQueues(sqs, queue.queueUrl, logger);
    const executor = startExecutor({
      pool,
      sqs,
      queueUrl: queue.queueUrl,
      deadLetterQueueUrl,
      logger,
      concurrency: settings.concurrency,
      warmRunners: settings.warmRunners,
      staleRuns: {
        policy: staleRunPolicy({ runTimeoutMs, ...settings }),
        intervalMs: settings.reconcileIntervalSeconds * 1000,
      },
    });
    executor.events.on("start", (e) =>
      logger.info({ executionId: e.executionId, pid: e.pid }, "execution started"),
    );
    executor.events.on("end", (e) =>
      logger.info(
        { executionId: e.executionId, status: e.status, process: formatDuration(e.processMs) },
        "execution finished",
      ),
    );
    logger.info(
      {
        concurrency: settings.concurrency,
        queueUrl: queue.queueUrl,
        runTimeoutSeconds: runTimeoutMs / 1000,
      },
      "executor started",
    );
    await runUntilStopped(executor, {
      shutdownTimeoutMs: settings.shutdownTimeoutSeconds * 1000,
      say: (line) => logger.info(line),
    });
    logger.info("executor stopped");
  } finally {
    sqs.destroy();
    await pool.end();
    logger.flush();
  }
}
