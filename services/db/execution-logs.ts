import type { StepStatus } from "../contracts/names.js";
import { newId } from "../core/ids.js";
import { toStoredJson } from "./json.js";
import type { Queryable } from "./pool.js";

/** A workflow_execution_logs row as stored: one per node that started or was skipped. */
export interface ExecutionLogRow {
  id: string;
  execution_id: string;
  node_id: string;
  node_name: string | null;
  node_type: string | null;
  status: StepStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  started_at: Date;
  completed_at: Date | null;
  duration_ms: number | null;
}

export interface StepStart {
  readonly executionId: string;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly nodeType: string;
  readonly input: unknown;
  readonly startedAt: Date;
}

/**
 * Records that a step starts: inserts its `running` row and sets the execution's current_node_id, in one
 * statement, so the progress shown never runs ahead of the log. Only under a `running` execution: the
 * UPDATE locks the execution's row, so a step cannot open after (or while) someone records the run's end,
 * whose trigger closes the steps open then (migration 0004). Returns false when the run has ended.
 */
export async function recordStepStart(db: Queryable, step: StepStart): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH execution AS (
       UPDATE workflow_executions SET current_node_id = $3 WHERE id = $2 AND status = 'running' RETURNING id
     )
     INSERT INTO workflow_execution_logs (id, execution_id, node_id, node_name, node_type, status, input, started_at)
     SELECT $1, execution.id, $3, $4, $5, 'running', $6, $7 FROM execution`,
    [
      newId(),
      step.executionId,
      step.nodeId,
      step.nodeName,
      step.nodeType,
      toStoredJson(step.input),
      step.startedAt,
    ],
  );
  return (rowCount ?? 0) > 0;
}

export interface StepEnd extends StepStart {
  readonly status: Exclude<StepStatus, "running">;
  readonly output?: unknown;
  readonly error?: string | null;
  readonly completedAt: Date;
  readonly durationMs: number;
}

/**
 * Records the end of a step: updates its row (or inserts a finished one for a node that never started,
 * i.e. skipped) and counts it in the execution's completed_steps (`completed_steps + 1`, in SQL), in one
 * statement: the counter and the log never disagree, and concurrent steps never lose a count.
 */
export async function recordStepEnd(db: Queryable, step: StepEnd): Promise<void> {
  await db.query(
    `WITH log AS (
       INSERT INTO workflow_execution_logs
         (id, execution_id, node_id, node_name, node_type, status, input, output, error, started_at, completed_at, duration_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (execution_id, node_id) DO UPDATE
       SET status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
           completed_at = EXCLUDED.completed_at, duration_ms = EXCLUDED.duration_ms
     )
     UPDATE workflow_executions SET completed_steps = completed_steps + 1 WHERE id = $2`,
    [
      newId(),
      step.executionId,
      step.nodeId,
      step.nodeName,
      step.nodeType,
      step.status,
      toStoredJson(step.input),
      toStoredJson(step.output),
      step.error ?? null,
      step.startedAt,
      step.completedAt,
      step.durationMs,
    ],
  );
}

/** The step log of an execution, in start order. */
export async function listStepLogs(db: Queryable, executionId: string): Promise<ExecutionLogRow[]> {
  const { rows } = await db.query<ExecutionLogRow>(
    `SELECT * FROM workflow_execution_logs WHERE execution_id = $1 ORDER BY started_at, completed_at NULLS LAST, id`,
    [executionId],
  );
  return rows;
}
