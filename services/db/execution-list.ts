import type { ExecutionStatus } from "../contracts/names.js";
import type { ExecutionTriggerType } from "./executions.js";
import type { Queryable } from "./pool.js";

/**
 * Executions as lists show them (the web console): newest first, a page at a time, and the ones that
 * changed since a moment (its live list). Keyset pagination on (created_at, id), so the tenth page costs
 * what the first does, whatever the table holds.
 */

/** One execution in a list, with its workflow's name. */
export interface ExecutionListRow {
  id: string;
  workflow_id: string;
  /** Null when the workflow was deleted meanwhile. */
  workflow_name: string | null;
  status: ExecutionStatus;
  trigger_type: ExecutionTriggerType;
  scheduled_for: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  duration_ms: number | null;
  total_steps: number;
  completed_steps: number;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  /** created_at to the microsecond (a Date keeps milliseconds only), for the next page's cursor. */
  created_at_exact: string;
}

export interface ExecutionFilter {
  readonly workflowId?: string;
  readonly status?: ExecutionStatus;
  /** Only this execution (the live view of one execution). */
  readonly id?: string;
}

/** Where a page starts: after the last row of the previous one (its created_at_exact and id). */
export interface ExecutionCursor {
  readonly createdAt: string;
  readonly id: string;
}

const COLUMNS = `e.id, e.workflow_id, w.name AS workflow_name, e.status, e.trigger_type, e.scheduled_for,
  e.started_at, e.completed_at, e.duration_ms, e.total_steps, e.completed_steps, e.error, e.created_at,
  e.updated_at, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact`;

/** `AND …` conditions for the filter, numbering parameters from `values.length + 1`. */
function where(filter: ExecutionFilter, values: unknown[]): string {
  const conditions: string[] = [];
  const add = (sql: (n: number) => string, value: unknown) => {
    values.push(value);
    conditions.push(sql(values.length));
  };
  if (filter.workflowId) add((n) => `e.workflow_id = $${n}`, filter.workflowId);
  if (filter.status) add((n) => `e.status = $${n}`, filter.status);
  if (filter.id) add((n) => `e.id = $${n}`, filter.id);
  return conditions.map((c) => ` AND ${c}`).join("");
}

/** A page of executions, newest first: up to `limit`, after `before` when given. */
export async function listExecutionPage(
  db: Queryable,
  filter: ExecutionFilter,
  page: { readonly limit: number; readonly before?: ExecutionCursor },
): Promise<ExecutionListRow[]> {
  const values: unknown[] = [page.limit];
  const after = page.before
    ? (() => {
        values.push(page.before.createdAt, page.before.id);
        return ` AND (e.created_at, e.id) < ($${values.length - 1}::timestamptz, $${values.length})`;
      })()
    : "";
  const { rows } = await db.query<ExecutionListRow>(
    `SELECT ${COLUMNS} FROM workflow_executions e LEFT JOIN workflows w ON w.id = e.workflow_id
     WHERE true${after}${where(filter, values)}
     ORDER BY e.created_at DESC, e.id DESC LIMIT $1`,
    values,
  );
  return rows;
}

/**
 * Executions created or changed after `since` (their updated_at, which a trigger keeps), oldest change
 * first, up to `limit`. updated_at is the writing transaction's start, so a reader polling with the time
 * of its last answer asks with some overlap and drops what it has seen (see the console's change feed).
 */
export async function listChangedExecutions(
  db: Queryable,
  filter: ExecutionFilter,
  since: Date,
  limit = 200,
): Promise<ExecutionListRow[]> {
  const values: unknown[] = [since, limit];
  const { rows } = await db.query<ExecutionListRow>(
    `SELECT ${COLUMNS} FROM workflow_executions e LEFT JOIN workflows w ON w.id = e.workflow_id
     WHERE e.updated_at > $1${where(filter, values)}
     ORDER BY e.updated_at, e.id LIMIT $2`,
    values,
  );
  return rows;
}
