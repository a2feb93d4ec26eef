import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { loadDatabaseConfig, loadQueueConfig } from "../../core/config.js";
import { errorMessage } from "../../core/errors.js";
import { handleStopSignals } from "../../core/lifecycle.js";
import { waitForExecution } from "../../db/executions.js";
import { createPool, type Pool } from "../../db/pool.js";
import { triggerWorkflow } from "../../dispatcher/trigger.js";
import { createSqsClient } from "../../queue/client.js";
import { sendWorkflowMessages } from "../../queue/send.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine, SQS_CONNECTION } from "../env-help.js";
import { CliError } from "../errors.js";
import { loadReport, renderReport } from "../execution-report.js";
import { commandSettings, settingOption } from "../settings.js";
import { parseRunInput, printJson } from "../shared.js";
import { resolveWorkflow } from "../workflow-ref.js";

interface TriggerFlags {
  input?: string;
  wait?: boolean;
  json?: boolean;
}

const HELP = `${envHelp([
  foundLine(ENV.databaseUrl, "postgres:// URL"),
  foundLine(ENV.sqsQueueUrl, "the workflow queue"),
  ...SQS_CONNECTION,
])}

Something must consume the queue (khctl executor, khctl spawner, or khctl dev) for the run to happen.
If the send fails the execution stays in the outbox (exit 1); the next dispatcher pass sends it.
Exit codes: 0 enqueued (with --wait: the run succeeded); 1 failure, a failed run, or the timeout.`;

export function register(program: Command): void {
  program
    .command("trigger")
    .description(COMMAND_LIST.trigger.summary)
    .argument("<workflow>", "the workflow to run: its id, or its name when no other workflow has that name")
    .option(
      "--input <json>",
      "the run input, a JSON object (the trigger's output is {triggeredAt, ...input})",
    )
    .option("--wait", "follow the execution to its end, print its steps; exit 1 unless it succeeded")
    .addOption(settingOption(FLAG_SETTINGS.triggerWaitSeconds))
    .option("--json", "print the execution id (and with --wait, the execution and its steps) as JSON")
    .addHelpText("after", HELP)
    .action(trigger);
}

async function trigger(ref: string, flags: TriggerFlags, self: Command): Promise<void> {
  const input = parseRunInput(flags.input, "--input");
  const { timeoutSeconds } = commandSettings(self, { timeoutSeconds: FLAG_SETTINGS.triggerWaitSeconds });
  const { databaseUrl } = loadDatabaseConfig();
  const queue = loadQueueConfig();
  const pool = createPool(databaseUrl, { applicationName: "khctl-trigger", max: 2 });
  const sqs = createSqsClient(queue);
  try {
    const workflow = await resolveWorkflow(pool, ref);
    const executionId = await enqueue(pool, sqs, queue.queueUrl, workflow.id, input);
    if (!flags.wait) {
      if (flags.json) printJson({ executionId });
      else console.log(executionId);
      return;
    }
    if (!flags.json) process.stderr.write(`execution ${executionId} enqueued; waiting for it…\n`);
    await waitAndReport(pool, executionId, timeoutSeconds * 1000, flags.json === true);
  } finally {
    sqs.destroy();
    await pool.end();
  }
}

/** Creates the execution and sends its message through the outbox; one line when either fails. */
async function enqueue(
  pool: Pool,
  sqs: SQSClient,
  queueUrl: string,
  workflowId: string,
  input: Record<string, unknown>,
): Promise<string> {
  let result: Awaited<ReturnType<typeof triggerWorkflow>>;
  try {
    result = await triggerWorkflow(
      pool,
      (messages) => sendWorkflowMessages(sqs, queueUrl, messages),
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
  return result.executionId;
}

/** Follows the execution to its end and prints its report; a signal stops the waiting, not the run. */
async function waitAndReport(
  pool: Pool,
  executionId: string,
  timeoutMs: number,
  json: boolean,
): Promise<void> {
  const stop = new AbortController();
  const waiting = { done: new Promise<void>(() => {}), stop: async () => stop.abort() };
  const signals = handleStopSignals(waiting, {
    shutdownTimeoutMs: 0,
    stopping: "no longer waiting; the run itself goes on",
    say: (line) => process.stderr.write(`${line}\n`),
  });
  let row: Awaited<ReturnType<typeof waitForExecution>>;
  try {
    row = await waitForExecution(pool, executionId, { timeoutMs, signal: stop.signal });
  } catch (error) {
    throw new CliError(errorMessage(error));
  } finally {
    signals.dispose();
  }
  const report = await loadReport(pool, executionId);
  if (json) printJson(report);
  else console.log(renderReport(report));
  if (row.status !== "success") {
    const error = report.execution.error;
    throw new CliError(`execution ${row.id} ended ${row.status}${error ? `: ${error}` : ""}`);
  }
}
