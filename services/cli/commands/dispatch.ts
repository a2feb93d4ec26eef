import type { Command } from "commander";
import { DISPATCHER_SETTINGS } from "../../contracts/settings.js";
import { loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { holdStopSignals, runUntilStopped } from "../../core/lifecycle.js";
import { createLogger, type Logger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { type DispatchReport, dispatchOnce, startDispatcherLoop } from "../../dispatcher/dispatcher.js";
import { createSqsClient } from "../../queue/client.js";
import { sendWorkflowMessages } from "../../queue/send.js";
import { COMMAND_LIST } from "../command-list.js";
import {
  databaseLine,
  envHelp,
  FLAGS_OVER_ENV,
  LOG_LEVEL_LINE,
  queueLine,
  SQS_CONNECTION,
} from "../env-help.js";
import { CliError } from "../errors.js";
import { addSettingOptions, commandSettings } from "../settings.js";
import { printJson } from "../shared.js";

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

const HELP = `${envHelp([databaseLine(), queueLine(), ...SQS_CONNECTION, LOG_LEVEL_LINE], FLAGS_OVER_ENV)}

Semantics: one execution per schedule slot (UNIQUE (schedule_id, scheduled_for)); the slot is claimed and
next_run_at advanced in one transaction, messages are sent after the commit, and executions whose send
did not happen are re-sent by the next pass (outbox). After downtime only the most recent missed slot
fires, if within the catch-up window; older ones are skipped and logged. Times are the database's clock.

Exit codes (once-mode): 0 the pass is done; 1 it could not do its work (database or queue unreachable,
messages left unsent). A rerun after a failure is safe. --loop exits 0 after SIGTERM/SIGINT (a pass in
progress finishes first).`;

export function register(program: Command): void {
  const command = program
    .command("dispatch")
    .description(COMMAND_LIST.dispatch.summary)
    .option("--loop", "keep dispatching every --interval seconds until SIGTERM/SIGINT")
    .option("--json", "once-mode: print the pass report as JSON");
  addSettingOptions(command, DISPATCHER_SETTINGS)
    .addHelpText("after", HELP)
    .action(async (flags: { loop?: boolean; json?: boolean }, self: Command) => {
      if (flags.loop) holdStopSignals();
      const settings = commandSettings(self, DISPATCHER_SETTINGS);
      const { databaseUrl } = loadDatabaseConfig();
      const queue = loadQueueConfig();
      const logger = createLogger("dispatcher");
      const pool = createPool(databaseUrl, { applicationName: "khctl-dispatch", max: 6 });
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
          logger.info({ intervalSeconds: settings.intervalSeconds }, "dispatcher started");
          // A pass is short and bounded: the graceful stop lets it finish.
          await runUntilStopped(loop, { shutdownTimeoutMs: 0, say: (line) => logger.info(line) });
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
