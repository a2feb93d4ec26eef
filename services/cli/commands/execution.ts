import { type Command, Option } from "commander";
import { ENV } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { cancelExecution, notCancellable } from "../../db/executions.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine } from "../env-help.js";
import { CliError } from "../errors.js";
import { type ListFlags, listExecutions, STATUS_FILTERS, TRIGGER_FILTERS } from "../execution-list.js";
import { loadReport, renderReport } from "../execution-report.js";
import { commandSettings, settingOption } from "../settings.js";
import { printJson, withDatabase } from "../shared.js";

const DATABASE_HELP = envHelp([
  foundLine(ENV.databaseUrl, "the Postgres holding the executions"),
]).trimStart();

function registerList(execution: Command): void {
  execution
    .command("list")
    .description(
      "list executions, newest first: filter by workflow, status, trigger and time; --watch follows new ones",
    )
    .option("--workflow <workflow>", "only this workflow's (its id, or its name)")
    .addOption(new Option("--status <status>", "only executions with this status").choices(STATUS_FILTERS))
    .addOption(new Option("--trigger <type>", "only executions with this trigger").choices(TRIGGER_FILTERS))
    .option(
      "--since <when>",
      "created at or after: a duration before now (30s, 15m, 1h, 7d) or a time (ISO 8601)",
    )
    .option("--until <when>", "created before: a duration before now or a time")
    .addOption(settingOption(FLAG_SETTINGS.executionListLimit))
    .option("--before <cursor>", "the next (older) page: the cursor the previous page ended with")
    .option("--json", "print {executions, next} as JSON (with --watch: one execution per line)")
    .option("--watch", "after the page, follow new and changed executions until Ctrl-C")
    .addHelpText(
      "after",
      `
${DATABASE_HELP}

Pages are keyset pages (the console's query): --before <next> reads the next one at the same cost.
Examples:
  khctl execution list --workflow "Demo API: status check" --status error --since 1h
  khctl execution list --since 1d --json | jq '.executions[].id'
  khctl execution list --watch`,
    )
    .action(async (_own: ListFlags, command: Command) => {
      // `--json` is also the parent's (`execution <id> --json`), which commander gives it: read both.
      const { limit } = commandSettings(command, { limit: FLAG_SETTINGS.executionListLimit });
      const flags = { ...command.optsWithGlobals<ListFlags>(), limit };
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await withDatabase((pool) => listExecutions(pool, flags, stop.signal));
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}

/** The reason a cancel from the command line is recorded with. */
export const CLI_CANCEL_REASON = "cancelled with khctl execution cancel";

function registerCancel(execution: Command): void {
  execution
    .command("cancel")
    .description("cancel a pending or running execution (a finished one is refused)")
    .argument("<executionId>", "the execution's id")
    .option("--json", "print {executionId, cancelled, was} as JSON")
    .addHelpText(
      "after",
      `
${DATABASE_HELP}

A pending execution is recorded cancelled and never starts (no runner takes a run that is not pending).
A running one is recorded cancelled at once and its runner is stopped: khctl dev's and khctl executor's
runner processes get SIGTERM within a second (the steps in flight are aborted); in the hybrid stack the
spawner's reconciler deletes the runner Job at its next pass (its pod gets SIGTERM), and until then the
runner stops before its next step. Exit codes: 0 cancelled, 1 not found or already finished.`,
    )
    .action(async (executionId: string, _own: { json?: boolean }, command: Command) => {
      const { json } = command.optsWithGlobals<{ json?: boolean }>();
      const outcome = await withDatabase((pool) => cancelExecution(pool, executionId, CLI_CANCEL_REASON));
      if (!outcome.cancelled) throw new CliError(notCancellable(executionId, outcome.status));
      if (json) printJson({ executionId, cancelled: true, was: outcome.was });
      else
        console.log(
          outcome.was === "pending"
            ? `execution ${executionId} cancelled: it had not started, and never will`
            : `execution ${executionId} cancelled: it was running; its runner is told to stop`,
        );
    });
}

export function register(program: Command): void {
  const execution = program
    .command("execution")
    .description(COMMAND_LIST.execution.summary)
    .argument("<executionId>", "the execution's id (or list: see khctl execution list --help)")
    .option("--json", "print the execution and its steps as JSON ({execution, steps})")
    .option(
      "--show-secrets",
      "show the run's input as given (secret-named fields and URL secrets are masked)",
    )
    .addHelpText(
      "after",
      `
${DATABASE_HELP}

Secrets are masked in every view, as in the console; step inputs and outputs are recorded masked, so
--show-secrets reveals only the run's input (stored as given, since the run needs it).
Exit codes: 0 shown (whatever the execution's status), 1 not found or database unreachable.`,
    )
    .action(async (executionId: string, options: { json?: boolean; showSecrets?: boolean }) => {
      const report = await withDatabase((pool) =>
        loadReport(pool, executionId, { showSecrets: options.showSecrets }),
      );
      if (options.json) printJson(report);
      else process.stdout.write(`${renderReport(report)}\n`);
    });
  registerList(execution);
  registerCancel(execution);
}
