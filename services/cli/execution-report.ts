import { formatDuration } from "../core/duration.js";
import { listStepLogs } from "../db/execution-logs.js";
import { getExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { type ExecutionReport, toReport } from "../status/execution-report.js";
import type { ShowOptions } from "../workflow/shown.js";
import { CliError } from "./errors.js";
import { renderTable } from "./shared.js";

export type { ExecutionReport };

/**
 * One execution and its step log (status/execution-report.ts), as text for people: shown by `khctl
 * execution`, and after a run by `khctl run --workflow`, `khctl trigger --wait` and `khctl dev --demo`.
 */

/** Loads an execution and its steps, masked as every view is; CliError when it does not exist. */
export async function loadReport(
  db: Queryable,
  executionId: string,
  options: ShowOptions = {},
): Promise<ExecutionReport> {
  const row = await getExecution(db, executionId);
  if (!row) throw new CliError(`execution ${executionId} does not exist`);
  return toReport(row, await listStepLogs(db, executionId), options);
}

/** A run's input on one line, or nothing when it had none. */
function inputLine(input: unknown): string[] {
  if (input === null || input === undefined) return [];
  if (typeof input === "object" && Object.keys(input).length === 0) return [];
  return [`Input      ${shorten(JSON.stringify(input), 100)}`];
}

function shorten(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A short summary of a step's result for the table: the error, an HTTP status, a condition, or the output. */
function detail(step: ExecutionReport["steps"][number]): string {
  if (step.error) return shorten(step.error);
  const output = step.output as Record<string, unknown> | null;
  if (output && typeof output === "object") {
    if (typeof output.status === "number" && "data" in output) return `HTTP ${output.status}`;
    if (Object.keys(output).length === 1 && "result" in output) return `result: ${String(output.result)}`;
  }
  return output === null || output === undefined ? "" : shorten(JSON.stringify(output));
}

/** The step log as a table for people. */
export function renderSteps(report: ExecutionReport): string {
  if (report.steps.length === 0) return "(no steps recorded)";
  return renderTable(
    ["#", "node", "name", "type", "status", "duration", "result / error"],
    report.steps.map((step, index) => [
      index + 1,
      step.nodeId,
      step.nodeName,
      step.nodeType,
      step.status,
      formatDuration(step.durationMs),
      detail(step),
    ]),
  );
}

/** The execution's header lines and step table, as `khctl execution` prints them. */
export function renderReport(report: ExecutionReport): string {
  const e = report.execution;
  const lines = [
    `Execution  ${e.id}`,
    `Workflow   ${e.workflowId}`,
    `Status     ${e.status}`,
    `Trigger    ${e.triggerType}${e.scheduledFor ? ` (slot ${e.scheduledFor}, schedule ${e.scheduleId ?? "deleted"})` : ""}`,
    `Started    ${e.startedAt ?? "-"}`,
    `Completed  ${e.completedAt ?? "-"}`,
    // The run's own duration (khctl dev also shows the runner process's, start-up included).
    `Duration   ${e.durationMs === null ? "-" : `run ${formatDuration(e.durationMs)}`}`,
    `Steps      ${e.completedSteps}/${e.totalSteps}${e.currentNodeId ? `, now at ${e.currentNodeId}` : ""}`,
    ...inputLine(e.input),
  ];
  if (e.jobName) lines.push(`Job        ${e.jobName}`);
  if (e.error) lines.push(`Error      ${e.error}`);
  return `${lines.join("\n")}\n\n${renderSteps(report)}`;
}
