import { MAX_SENDS } from "../contracts/names.js";
import type { Queryable } from "./pool.js";

/**
 * The one stale-run policy, whichever backend runs the executions (docs/architecture.md, "Nothing stays
 * unfinished"). By the database's clock, an unfinished execution is overdue when it is
 * - `running` and started more than runningAfterSeconds ago: the run timeout plus a grace. A live runner
 *   records its end by then (it enforces the run timeout itself), so one still running lost its runner;
 * - `pending` and its message was sent (enqueued_at) more than pendingAfterSeconds ago: no runner took it
 *   (the message was lost with an emulator's queue, or dead-lettered while the database was down). A row
 *   never sent is the outbox's to send, never overdue.
 * Each backend then answers only "is this run alive?" (the executor: the child is ours; the spawner: its
 * Job exists) and acts on the dead ones as `whatToDo` says: a pending one is sent again (back to the
 * outbox) while it has been sent fewer than MAX_SENDS times; otherwise it is recorded as error with
 * failExecution(…, { onlyIfOverdue: policy }). Both re-check the age in their UPDATE.
 */
export interface StaleRunPolicy {
  /** A running execution is overdue this long after it started, s; null: never (runs have no timeout). */
  readonly runningAfterSeconds: number | null;
  /** A pending execution is overdue this long after its message was sent, s; null: never. */
  readonly pendingAfterSeconds: number | null;
}

/**
 * The policy from the settings it is made of: the runs' timeout (0 = none), the grace past it, and the
 * pending limit (0 = none).
 */
export function staleRunPolicy(settings: {
  readonly runTimeoutMs: number;
  readonly lostRunGraceSeconds: number;
  readonly pendingLimitSeconds: number;
}): StaleRunPolicy {
  return {
    runningAfterSeconds:
      settings.runTimeoutMs > 0
        ? Math.ceil(settings.runTimeoutMs / 1000) + settings.lostRunGraceSeconds
        : null,
    pendingAfterSeconds: settings.pendingLimitSeconds > 0 ? settings.pendingLimitSeconds : null,
  };
}

/**
 * "Overdue" as a SQL condition on a workflow_executions row, given the placeholders of the two limits
 * (seconds, NULL for never). The list below and failExecution's re-check share it.
 */
export function overdueCondition(runningAfter: string, pendingAfter: string): string {
  return `(CASE status
      WHEN 'running' THEN ${runningAfter}::double precision IS NOT NULL
        AND started_at < now() - make_interval(secs => ${runningAfter}::double precision)
      WHEN 'pending' THEN ${pendingAfter}::double precision IS NOT NULL
        AND enqueued_at < now() - make_interval(secs => ${pendingAfter}::double precision)
      ELSE false END)`;
}

/** An execution that is still pending or running, as the backends' reconcilers see it. */
export interface UnfinishedExecution {
  readonly id: string;
  readonly status: "pending" | "running";
  readonly scheduleId: string | null;
  readonly jobName: string | null;
  /** Overdue under the policy it was listed with. */
  readonly overdue: boolean;
  /** Seconds since it started (running), or since its message was sent (pending; 0 if never sent). */
  readonly ageSeconds: number;
  /** How many times its message was sent. */
  readonly sendCount: number;
}

/** What an overdue execution with no live runner needs: its message sent again, or to be recorded as error. */
export function whatToDo(execution: UnfinishedExecution): "resend" | "fail" {
  return execution.status === "pending" && execution.sendCount < MAX_SENDS ? "resend" : "fail";
}

/**
 * Puts an overdue pending execution back in the outbox (enqueued_at = NULL): the next dispatcher pass sends
 * its message again. Re-checks that it is still pending and overdue; returns whether it did.
 */
export async function resendExecution(
  db: Queryable,
  executionId: string,
  policy: StaleRunPolicy,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE workflow_executions SET enqueued_at = NULL
     WHERE id = $1 AND status = 'pending' AND ${overdueCondition("$2", "$3")}`,
    [executionId, policy.runningAfterSeconds, policy.pendingAfterSeconds],
  );
  return (rowCount ?? 0) > 0;
}

/** Pending and running executions (all, or only the overdue ones), oldest first; the status index keeps it cheap. */
export async function listUnfinishedExecutions(
  db: Queryable,
  policy: StaleRunPolicy,
  options: { onlyOverdue?: boolean; limit?: number } = {},
): Promise<UnfinishedExecution[]> {
  const overdue = overdueCondition("$1", "$2");
  const { rows } = await db.query<{
    id: string;
    status: "pending" | "running";
    schedule_id: string | null;
    job_name: string | null;
    overdue: boolean;
    age_seconds: number;
    send_count: number;
  }>(
    `SELECT id, status, schedule_id, job_name, send_count, ${overdue} AS overdue,
            coalesce(floor(extract(epoch FROM now() - CASE status WHEN 'running' THEN started_at
                                                                  ELSE enqueued_at END)), 0)::integer AS age_seconds
     FROM workflow_executions
     WHERE status IN ('pending', 'running') AND (NOT $3::boolean OR ${overdue})
     ORDER BY created_at
     LIMIT $4`,
    [
      policy.runningAfterSeconds,
      policy.pendingAfterSeconds,
      options.onlyOverdue ?? false,
      options.limit ?? 5000,
    ],
  );
  return rows.map((row) => ({
    id: row.id,
    status: row.status,
    scheduleId: row.schedule_id,
    jobName: row.job_name,
    overdue: row.overdue,
    ageSeconds: row.age_seconds,
    sendCount: row.send_count,
  }));
}

/** Why an overdue execution is recorded as error, in one line; `detail` says what the backend saw. */
export function overdueReason(
  execution: UnfinishedExecution,
  policy: StaleRunPolicy,
  detail: string,
): string {
  if (execution.status === "running") {
    return `runner lost: still running ${execution.ageSeconds}s after it started, past the run timeout plus grace (${policy.runningAfterSeconds}s); ${detail}`;
  }
  const sends = execution.sendCount === 1 ? "once" : `${execution.sendCount} times`;
  return `never started: its message was sent ${sends}, the last ${execution.ageSeconds}s ago, and no runner took it within the pending limit (${policy.pendingAfterSeconds}s); ${detail}`;
}
