import type { Command } from "commander";
import { ENV, ID_PATTERN, RUNNER_ENV } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { createExecution, getExecution } from "../../db/executions.js";
import type { Pool } from "../../db/pool.js";
import { getWorkflow } from "../../db/workflows.js";
import {
  DEFAULT_RUN_TIMEOUT_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  type RunExecutionResult,
  runExecution,
} from "../../runner/index.js";
import { type RunTimeouts, resolveRunnerTimeouts, timeoutSecondsToMs } from "../../runner/timeouts.js";
import { CliError } from "../errors.js";
import { printJson, withDatabase } from "../shared.js";
import { loadReport, renderReport } from "./execution.js";

interface RunFlags {
  workflow?: string;
  input?: string;
  stepTimeout?: string;
  runTimeout?: string;
  json?: boolean;
}

export type { RunTimeouts };

/** Timeouts from flags, then env, then defaults (resolveRunnerTimeouts); a bad flag is a usage error. */
export function resolveTimeouts(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): RunTimeouts {
  const usage = (message: string) => new CliError(message, 2);
  return resolveRunnerTimeouts(env, {
    stepTimeoutMs: timeoutSecondsToMs(flags.stepTimeout, "--step-timeout", usage),
    runTimeoutMs: timeoutSecondsToMs(flags.runTimeout, "--run-timeout", usage),
  });
}

function parseInput(text: string | undefined, source: string): Record<string, unknown> {
  if (text === undefined || text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${source} is not valid JSON: ${errorMessage(error)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CliError(`${source} must be a JSON object, e.g. '{"key": "value"}'`);
  }
  return value as Record<string, unknown>;
}

/** Aborts with the signal's name on the first SIGTERM/SIGINT; a second one gets Node's default (exit). */
function abortOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = (["SIGTERM", "SIGINT"] as const).map((name) => {
    const handler = () => {
      for (const [other, otherHandler] of handlers) process.off(other, otherHandler);
      controller.abort(name);
    };
    process.once(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
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
      input: parseInput(env[ENV.workflowInput], ENV.workflowInput),
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

export function register(program: Command): void {
  program
    .command("run")
    .description(
      "run one execution and record every step (the workflow-runner); or run a workflow now with --workflow",
    )
    .argument("[executionId]", `the pending execution to run (default: env ${ENV.executionId})`)
    .option("--workflow <id>", "create a manual execution of this workflow and run it now, in this process")
    .option(
      "--input <json>",
      `the run input as a JSON object, with --workflow (default: env ${ENV.workflowInput})`,
    )
    .option(
      "--step-timeout <seconds>",
      `per-step timeout, 0 for none (env ${RUNNER_ENV.stepTimeoutSeconds}; default ${DEFAULT_STEP_TIMEOUT_MS / 1000})`,
    )
    .option(
      "--run-timeout <seconds>",
      `whole-run timeout, 0 for none (env ${RUNNER_ENV.runTimeoutSeconds}; default ${ENV.jobActiveDeadline} - 10 when set, else ${DEFAULT_RUN_TIMEOUT_MS / 1000})`,
    )
    .option("--json", "print the result as JSON (with --workflow: the execution and its steps)")
    .addHelpText(
      "after",
      `
Environment:
  ${ENV.databaseUrl}          (required) where the execution is recorded
  ${ENV.executionId}          the execution to run when no argument is given
  ${ENV.workflowId}           without an execution id: create one for this workflow and run it (original
                        runner's contract); with one: checked against the execution's workflow
  ${ENV.scheduleId}           with ${ENV.workflowId}: the created execution is a scheduled one for now
  ${ENV.workflowInput}        the run input (JSON object) for a created execution
  ${RUNNER_ENV.stepTimeoutSeconds}, ${RUNNER_ENV.runTimeoutSeconds}, ${ENV.jobActiveDeadline}   timeouts, see the flags
  ${ENV.logLevel}            runner log level on stderr (default info)

Exit codes, khctl run <executionId>: 0 when the run was recorded, whatever its status (also when another
runner already has it: nothing is run, and it says so); 1 when there is nothing to run (no id, unknown
execution) or recording failed. With --workflow: 0 when the run succeeded, 1 when it did not.
SIGTERM/SIGINT abort the steps in flight and record the execution as cancelled with the signal's name;
a second signal exits at once.`,
    )
    .action(async (argument: string | undefined, flags: RunFlags) => {
      if (flags.workflow && argument)
        throw new CliError("give either <executionId> or --workflow, not both", 2);
      if (flags.input !== undefined && !flags.workflow) throw new CliError("--input goes with --workflow", 2);
      const timeouts = resolveTimeouts(flags);
      const logger = createLogger("runner");
      const { signal, dispose } = abortOnSignals();
      try {
        await withDatabase(async (pool) => {
          if (flags.workflow) {
            const input = parseInput(
              flags.input ?? process.env[ENV.workflowInput],
              flags.input ? "--input" : ENV.workflowInput,
            );
            if (!(await getWorkflow(pool, flags.workflow)))
              throw new CliError(`workflow ${flags.workflow} does not exist`);
            const executionId = await createExecution(pool, {
              workflowId: flags.workflow,
              triggerType: "manual",
              input,
            });
            const result = await runExecution(pool, executionId, { signal, logger, ...timeouts });
            const report = await loadReport(pool, executionId);
            if (flags.json) printJson(report);
            else process.stdout.write(`${renderReport(report)}\n`);
            if (result.outcome !== "ran" || result.status !== "success") {
              throw new CliError(
                `workflow run ${executionId} ended ${report.execution.status}${report.execution.error ? `: ${report.execution.error}` : ""}`,
              );
            }
            return;
          }
          const executionId = await executionToRun(pool, argument, process.env);
          const result = await runExecution(pool, executionId, { signal, logger, ...timeouts });
          if (result.outcome === "not-claimed" && result.status === "missing") {
            throw new CliError(`execution ${executionId} does not exist`);
          }
          if (flags.json) printJson(result);
          else console.log(describeResult(result));
        });
      } finally {
        dispose();
        logger.flush();
      }
    });
}
