import { type Command, Option } from "commander";
import { ENV, ID_PATTERN } from "../../contracts/names.js";
import { RUNNER_SETTINGS } from "../../contracts/settings.js";
import { errorMessage } from "../../core/errors.js";
import { exitBySignal, runUntilStopped } from "../../core/lifecycle.js";
import { createLogger } from "../../core/logger.js";
import { createExecution, getExecution } from "../../db/executions.js";
import type { Pool } from "../../db/pool.js";
import { getWorkflow } from "../../db/workflows.js";
import {
  type RunExecutionOptions,
  type RunExecutionResult,
  runExecution,
  runWorkflowNow,
} from "../../runner/index.js";
import { type RunTimeouts, resolveRunnerTimeouts } from "../../runner/timeouts.js";
import { COMMAND_LIST } from "../command-list.js";
import { CliError } from "../errors.js";
import { loadReport, renderReport } from "../execution-report.js";
import { addSettingOptions, flagSetting } from "../settings.js";
import { parseRunInput, printJson, withDatabase } from "../shared.js";
import { resolveWorkflow } from "../workflow-ref.js";

interface RunFlags {
  workflow?: string;
  input?: string;
  json?: boolean;
  idFromStdin?: boolean;
}

export type { RunTimeouts };

/** Timeouts from the flags, then env, then defaults (runner/timeouts.ts); a bad flag is a usage error. */
export function resolveTimeouts(command: Command, env: NodeJS.ProcessEnv = process.env): RunTimeouts {
  const seconds = (value: number | undefined) => (value === undefined ? undefined : Math.round(value * 1000));
  return resolveRunnerTimeouts(env, {
    stepTimeoutMs: seconds(flagSetting(command, RUNNER_SETTINGS.stepTimeoutSeconds)),
    runTimeoutMs: seconds(flagSetting(command, RUNNER_SETTINGS.runTimeoutSeconds)),
  });
}

/**
 * Which execution to run: the argument or EXECUTION_ID; or, as the original runner did, a new one for
 * WORKFLOW_ID (with SCHEDULE_ID: a scheduled execution for the current time) and WORKFLOW_INPUT.
 */
async function executionToRun(
  pool: Pool,
  argument: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const executionId = argument ?? (env[ENV.executionId] || undefined);
  const workflowId = env[ENV.workflowId] || undefined;
  if (executionId) {
    if (!ID_PATTERN.test(executionId)) {
      throw new CliError(`execution id "${executionId}" is not a 21-character [0-9a-z] id`);
    }
    if (workflowId) {
      const row = await getExecution(pool, executionId);
      if (row && row.workflow_id !== workflowId) {
        throw new CliError(
          `execution ${executionId} belongs to workflow ${row.workflow_id}, not ${ENV.workflowId}=${workflowId}`,
        );
      }
    }
    return executionId;
  }
  if (workflowId) {
    if (!(await getWorkflow(pool, workflowId))) throw new CliError(`workflow ${workflowId} does not exist`);
    const scheduleId = env[ENV.scheduleId] || undefined;
    return createExecution(pool, {
      workflowId,
      triggerType: scheduleId ? "schedule" : "manual",
      scheduleId,
      scheduledFor: scheduleId ? new Date() : undefined,
      input: parseRunInput(env[ENV.workflowInput], ENV.workflowInput),
    });
  }
  throw new CliError(
    `no execution to run: pass <executionId>, or set ${ENV.executionId} (or ${ENV.workflowId}), or use --workflow <id>`,
  );
}

function describeResult(result: RunExecutionResult): string {
  if (result.outcome === "ran") {
    return `execution ${result.executionId}: ${result.status}${result.error ? ` (${result.error})` : ""}`;
  }
  if (result.status === "pending")
    return `execution ${result.executionId} not started: cancelled before it was claimed`;
  return `execution ${result.executionId} not run: it is already ${result.status} (another runner claimed it); nothing to do`;
}

/** `khctl run --workflow`: a new manual execution run here (runWorkflowNow), then its report. */
async function runWorkflowHere(
  pool: Pool,
  workflowId: string,
  flags: RunFlags,
  options: RunExecutionOptions,
): Promise<void> {
  const input = parseRunInput(
    flags.input ?? process.env[ENV.workflowInput],
    flags.input ? "--input" : ENV.workflowInput,
  );
  let result: RunExecutionResult;
  try {
    result = await runWorkflowNow(pool, (await resolveWorkflow(pool, workflowId)).id, { ...options, input });
  } catch (error) {
    throw new CliError(errorMessage(error));
  }
  const report = await loadReport(pool, result.executionId);
  if (flags.json) printJson(report);
  else process.stdout.write(`${renderReport(report)}\n`);
  if (result.outcome !== "ran" || result.status !== "success") {
    const { status, error } = report.execution;
    throw new CliError(`workflow run ${result.executionId} ended ${status}${error ? `: ${error}` : ""}`);
  }
}

/** The first line of a stream, trimmed; undefined when it ends without one. */
async function firstLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  let text = "";
  for await (const chunk of stream) {
    text += String(chunk);
    const end = text.indexOf("\n");
    if (end >= 0) return text.slice(0, end).trim() || undefined;
  }
  return text.trim() || undefined;
}

/** `khctl run <executionId>`: the runner of one pending execution. */
async function runOne(
  pool: Pool,
  argument: string | undefined,
  flags: RunFlags,
  options: RunExecutionOptions,
) {
  if (flags.idFromStdin) {
    // A warm runner: started (and connected) ahead of its execution, which the executor names on stdin.
    await pool.query("SELECT 1");
    argument = await firstLine(process.stdin);
    if (argument === undefined) return;
  }
  const executionId = await executionToRun(pool, argument, process.env);
  const result = await runExecution(pool, executionId, options);
  if (result.outcome === "not-claimed" && result.status === "missing") {
    throw new CliError(`execution ${executionId} does not exist`);
  }
  if (flags.json) printJson(result);
  else console.log(describeResult(result));
}

const HELP = `
Environment (a flag overrides its variable, shown with each flag above):
  ${ENV.databaseUrl}          (required) where the execution is recorded
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
      const timeouts = resolveTimeouts(self);
      // With --workflow the output is the step table: the runner's info lines would only bury it.
      const quiet = flags.workflow !== undefined && !process.env[ENV.logLevel];
      const logger = createLogger("runner", quiet ? { ...process.env, [ENV.logLevel]: "warn" } : process.env);
      const cancel = new AbortController();
      const options: RunExecutionOptions = { signal: cancel.signal, logger, ...timeouts };
      const work = withDatabase((pool) =>
        flags.workflow
          ? runWorkflowHere(pool, flags.workflow, flags, options)
          : runOne(pool, argument, flags, options),
      );
      const run = {
        done: work,
        stop: ({ signal }: { signal?: NodeJS.Signals }) => {
          cancel.abort(signal ?? "SIGTERM");
          return work;
        },
      };
      try {
        await runUntilStopped(run, {
          shutdownTimeoutMs: 0,
          stopping: "cancelling the run; it is recorded as cancelled",
          say: (line) => logger.info(line),
          force: exitBySignal,
        });
      } finally {
        logger.flush();
      }
    });
}
