import { type ExecutionStatus, isTerminal } from "../contracts/names.js";
import { sleep } from "../core/backoff.js";
import { newId } from "../core/ids.js";
import { toStoredJson } from "./json.js";
import type { Queryable } from "./pool.js";
import { overdueCondition, type StaleRunPolicy } from "./stale-run-policy.js";

/** Trigger types the executions table accepts (`webhook` is KeeperHub's; the queue carries the other two). */
export type ExecutionTriggerType = "schedule" | "manual" | "webhook";

/** A workflow_executions row as stored (snake_case, as pg returns it). */
export interface ExecutionRow {
  id: string;
  workflow_id: string;
  schedule_id: string | null;
  scheduled_for: Date | null;
  trigger_type: ExecutionTriggerType;
  status: ExecutionStatus;
  input: Record<string, unknown> | null;
  output: unknown;
  error: string | null;
  job_name: string | null;
  enqueued_at: Date | null;
  /** How many times its message was sent (the outbox counts each send). */
  send_count: number;
  started_at: Date | null;
  completed_at: Date | null;
  duration_ms: number | null;
  total_steps: number;
  completed_steps: number;
  current_node_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewExecution {
  readonly workflowId: string;
  readonly triggerType: ExecutionTriggerType;
  /** The trigger input; the trigger node's output is `{triggeredAt, ...input}`. Default `{}`. */
  readonly input?: Record<string, unknown> | null;
  /** Set for scheduled runs, with scheduledFor (the cron slot). */
  readonly scheduleId?: string | null;
  readonly scheduledFor?: Date | null;
  /** Use this id instead of a new one (e.g. an id carried by a queue message). */
  readonly id?: string;
  /**
   * Another key that makes the insert idempotent (dedup_key, unique): the SQS MessageId of a message that
   * carried no execution id, so its redelivery finds this row. Default none.
   */
  readonly dedupKey?: string | null;
  /**
   * Created as already enqueued (enqueued_at = now), so the dispatcher's outbox never sends it: it came
   * from the queue, or the caller runs it in this process (`khctl run --workflow`), where a message would
   * only find it claimed. Default false: the outbox sends it.
   */
  readonly enqueued?: boolean;
}

/**
 * Inserts a `pending` execution. Idempotent: when a row with the same id, the same schedule slot
 * (scheduleId, scheduledFor) or the same dedupKey exists, nothing is inserted and that row's id is
 * returned with `created: false`.
 */
export async function insertExecution(
  db: Queryable,
  execution: NewExecution,
): Promise<{ id: string; created: boolean }> {
  const id = execution.id ?? newId();
  const scheduleId = execution.scheduleId ?? null;
  const scheduledFor = execution.scheduledFor ?? null;
  const dedupKey = execution.dedupKey ?? null;
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO workflow_executions
       (id, workflow_id, schedule_id, scheduled_for, trigger_type, input, dedup_key, enqueued_at, send_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::boolean THEN now() END, CASE WHEN $8::boolean THEN 1 ELSE 0 END)
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [
      id,
      execution.workflowId,
      scheduleId,
      scheduledFor,
      execution.triggerType,
      execution.input ?? {},
      dedupKey,
      execution.enqueued ?? false,
    ],
  );
  if (inserted.rows[0]) return { id: inserted.rows[0].id, created: true };
  const existing = await db.query<{ id: string }>(
    `SELECT id FROM workflow_executions
     WHERE id = $1 OR (schedule_id = $2 AND scheduled_for = $3) OR dedup_key = $4
     LIMIT 1`,
    [id, scheduleId, scheduledFor, dedupKey],
  );
  if (!existing.rows[0]) throw new Error(`execution ${id} was neither inserted nor found`);
  return { id: existing.rows[0].id, created: false };
}

/** What a queue message says about its run (the fields of contracts/message.ts that matter here). */
export interface ExecutionMessage {
  readonly executionId?: string;
  readonly workflowId: string;
  readonly scheduleId?: string | null;
  readonly triggerType: "schedule" | "manual";
  readonly triggerTime: string;
  readonly input?: Record<string, unknown>;
}

/** The row for a message that names its execution: as the dispatcher would have written it. */
function namedExecution(message: ExecutionMessage) {
  const slot =
    message.triggerType === "schedule" || message.scheduleId ? new Date(message.triggerTime) : null;
  return {
    id: message.executionId,
    triggerType: message.triggerType,
    scheduleId: message.scheduleId ?? null,
    scheduledFor: slot,
  };
}

/** The row for a message without an execution id: keyed by its schedule slot, else by its MessageId. */
function adoptedExecution(message: ExecutionMessage, messageId: string) {
  const slot =
    message.triggerType === "schedule" && message.scheduleId ? new Date(message.triggerTime) : null;
  return slot
    ? { triggerType: "schedule" as const, scheduleId: message.scheduleId, scheduledFor: slot }
    : { triggerType: "manual" as const, dedupKey: messageId };
}

/**
 * The execution a queue message is about, created from the message when its row does not exist: the one
 * it names (normally written by the dispatcher or `khctl trigger` before the send), or for a message with
 * no execution id (an older dispatcher) one keyed by its schedule slot or, for a manual run, its SQS
 * MessageId, so a redelivery finds the same row. Rows created here are marked enqueued (they came from
 * the queue). Throws the database's error (e.g. 23503 when the workflow does not exist).
 */
export async function executionForMessage(
  db: Queryable,
  message: ExecutionMessage,
  messageId: string,
): Promise<ExecutionRow> {
  // The usual case, one query: the message names a row the dispatcher (or khctl trigger) wrote.
  if (message.executionId) {
    const existing = await getExecution(db, message.executionId);
    if (existing) return existing;
  }
  const { id } = await insertExecution(db, {
    ...(message.executionId ? namedExecution(message) : adoptedExecution(message, messageId)),
    workflowId: message.workflowId,
    input: message.input ?? {},
    enqueued: true,
  });
  const row = await getExecution(db, id);
  if (!row) throw new Error(`execution ${id} for message ${messageId} vanished right after it was recorded`);
  return row;
}

/** Creates a `pending` execution and returns its id (see insertExecution for idempotency). */
export async function createExecution(db: Queryable, execution: NewExecution): Promise<string> {
  return (await insertExecution(db, execution)).id;
}

export async function getExecution(db: Queryable, id: string): Promise<ExecutionRow | null> {
  const { rows } = await db.query<ExecutionRow>("SELECT * FROM workflow_executions WHERE id = $1", [id]);
  return rows[0] ?? null;
}

/**
 * Moves a `pending` execution to `running` (sets started_at and total_steps) in one conditional
 * UPDATE, so of two runners only one gets the row. Returns the claimed row, or null when the
 * execution is missing or not pending.
 */
export async function claimExecution(
  db: Queryable,
  id: string,
  totalSteps: number,
): Promise<ExecutionRow | null> {
  const { rows } = await db.query<ExecutionRow>(
    `UPDATE workflow_executions
     SET status = 'running', started_at = now(), total_steps = $2, completed_steps = 0
     WHERE id = $1 AND status = 'pending'
     RETURNING *`,
    [id, totalSteps],
  );
  return rows[0] ?? null;
}

export interface ExecutionResult {
  readonly status: "success" | "error" | "cancelled";
  readonly output?: unknown;
  readonly error?: string | null;
}

/**
 * Records the end of a running execution: status, output, error, completed_at and duration_ms
 * (from started_at, in database time). Only a `running` row changes; returns the row or null.
 */
export async function finishExecution(
  db: Queryable,
  id: string,
  result: ExecutionResult,
): Promise<ExecutionRow | null> {
  const { rows } = await db.query<ExecutionRow>(
    `UPDATE workflow_executions
     SET status = $2, output = $3, error = $4, completed_at = now(), current_node_id = NULL,
         duration_ms = GREATEST(0, round(extract(epoch FROM now() - coalesce(started_at, now())) * 1000))::integer
     WHERE id = $1 AND status = 'running'
     RETURNING *`,
    [id, result.status, toStoredJson(result.output), result.error ?? null],
  );
  return rows[0] ?? null;
}

export interface FailExecutionOptions {
  /**
   * Only an execution that is overdue under this policy (db/stale-runs.ts) changes, checked again in the
   * UPDATE, so a run that moved on since it was listed is left alone. Unset: any pending or running row.
   */
  readonly onlyIfOverdue?: StaleRunPolicy;
}

/**
 * The one way a run that will not record its own end is closed (runner process died, Job lost or
 * failed, executor gone): pending|running -> error with the reason, and on its schedule one more
 * run_count and last_run_at/last_status/last_error as the runner records them (unless a later slot of
 * the same schedule already finished, whose outcome is the newer news). One statement, so the two
 * writes cannot part. Returns false when nothing changed (already terminal, missing, or not matching
 * options).
 */
export async function failExecution(
  db: Queryable,
  executionId: string,
  reason: string,
  options: FailExecutionOptions = {},
): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>(
    `WITH ended AS (
       UPDATE workflow_executions
       SET status = 'error', error = $2, completed_at = now(), current_node_id = NULL,
           duration_ms = CASE WHEN started_at IS NULL THEN 0
                         ELSE GREATEST(0, round(extract(epoch FROM now() - started_at) * 1000))::integer END,
           started_at = coalesce(started_at, now())
       WHERE id = $1 AND status IN ('pending', 'running')
         AND (NOT $3::boolean OR ${overdueCondition("$4", "$5")})
       RETURNING id, schedule_id, scheduled_for, started_at AS ran_at
     ), ${countOnSchedule("'error'", "$2")}
     SELECT id FROM ended`,
    [
      executionId,
      reason,
      options.onlyIfOverdue !== undefined,
      options.onlyIfOverdue?.runningAfterSeconds ?? null,
      options.onlyIfOverdue?.pendingAfterSeconds ?? null,
    ],
  );
  return rows.length > 0;
}

/**
 * The `schedule` CTE of a statement that ended a run someone else than its runner closed (CTE `ended`:
 * id, schedule_id, scheduled_for, ran_at; only rows with a ran_at count): one more run_count, and its
 * status becomes the schedule's latest news unless a later slot of the same schedule already finished.
 */
function countOnSchedule(statusSql: string, errorSql: string): string {
  return `schedule AS (
       UPDATE workflow_schedules s
       SET run_count = s.run_count + 1,
           last_run_at = CASE WHEN newer.id IS NULL THEN ended.ran_at ELSE s.last_run_at END,
           last_status = CASE WHEN newer.id IS NULL THEN ${statusSql} ELSE s.last_status END,
           last_error = CASE WHEN newer.id IS NULL THEN ${errorSql} ELSE s.last_error END
       FROM ended
       LEFT JOIN LATERAL (
         SELECT later.id FROM workflow_executions later
         WHERE later.schedule_id = ended.schedule_id
           AND later.scheduled_for > ended.scheduled_for
           AND later.status IN ('success', 'error', 'cancelled')
         LIMIT 1
       ) newer ON true
       WHERE s.id = ended.schedule_id AND ended.ran_at IS NOT NULL
       RETURNING s.id
     )`;
}

/** What a cancel did: the run was pending (it will never start) or running (its runner is told), or not. */
export type CancelOutcome =
  | { readonly cancelled: true; readonly was: "pending" | "running" }
  | { readonly cancelled: false; readonly status: ExecutionStatus | "missing" };

/**
 * Cancels an unfinished execution, the one way a person stops a run (khctl execution cancel, the console):
 * pending|running -> cancelled with `reason`, in one conditional UPDATE. A pending one never starts: the
 * intake's gate and the runner's claim take only pending rows, the outbox sends only pending ones. A
 * running one is recorded cancelled at once; its runner is stopped by whoever owns it (the executor sees
 * the row and sends its child SIGTERM, the spawner's reconciler deletes its Job; any runner stops before
 * its next step). A run that had started
 * counts on its schedule as the runner would count it; one that never started does not.
 */
export async function cancelExecution(
  db: Queryable,
  executionId: string,
  reason: string,
): Promise<CancelOutcome> {
  const { rows } = await db.query<{ was: "pending" | "running" }>(
    `WITH before AS (
       SELECT id, status FROM workflow_executions WHERE id = $1 FOR UPDATE
     ), ended AS (
       UPDATE workflow_executions e
       SET status = 'cancelled', error = $2, completed_at = now(), current_node_id = NULL,
           duration_ms = CASE WHEN e.started_at IS NULL THEN NULL
                         ELSE GREATEST(0, round(extract(epoch FROM now() - e.started_at) * 1000))::integer END
       FROM before
       WHERE e.id = before.id AND before.status IN ('pending', 'running')
       RETURNING e.id, e.schedule_id, e.scheduled_for, e.started_at AS ran_at, before.status AS was
     ), ${countOnSchedule("'cancelled'", "$2")}
     SELECT was FROM ended`,
    [executionId, reason],
  );
  if (rows[0]) return { cancelled: true, was: rows[0].was };
  return { cancelled: false, status: (await getExecution(db, executionId))?.status ?? "missing" };
}

/** The one line that says why an execution cannot be cancelled (cancelExecution refused it). */
export function notCancellable(executionId: string, status: ExecutionStatus | "missing"): string {
  return status === "missing"
    ? `execution ${executionId} does not exist`
    : `execution ${executionId} is already ${status}: only a pending or running run can be cancelled`;
}

/**
 * Polls an execution until it is finished (success, error, cancelled); rejects after timeoutMs (0 = never)
 * or when it does not exist. Polling, not LISTEN: it works through any connection pooler.
 */
export async function waitForExecution(
  db: Queryable,
  executionId: string,
  options: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<ExecutionRow> {
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  for (;;) {
    const row = await getExecution(db, executionId);
    if (!row) throw new Error(`execution ${executionId} does not exist`);
    if (isTerminal(row.status)) return row;
    if (options.signal?.aborted)
      throw new Error(`stopped waiting for execution ${executionId} (${row.status})`);
    if (Date.now() > deadline) {
      throw new Error(
        `execution ${executionId} is still ${row.status} after ${(options.timeoutMs ?? 0) / 1000} s`,
      );
    }
    await sleep(options.intervalMs ?? 200, options.signal);
  }
}

/** Records the runner Job that runs the execution (the spawner, once the API accepted the Job). */
export async function recordJobName(db: Queryable, executionId: string, jobName: string): Promise<void> {
  await db.query(
    "UPDATE workflow_executions SET job_name = $2 WHERE id = $1 AND job_name IS DISTINCT FROM $2",
    [executionId, jobName],
  );
}

/** Which of these executions are recorded `cancelled` (the executor stops their runners). */
export async function cancelledAmong(db: Queryable, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM workflow_executions WHERE id = ANY($1) AND status = 'cancelled'",
    [ids],
  );
  return rows.map((row) => row.id);
}

/**
 * Executions cancelled in the last `withinSeconds` that had a runner Job (the spawner deletes the Jobs
 * still active, so their runner pods get SIGTERM).
 */
export async function recentlyCancelledJobs(
  db: Queryable,
  withinSeconds: number,
): Promise<{ id: string; jobName: string }[]> {
  const { rows } = await db.query<{ id: string; job_name: string }>(
    `SELECT id, job_name FROM workflow_executions
     WHERE status = 'cancelled' AND job_name IS NOT NULL
       AND completed_at > now() - make_interval(secs => $1)
       AND created_at > now() - make_interval(secs => $1) - interval '1 day'`,
    [withinSeconds],
  );
  return rows.map((row) => ({ id: row.id, jobName: row.job_name }));
}
