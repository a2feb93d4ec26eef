import type { Command } from "commander";
import { DISPATCHER_ENV, ENV } from "../../contracts/names.js";
import { loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { createLogger, type Logger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { onStopSignals } from "../../dev/signals.js";
import {
  DEFAULT_CATCH_UP_WINDOW_MS,
  type DispatchReport,
  dispatchOnce,
  startDispatcherLoop,
} from "../../dispatcher/dispatcher.js";
import { createSqsClient } from "../../queue/client.js";
import { sendWorkflowMessages } from "../../queue/send.js";
import { CliError } from "../errors.js";
import { numberSetting, printJson } from "../shared.js";

interface DispatchFlags {
  loop?: boolean;
  interval?: string;
  catchUpWindow?: string;
  batchSize?: string;
  json?: boolean;
}

export interface DispatchSettings {
  /** Seconds between passes in --loop. Default 5. */
  readonly intervalSeconds: number;
  /** Missed slots older than this are skipped, seconds. Default 600. */
  readonly catchUpWindowSeconds: number;
  /** Due schedules claimed per transaction. Default 500. */
  readonly batchSize: number;
}

export function resolveDispatchSettings(
  flags: DispatchFlags,
  env: NodeJS.ProcessEnv = process.env,
): DispatchSettings {
  return {
    intervalSeconds: numberSetting(flags.interval, "--interval", DISPATCHER_ENV.intervalSeconds, 5, 0.1, env),
    catchUpWindowSeconds: numberSetting(
      flags.catchUpWindow,
      "--catch-up-window",
      DISPATCHER_ENV.catchUpWindowSeconds,
      DEFAULT_CATCH_UP_WINDOW_MS / 1000,
      0,
      env,
    ),
    batchSize: Math.floor(
      numberSetting(flags.batchSize, "--batch-size", DISPATCHER_ENV.batchSize, 500, 1, env),
    ),
  };
}

function logPass(logger: Logger, report: DispatchReport): void {
  if (report.dispatched.length || report.skipped.length || report.unsent || report.sent) {
    logger.info(
      {
        dispatched: report.dispatched.length,
        sent: report.sent,
        unsent: report.unsent,
        skipped: report.skipped.length,
      },
      "dispatch pass",
    );
  }
}

export function register(program: Command): void {
  program
    .command("dispatch")
    .description(
      "find due cron slots, create one execution per slot and enqueue it; one pass (the CronJob), or --loop",
    )
    .option("--loop", "keep dispatching every --interval seconds until SIGTERM/SIGINT")
    .option(
      "--interval <seconds>",
      `seconds between passes with --loop [${DISPATCHER_ENV.intervalSeconds}, default 5]`,
    )
    .option(
      "--catch-up-window <seconds>",
      `a missed slot older than this is skipped, not fired [${DISPATCHER_ENV.catchUpWindowSeconds}, default 600]`,
    )
    .option(
      "--batch-size <n>",
      `due schedules claimed per transaction [${DISPATCHER_ENV.batchSize}, default 500]`,
    )
    .option("--json", "once-mode: print the pass report as JSON")
    .addHelpText(
      "after",
      `
Environment (a flag overrides its variable):
  ${ENV.databaseUrl}          (required) postgres:// URL
  ${ENV.sqsQueueUrl}         (required) the workflow queue (khctl queue ensure prints it)
  ${ENV.awsEndpointUrl}      SQS endpoint (LocalStack, fauxqs); unset = AWS
  ${ENV.awsRegion}            default us-east-1
  ${ENV.awsAccessKeyId}, ${ENV.awsSecretAccessKey}   default test/test when ${ENV.awsEndpointUrl} is set
  ${DISPATCHER_ENV.intervalSeconds}, ${DISPATCHER_ENV.catchUpWindowSeconds}, ${DISPATCHER_ENV.batchSize}   see the flags
  ${ENV.logLevel}            default info

Semantics: one execution per schedule slot (UNIQUE (schedule_id, scheduled_for)); the slot is claimed and
next_run_at advanced in one transaction, messages are sent after the commit, and executions whose send
did not happen are re-sent by the next pass (outbox). After downtime only the most recent missed slot
fires, if within the catch-up window; older ones are skipped and logged. Times are the database's clock.

Exit codes (once-mode): 0 the pass is done; 1 it could not do its work (database or queue unreachable,
messages left unsent). A rerun after a failure is safe. --loop exits 0 after SIGTERM/SIGINT.`,
    )
    .action(async (flags: DispatchFlags) => {
      const settings = resolveDispatchSettings(flags);
      const { databaseUrl } = loadDatabaseConfig();
      const queue = loadQueueConfig();
      const logger = createLogger("dispatcher");
      const pool = createPool(databaseUrl, { applicationName: "khctl-dispatch", max: 4 });
      const sqs = createSqsClient(queue);
      const options = {
        pool,
        logger,
        send: (messages: Parameters<typeof sendWorkflowMessages>[2]) =>
          sendWorkflowMessages(sqs, queue.queueUrl, messages),
        batchSize: settings.batchSize,
        catchUpWindowMs: settings.catchUpWindowSeconds * 1000,
      };
      try {
        if (flags.loop) {
          const loop = startDispatcherLoop({
            ...options,
            intervalMs: settings.intervalSeconds * 1000,
            onPass: (report) => logPass(logger, report),
          });
          const signals = onStopSignals({ graceful: () => void loop.stop(), force: () => void loop.stop() });
          logger.info({ intervalSeconds: settings.intervalSeconds }, "dispatcher started");
          await loop.done;
          signals.dispose();
          logger.info("dispatcher stopped");
          return;
        }
        const report = await dispatchOnce(options);
        if (flags.json) printJson(report);
        else logPass(logger, report);
        if (report.unsent > 0) {
          throw new CliError(
            `${report.unsent} message(s) could not be sent; they stay in the outbox and the next pass re-sends them`,
          );
        }
      } finally {
        sqs.destroy();
        await pool.end();
        logger.flush();
      }
    });
}
