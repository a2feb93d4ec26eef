import { type Command, Option } from "commander";
import { ENV } from "../../contracts/names.js";
import { RUNNER_SETTINGS } from "../../contracts/settings.js";
import { type RunTimeouts, resolveRunnerTimeouts } from "../../runner/timeouts.js";
import { COMMAND_LIST } from "../command-list.js";
import { FOUND_BY_ITSELF } from "../env-help.js";
import { CliError } from "../errors.js";
import { type RunFlags, runCommand } from "../run-command.js";
import { addSettingOptions, flagSetting } from "../settings.js";

export type { RunTimeouts };

/** Timeouts from the flags, then env, then defaults (runner/timeouts.ts); a bad flag is a usage error. */
export function resolveTimeouts(command: Command, env: NodeJS.ProcessEnv = process.env): RunTimeouts {
  const seconds = (value: number | undefined) => (value === undefined ? undefined : Math.round(value * 1000));
  return resolveRunnerTimeouts(env, {
    stepTimeoutMs: seconds(flagSetting(command, RUNNER_SETTINGS.stepTimeoutSeconds)),
    runTimeoutMs: seconds(flagSetting(command, RUNNER_SETTINGS.runTimeoutSeconds)),
  });
}

const HELP = `
Environment (a flag overrides its variable, shown with each flag above):
  ${ENV.databaseUrl}          where the execution is recorded (${FOUND_BY_ITSELF})
  ${ENV.executionId}          the execution to run when no argument is given
  ${ENV.workflowId}           without an execution id: create one for this workflow and run it (original
                        runner's contract); with one: checked against the execution's workflow
  ${ENV.scheduleId}           with ${ENV.workflowId}: the created execution is a scheduled one for now
  ${ENV.workflowInput}        the run input (JSON object) for a created execution
  ${ENV.jobActiveDeadline}    when set (runner Jobs), the run timeout defaults to it minus 10 s
  ${ENV.logLevel}            runner log level on stderr (default info; warn with --workflow)

Exit codes, khctl run <executionId>: 0 when the run was recorded, whatever its status (also when another
runner already has it: nothing is run, and it says so); 1 when there is nothing to run (no id, unknown
execution) or recording failed. With --workflow: 0 when the run succeeded, 1 when it did not.
SIGTERM/SIGINT abort the steps in flight and record the execution as cancelled with the signal's name;
a second signal exits at once.`;

export function register(program: Command): void {
  const command = program
    .command("run")
    .description(COMMAND_LIST.run.summary)
    .argument("[executionId]", `the pending execution to run (default: env ${ENV.executionId})`)
    .option(
      "--workflow <workflow>",
      "create a manual execution of this workflow (id or name) and run it now, in this process",
    )
    .option(
      "--input <json>",
      `the run input as a JSON object, with --workflow (default: env ${ENV.workflowInput})`,
    )
    .option("--json", "print the result as JSON (with --workflow: the execution and its steps)")
    .addOption(
      new Option(
        "--id-from-stdin",
        "start and connect first, then read the execution id from stdin (the executor's warm runners); stdin closed without one: exit 0",
      ).conflicts(["workflow"]),
    );
  addSettingOptions(command, RUNNER_SETTINGS)
    .addHelpText("after", HELP)
    .action(async (argument: string | undefined, flags: RunFlags, self: Command) => {
      if (flags.workflow && argument)
        throw new CliError("give either <executionId> or --workflow, not both", 2);
      if (flags.idFromStdin && argument)
        throw new CliError("give either <executionId> or --id-from-stdin", 2);
      if (flags.input !== undefined && !flags.workflow) throw new CliError("--input goes with --workflow", 2);
      await runCommand(argument, flags, resolveTimeouts(self));
    });
}
