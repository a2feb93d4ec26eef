import type { ExecutionLogRow } from "../db/execution-logs.js";
import type { ExecutionRow } from "../db/executions.js";
import { type ShowOptions, shownText, shownValue } from "../workflow/shown.js";

/**
 * One execution and its step log as data: what `khctl execution --json` prints and what the console's
 * execution page shows (the CLI renders it as text in cli/execution-report.ts). Masked here, once, for
 * every view (workflow/shown.ts): the run's input is stored as given, since the run needs it; step values
 * are recorded masked already.
 */

/** An execution and its step log as `--json` prints them (camelCase, ISO timestamps). */
export interface ExecutionReport {
  readonly execution: {
    id: string;
    workflowId: string;
    scheduleId: string | null;
    scheduledFor: string | null;
    triggerType: string;
    status: string;
    input: unknown;
    output: unknown;
    error: string | null;
    jobName: string | null;
    startedAt: string | null;
    completedAt: string | null;
    durationMs: number | null;
    totalSteps: number;
    completedSteps: number;
    currentNodeId: string | null;
    createdAt: string;
  };
  readonly steps: {
    nodeId: string;
    nodeName: string | null;
    nodeType: string | null;
    status: string;
    input: unknown;
    output: unknown;
    error: string | null;
    startedAt: string;
    completedAt: string | null;
    durationMs: number | null;
  }[];
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

/** The report as views show it; `showSecrets` (`khctl execution --show-secrets`) reveals the run's input. */
export function toReport(
  row: ExecutionRow,
  logs: ExecutionLogRow[],
  options: ShowOptions = {},
): ExecutionReport {
  return {
    execution: {
      id: row.id,
      workflowId: row.workflow_id,
      scheduleId: row.schedule_id,
      scheduledFor: iso(row.scheduled_for),
      triggerType: row.trigger_type,
      status: row.status,
      input: shownValue(row.input, options),
      output: shownValue(row.output),
      error: shownText(row.error),
      jobName: row.job_name,
      startedAt: iso(row.started_at),
      completedAt: iso(row.completed_at),
      durationMs: row.duration_ms,
      totalSteps: row.total_steps,
      completedSteps: row.completed_steps,
      currentNodeId: row.current_node_id,
      createdAt: row.created_at.toISOString(),
    },
    steps: logs.map((log) => ({
      nodeId: log.node_id,
      nodeName: log.node_name,
      nodeType: log.node_type,
      status: log.status,
      input: shownValue(log.input),
      output: shownValue(log.output),
      error: shownText(log.error),
      startedAt: log.started_at.toISOString(),
      completedAt: iso(log.completed_at),
      durationMs: log.duration_ms,
    })),
  };
}
