import type { Queryable } from "../db/pool.js";

/**
 * The spawner's own writes to workflow_executions. Every state change is a conditional UPDATE that only
 * matches a non-terminal row, so neither the spawner nor the reconciler ever overwrites a finished run.
 */

/** Records the Job that runs the execution. */
export async function recordJobName(db: Queryable, executionId: string, jobName: string): Promise<void> {
  await db.query(
    "UPDATE workflow_executions SET job_name = $2 WHERE id = $1 AND job_name IS DISTINCT FROM $2",
    [executionId, jobName],
  );
}

/**
 * pending|running -> error with the reason, and on its schedule one more run_count and last_run_at/last_status/
 * last_error as the runner records them (unless a later slot of the same schedule already finished, whose
 * outcome is the newer news). Returns false when the
 * execution was already terminal (or missing): nothing was changed.
 */
export async function failExecution(db: Queryable, executionId: string, reason: string): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `WITH failed AS (
       UPDATE workflow_executions
       SET status = 'error', error = $2, completed_at = now(), current_node_id = NULL,
           duration_ms = CASE WHEN started_at IS NULL THEN 0
                         ELSE GREATEST(0, round(extract(epoch FROM now() - started_at) * 1000))::integer END,
           started_at = coalesce(started_at, now())
       WHERE id = $1 AND status IN ('pending', 'running')
       RETURNING id, schedule_id, scheduled_for, started_at AS ran_at
     ), schedule AS (
       -- The run ended: count it as the runner would. Its status becomes the schedule's latest news unless
       -- a later slot of the same schedule already finished.
       UPDATE workflow_schedules s
       SET run_count = s.run_count + 1,
           last_run_at = CASE WHEN newer.id IS NULL THEN failed.ran_at ELSE s.last_run_at END,
           last_status = CASE WHEN newer.id IS NULL THEN 'error' ELSE s.last_status END,
           last_error = CASE WHEN newer.id IS NULL THEN $2 ELSE s.last_error END
       FROM failed
       LEFT JOIN LATERAL (
         SELECT later.id FROM workflow_executions later
         WHERE later.schedule_id = failed.schedule_id
           AND later.scheduled_for > failed.scheduled_for
           AND later.status IN ('success', 'error', 'cancelled')
         LIMIT 1
       ) newer ON true
       WHERE s.id = failed.schedule_id
       RETURNING s.id
     )
     SELECT id FROM failed`,
    [executionId, reason],
  );
  return rows.length > 0;
}

/** An execution the reconciler looks at. */
export interface UnfinishedExecution {
  readonly id: string;
  readonly status: "pending" | "running";
  readonly jobName: string | null;
  /** True when coalesce(started_at, created_at) + the lost-after period is in the past (database time). */
  readonly overdue: boolean;
}

/** Executions still pending or running (the status index keeps this cheap). */
export async function listUnfinishedExecutions(
  db: Queryable,
  options: { lostAfterSeconds: number; limit?: number },
): Promise<UnfinishedExecution[]> {
  const { rows } = await db.query<{
    id: string;
    status: "pending" | "running";
    job_name: string | null;
    overdue: boolean;
  }>(
    `SELECT id, status, job_name,
            coalesce(started_at, created_at) + make_interval(secs => $1) < now() AS overdue
     FROM workflow_executions
     WHERE status IN ('pending', 'running')
     ORDER BY created_at
     LIMIT $2`,
    [options.lostAfterSeconds, options.limit ?? 5000],
  );
  return rows.map((row) => ({ id: row.id, status: row.status, jobName: row.job_name, overdue: row.overdue }));
}
