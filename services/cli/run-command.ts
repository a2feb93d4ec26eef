import { ENV, ID_PATTERN } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { exitBySignal, runUntilStopped } from "../core/lifecycle.js";
import { createLogger } from "../core/logger.js";
import { createExecution, getExecution } from "../db/executions.js";
import type { Pool } from "../db/pool.js";
import { getWorkflow } from "../db/workflows.js";
import {
  type RunExecutionOptions,
  type RunExecutionResult,
  runExecution,
  runWorkflowNow,
} from "../runner/index.js";
import type { RunTimeouts } from "../runner/timeouts.js";
import { shownText } from "../workflow/shown.js";
import { CliError } from "./errors.js";
import { loadReport, renderReport } from "./execution-report.js";
import { parseRunInput, printJson, withDatabase } from "./shared.js";
import { resolveWorkflow } from "./workflow-ref.js";

/**
 * What `khctl run` does once its arguments are known, free of commander: commands/run.ts (every form,
 * with --help and usage errors) and runner-entry.ts (the plain runner forms, without commander) both
 * call runCommand, so a run behaves the same whichever way it was started.
 */

/** The run verb's options, as commands/run.ts defines them (the timeouts are resolved separately). */
export interface RunFlags {
  readonly workflow?: string;
  readonly input?: string;
  readonly json?: boolean;
  readonly idFromStdin?: boolean;
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
    return `execution ${result.executionId}: ${result.status}${result.error ? ` (${shownText(result.error)})` : ""}`;
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

/**
 * Runs `khctl run` with checked arguments: one execution (the argument, EXECUTION_ID or WORKFLOW_ID),
 * or with --workflow a new one. SIGTERM/SIGINT cancel the run (recorded as cancelled); a second signal
 * exits at once. Throws CliError or ConfigError for main to report.
 */
export async function runCommand(
  argument: string | undefined,
  flags: RunFlags,
  timeouts: RunTimeouts,
): Promise<void> {
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
}
