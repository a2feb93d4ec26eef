import type { ExecutionStatus } from "../contracts/names.js";
import type { ExecutionTriggerType } from "./executions.js";
import { likePattern } from "./like.js";
import type { Queryable } from "./pool.js";

/**
 * Executions as lists show them (the web console and `khctl execution list`): newest first, a page at a time, and the ones that
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
  readonly triggerType?: ExecutionTriggerType;
  /** Created at or after this moment. */
  readonly since?: Date;
  /** Created before this moment. */
  readonly until?: Date;
  /** Only this execution (the live view of one execution). */
  readonly id?: string;
  /** Executions whose id starts with this (the console's search). */
  readonly idPrefix?: string;
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
  if (filter.triggerType) add((n) => `e.trigger_type = $${n}`, filter.triggerType);
  if (filter.since) add((n) => `e.created_at >= $${n}`, filter.since);
  if (filter.until) add((n) => `e.created_at < $${n}`, filter.until);
  if (filter.id) add((n) => `e.id = $${n}`, filter.id);
  if (filter.idPrefix) add((n) => `e.id LIKE $${n}`, likePattern(filter.idPrefix, "prefix"));
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

/** A page's cursor as URLs and `--before` carry it: `<created_at_exact>_<id>` of its last row. */
export function cursorOf(row: Pick<ExecutionListRow, "created_at_exact" | "id">): string {
  return `${row.created_at_exact}_${row.id}`;
}

/** The cursor cursorOf wrote; undefined for anything else. */
export function parseCursor(text: string | null | undefined): ExecutionCursor | undefined {
  const match = text ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)_([0-9a-z]{21})$/.exec(text) : null;
  return match ? { createdAt: match[1] as string, id: match[2] as string } : undefined;
}

/**
 * A page of executions and the next (older) page's cursor when there is one: the console's list and
 * `khctl execution list` both read their pages here (one more row than shown says whether more exist).
 */
export async function readExecutionPage(
  db: Queryable,
  filter: ExecutionFilter,
  page: { readonly limit: number; readonly before?: ExecutionCursor },
): Promise<{ rows: ExecutionListRow[]; next: string | undefined }> {
  const rows = await listExecutionPage(db, filter, { ...page, limit: page.limit + 1 });
  const shown = rows.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return { rows: shown, next: rows.length > page.limit && last ? cursorOf(last) : undefined };
}

/** How far back each read of changes looks again, ms: longer than any transaction that changes an execution. */
const OVERLAP_MS = 5_000;
const CHANGES_PER_READ = 200;

/**
 * Follows the executions that appear or change after `since` (the console's live list, `khctl execution
 * list --watch`). updated_at is the writing transaction's start, so each read asks with OVERLAP_MS to
 * spare and drops the (id, updated_at) pairs it returned before. Polling, not LISTEN: it works through
 * any pooler.
 */
export class ExecutionChangeReader {
  private since: Date;
  private readonly returned = new Map<string, number>();

  constructor(
    private readonly db: Queryable,
    private readonly filter: ExecutionFilter,
    since: Date,
  ) {
    this.since = since;
  }

  /** Rows the reader's caller has already (a page it showed): read() returns them again only once changed. */
  seen(rows: readonly ExecutionListRow[]): void {
    for (const row of rows) this.returned.set(row.id, row.updated_at.getTime());
  }

  /** The executions new or changed since the last read, oldest change first. */
  async read(): Promise<ExecutionListRow[]> {
    const polledAt = await databaseNowOf(this.db);
    const from = new Date(this.since.getTime() - OVERLAP_MS);
    const rows = await listChangedExecutions(this.db, this.filter, from, CHANGES_PER_READ);
    const fresh = rows.filter((row) => this.returned.get(row.id) !== row.updated_at.getTime());
    for (const row of fresh) this.returned.set(row.id, row.updated_at.getTime());
    // A full answer may have more: go on from its last change, else from when this read began.
    const last = rows[rows.length - 1];
    this.since = rows.length >= CHANGES_PER_READ && last ? last.updated_at : polledAt;
    const forget = this.since.getTime() - 2 * OVERLAP_MS;
    for (const [id, version] of this.returned) if (version < forget) this.returned.delete(id);
    return fresh;
  }
}

async function databaseNowOf(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>("SELECT now() AS now");
  return (rows[0] as { now: Date }).now;
}
