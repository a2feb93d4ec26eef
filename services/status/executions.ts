import { EXECUTION_STATUSES, type ExecutionStatus } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import type { Queryable } from "../db/pool.js";
import { shownText } from "../workflow/shown.js";
import { type StatusPart, unreachable } from "./parts.js";

/** Which of these executions are still pending. */
async function pendingAmong(db: Queryable, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM workflow_executions WHERE id = ANY($1) AND status = 'pending' ORDER BY created_at",
    [ids],
  );
  return rows.map((row) => row.id);
}

export interface ExecutionsStatus {
  /** Window of the counts, hours. */
  readonly sinceHours: number;
  readonly byStatus: Record<ExecutionStatus, number>;
  /** The latest executions, newest first. */
  readonly recent: {
    id: string;
    workflowId: string;
    workflowName: string | null;
    status: string;
    createdAt: string;
    error: string | null;
  }[];
  /** Pending executions whose message is in the dead-letter queue. */
  readonly pendingInDeadLetterQueue: string[];
}

/** The latest executions, newest first, their errors masked as every view masks them. */
async function latestExecutions(db: Queryable, limit: number): Promise<ExecutionsStatus["recent"]> {
  const latest = await db.query<{
    id: string;
    workflow_id: string;
    workflow_name: string | null;
    status: string;
    created_at: Date;
    error: string | null;
  }>(
    `SELECT e.id, e.workflow_id, w.name AS workflow_name, e.status, e.created_at, e.error
       FROM workflow_executions e LEFT JOIN workflows w ON w.id = e.workflow_id
      ORDER BY e.created_at DESC, e.id DESC LIMIT $1`,
    [limit],
  );
  return latest.rows.map((r) => ({
    id: r.id,
    workflowId: r.workflow_id,
    workflowName: r.workflow_name,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    error: shownText(r.error),
  }));
}

/**
 * Executions by status in the last `sinceHours`, the latest few, and the pending ones whose message sits
 * in the DLQ (`deadLettered`: execution ids peeked there).
 */
export async function executionsPart(
  db: Queryable | Error,
  options: { sinceHours?: number; recent?: number; deadLettered?: readonly string[] } = {},
): Promise<StatusPart<ExecutionsStatus>> {
  const sinceHours = options.sinceHours ?? 24;
  if (db instanceof Error) return unreachable("executions", true, errorMessage(db));
  try {
    const counts = await db.query<{ status: ExecutionStatus; count: number }>(
      `SELECT status, count(*)::int AS count FROM workflow_executions
        WHERE created_at > now() - make_interval(hours => $1) GROUP BY status`,
      [sinceHours],
    );
    const byStatus = Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as Record<
      ExecutionStatus,
      number
    >;
    for (const row of counts.rows) byStatus[row.status] = row.count;
    const stuck = await pendingAmong(db, options.deadLettered ?? []);
    const recent = await latestExecutions(db, options.recent ?? 5);
    return {
      name: "executions",
      required: true,
      ok: true,
      summary: `last ${sinceHours} h: ${EXECUTION_STATUSES.map((s) => `${byStatus[s]} ${s}`).join(", ")}${
        stuck.length > 0 ? `; ${stuck.length} pending with their message in the DLQ` : ""
      }`,
      lines: [
        ...recent.map(
          (r) =>
            `${r.id}  ${r.status.padEnd(9)} ${r.createdAt}  ${r.workflowName ? `"${r.workflowName}"` : `workflow ${r.workflowId}`}${r.error ? `  ${r.error.split("\n")[0]}` : ""}`,
        ),
        ...(stuck.length > 0
          ? [
              `pending, message in the DLQ: ${stuck.join(", ")} (sent again after PENDING_LIMIT_SECONDS, or now: khctl dlq redrive)`,
            ]
          : []),
      ],
      data: { sinceHours, byStatus, recent, pendingInDeadLetterQueue: stuck },
    };
  } catch (error) {
    return unreachable(
      "executions",
      true,
      `database: ${errorMessage(error)} (docker logs keeperhub-db; khctl migrate)`,
    );
  }
}
