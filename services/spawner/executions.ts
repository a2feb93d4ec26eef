import type { Queryable } from "../db/pool.js";

/**
 * The spawner's own reads and writes of workflow_executions. Failing a run is failExecution (db/executions.ts),
 * shared with the executor: a conditional UPDATE that only matches a non-terminal row, so neither the spawner
 * nor the reconciler ever overwrites a finished run.
 */

/** Records the Job that runs the execution. */
export async function recordJobName(db: Queryable, executionId: string, jobName: string): Promise<void> {
  await db.query(
    "UPDATE workflow_executions SET job_name = $2 WHERE id = $1 AND job_name IS DISTINCT FROM $2",
    [executionId, jobName],
  );
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
