import { formatDuration } from "../core/duration.js";
import type { Queryable } from "../db/pool.js";
import { getScheduleForWorkflow, type ScheduleRow } from "../db/schedules.js";
import { LAST_RUN_ORDER, type WorkflowRow } from "../db/workflows.js";
import { type ShowOptions, shownNodes, shownText } from "../workflow/shown.js";
import { renderTable } from "./shared.js";

/**
 * `khctl workflow show`: a workflow, its schedule and its latest runs, as data (`--json`) and as text.
 * Masked once, here, for all three forms (workflow/shown.ts): secret headers, query values and body fields
 * in the stored nodes, URL secrets in errors; `--show-secrets` shows the definition as stored.
 */

export interface ScheduleView {
  id: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastStatus: string | null;
  lastError: string | null;
  runCount: number;
}

export interface WorkflowView {
  readonly workflow: {
    id: string;
    name: string;
    description: string | null;
    enabled: boolean;
    createdAt: string;
    updatedAt: string;
    nodes: unknown[];
    edges: unknown[];
  };
  readonly schedule: ScheduleView | null;
  /** The latest executions, newest first. */
  readonly recentExecutions: {
    id: string;
    status: string;
    triggerType: string;
    createdAt: string;
    durationMs: number | null;
    error: string | null;
  }[];
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function scheduleView(row: ScheduleRow | null): ScheduleView | null {
  if (!row) return null;
  return {
    id: row.id,
    cron: row.cron_expression,
    timezone: row.timezone,
    enabled: row.enabled,
    nextRunAt: iso(row.next_run_at),
    lastRunAt: iso(row.last_run_at),
    lastStatus: row.last_status,
    lastError: shownText(row.last_error),
    runCount: row.run_count,
  };
}

export async function loadWorkflowView(
  db: Queryable,
  row: WorkflowRow,
  options: ShowOptions & { recent?: number } = {},
): Promise<WorkflowView> {
  const { rows } = await db.query<{
    id: string;
    status: string;
    trigger_type: string;
    created_at: Date;
    duration_ms: number | null;
    error: string | null;
  }>(
    `SELECT id, status, trigger_type, created_at, duration_ms, error FROM workflow_executions
     WHERE workflow_id = $1 ORDER BY ${LAST_RUN_ORDER} LIMIT $2`,
    [row.id, options.recent ?? 5],
  );
  return {
    workflow: {
      id: row.id,
      name: row.name,
      description: row.description,
      enabled: row.enabled,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
      nodes: shownNodes(row.nodes, options),
      edges: row.edges,
    },
    schedule: scheduleView(await getScheduleForWorkflow(db, row.id)),
    recentExecutions: rows.map((r) => ({
      id: r.id,
      status: r.status,
      triggerType: r.trigger_type,
      createdAt: r.created_at.toISOString(),
      durationMs: r.duration_ms,
      error: shownText(r.error),
    })),
  };
}

/** The workflow in its file format, ready to edit and give back to `khctl workflow update --file`. */
export function definitionOf(view: WorkflowView): Record<string, unknown> {
  const { name, description, nodes, edges } = view.workflow;
  return { name, ...(description ? { description } : {}), nodes, edges };
}

type StoredNode = { id?: string; data?: { type?: string; label?: string; config?: Record<string, unknown> } };

/** One line for a schedule: cron and zone, whether it is on, and what comes next. */
export function describeSchedule(schedule: ScheduleView): string {
  const state = schedule.enabled ? `next run ${schedule.nextRunAt ?? "never"}` : "disabled";
  return `${schedule.cron} (${schedule.timezone}), ${state}`;
}

export function renderWorkflowView(view: WorkflowView): string {
  const { workflow: w, schedule } = view;
  const lines = [`Workflow   ${w.id}  "${w.name}"`];
  if (w.description) lines.push(`           ${w.description}`);
  lines.push(`Enabled    ${w.enabled ? "yes" : "no (no scheduled runs; khctl workflow enable)"}`);
  if (schedule) {
    lines.push(`Schedule   ${describeSchedule(schedule)}`);
  } else {
    lines.push("Schedule   none (manual: khctl trigger)");
  }
  // The last run is the newest execution, manual ones too (as `workflow list` and the console say).
  const last = view.recentExecutions[0];
  const count = schedule ? ` (${schedule.runCount} scheduled run(s) in all)` : "";
  lines.push(
    `Last run   ${last ? `${last.createdAt} ${last.status} (${last.triggerType})` : "never"}${count}`,
  );
  if (last?.error) lines.push(`Last error ${last.error.split("\n")[0]}`);
  lines.push(`Changed    ${w.updatedAt} (created ${w.createdAt})`, "");
  lines.push(
    renderTable(
      ["node", "label", "type", "what"],
      (w.nodes as StoredNode[]).map((node) => {
        const config = node.data?.config ?? {};
        const what =
          node.data?.type === "trigger"
            ? String(config.triggerType ?? "Manual")
            : [config.actionType, config.httpMethod, config.endpoint ?? config.condition]
                .filter((part) => part !== undefined && part !== "")
                .join(" ");
        return [node.id, node.data?.label, node.data?.type, what];
      }),
    ),
  );
  if (view.recentExecutions.length > 0) {
    lines.push(
      "",
      renderTable(
        ["latest runs", "status", "trigger", "created", "run time", "error"],
        view.recentExecutions.map((e) => [
          e.id,
          e.status,
          e.triggerType,
          e.createdAt,
          formatDuration(e.durationMs),
          e.error?.split("\n")[0]?.slice(0, 60),
        ]),
      ),
    );
  }
  return lines.join("\n");
}
