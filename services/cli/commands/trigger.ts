import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { errorMessage } from "../../core/errors.js";
import { handleStopSignals } from "../../core/lifecycle.js";
import { waitForExecution } from "../../db/executions.js";
import { createPool } from "../../db/pool.js";
import { triggerWorkflow } from "../../dispatcher/trigger.js";
import { createSqsClient } from "../../queue/client.js";
import { sendWorkflowMessages } from "../../queue/send.js";
import { CliError } from "../errors.js";
import { loadReport, renderReport } from "../execution-report.js";
import { commandSettings, settingOption } from "../settings.js";
import { printJson } from "../shared.js";

interface TriggerFlags {
  input?: string;
  wait?: boolean;
  json?: boolean;
}

function parseInput(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--input is not valid JSON: ${errorMessage(error)}`, 2);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CliError(`--input must be a JSON object, e.g. '{"key": "value"}'`, 2);
  }
  return value as Record<string, unknown>;
}

export function register(program: Command): void {
  program
    .command("trigger")
    .description("create a manual execution of a workflow and enqueue it; print the execution id")
    .argument("<workflowId>", "the workflow to run")
    .option(
      "--input <json>",
      "the run input, a JSON object (the trigger's output is {triggeredAt, ...input})",
    )
    .option("--wait", "follow the execution to its end, print its steps; exit 1 unless it succeeded")
    .addOption(settingOption(FLAG_SETTINGS.triggerWaitSeconds))
    .option("--json", "print the execution id (and with --wait, the execution and its steps) as JSON")
    .addHelpText(
      "after",
      `
Environment:
  ${ENV.databaseUrl}          (required) postgres:// URL
  ${ENV.sqsQueueUrl}         (required) the workflow queue (khctl queue ensure prints it)
  ${ENV.awsEndpointUrl}      SQS endpoint (LocalStack, fauxqs); unset = AWS
  ${ENV.awsRegion}            default us-east-1
  ${ENV.awsAccessKeyId}, ${ENV.awsSecretAccessKey}   default test/test when ${ENV.awsEndpointUrl} is set

Something must consume the queue (khctl executor, khctl spawner, or khctl dev) for the run to happen.
If the send fails the execution stays in the outbox (exit 1); the next dispatcher pass sends it.
Exit codes: 0 enqueued (with --wait: the run succeeded); 1 failure, a failed run, or the timeout.`,
    )
    .action(async (workflowId: string, flags: TriggerFlags, self: Command) => {
      const input = parseInput(flags.input);
      const { timeoutSeconds } = commandSettings(self, { timeoutSeconds: FLAG_SETTINGS.triggerWaitSeconds });
      const { databaseUrl } = loadDatabaseConfig();
      const queue = loadQueueConfig();
      const pool = createPool(databaseUrl, { applicationName: "khctl-trigger", max: 2 });
      const sqs = createSqsClient(queue);
      // A signal stops the waiting, not the run (it goes on in the executor or its Job).
      const stop = new AbortController();
      const waiting = { done: new Promise<void>(() => {}), stop: async () => stop.abort() };
      const signals = handleStopSignals(waiting, {
        shutdownTimeoutMs: 0,
        stopping: "no longer waiting; the run itself goes on",
        say: (line) => process.stderr.write(`${line}\n`),
      });
      try {
        let result: Awaited<ReturnType<typeof triggerWorkflow>>;
        try {
          result = await triggerWorkflow(
            pool,
            (messages) => sendWorkflowMessages(sqs, queue.queueUrl, messages),
            workflowId,
            input,
          );
        } catch (error) {
          throw new CliError(errorMessage(error));
        }
        if (!result.enqueued) {
          throw new CliError(
            `execution ${result.executionId} created but not enqueued (${result.error}); the next dispatcher pass sends it`,
          );
        }
        if (!flags.wait) {
          if (flags.json) printJson({ executionId: result.executionId });
          else console.log(result.executionId);
          return;
        }
        if (!flags.json) process.stderr.write(`execution ${result.executionId} enqueued; waiting for it…\n`);
        let row: Awaited<ReturnType<typeof waitForExecution>>;
        try {
          row = await waitForExecution(pool, result.executionId, {
            timeoutMs: timeoutSeconds * 1000,
            signal: stop.signal,
          });
        } catch (error) {
          throw new CliError(errorMessage(error));
        }
        const report = await loadReport(pool, result.executionId);
        if (flags.json) printJson(report);
        else console.log(renderReport(report));
        if (row.status !== "success") {
          throw new CliError(`execution ${row.id} ended ${row.status}${row.error ? `: ${row.error}` : ""}`);
        }
      } finally {
        signals.dispose();
        sqs.destroy();
        await pool.end();
      }
    });
}
