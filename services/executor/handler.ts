import type { EventEmitter } from "node:events";
import type { Message } from "@aws-sdk/client-sqs";
import { parseWorkflowMessage, type WorkflowMessage } from "../contracts/message.js";
import { isTerminal } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { newId } from "../core/ids.js";
import { type ExecutionRow, failExecution, getExecution } from "../db/executions.js";
import type { Pool } from "../db/pool.js";
import type { HandleContext, HandleOutcome, MessageHandler } from "../queue/consumer-types.js";
import type { RunnerExit } from "./child.js";
import type { LostRun } from "./lost-runs.js";

/** Runs one execution to its end in some isolated way (a child process in production, a stub in tests). */
export type RunExecutionProcess = (
  executionId: string,
  options: { signal: AbortSignal; onSpawn?: (pid: number | undefined) => void },
) => Promise<RunnerExit>;

export interface ExecutionStartEvent {
  readonly executionId: string;
  readonly workflowId: string;
  readonly triggerType: string;
  readonly scheduledFor: Date | null;
  readonly pid: number | undefined;
  /** Runs in progress in this executor, this one included. */
  readonly running: number;
}

export interface ExecutionEndEvent {
  readonly executionId: string;
  readonly workflowId: string;
  /** The recorded status after the run (success, error, cancelled; pending if it never started). */
  readonly status: string;
  readonly error: string | null;
  /** Wall time of the child process, ms. */
  readonly durationMs: number;
  readonly exitCode: number | null;
}

/**
 * Events of the executor: `start` (ExecutionStartEvent), `end` (ExecutionEndEvent), `skip` ({executionId,
 * status}), `lost` (a run the lost-run sweep marked error).
 */
export type ExecutorEvents = EventEmitter<{
  start: [ExecutionStartEvent];
  end: [ExecutionEndEvent];
  skip: [{ executionId: string; status: string }];
  lost: [LostRun];
}>;

/** Postgres error codes that mean "this message can never succeed". */
const FOREIGN_KEY_VIOLATION = "23503";

/**
 * The execution row for a message without executionId (an older dispatcher): created once, keyed by the
 * schedule slot or, for manual runs, by the SQS MessageId, so a redelivery finds it instead of adding one.
 * It is marked enqueued (it came from the queue), so the dispatcher's outbox never sends it again.
 */
export async function adoptExecution(pool: Pool, body: WorkflowMessage, messageId: string): Promise<string> {
  const slot = body.triggerType === "schedule" && body.scheduleId ? new Date(body.triggerTime) : null;
  const inserted = await pool.query<{ id: string }>(
    `INSERT INTO workflow_executions
       (id, workflow_id, schedule_id, scheduled_for, trigger_type, input, dedup_key, enqueued_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now())
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [
      newId(),
      body.workflowId,
      slot ? body.scheduleId : null,
      slot,
      slot ? "schedule" : "manual",
      body.input ?? {},
      slot ? null : messageId,
    ],
  );
  if (inserted.rows[0]) return inserted.rows[0].id;
  const { rows } = await pool.query<{ id: string }>(
    slot
      ? "SELECT id FROM workflow_executions WHERE schedule_id = $1 AND scheduled_for = $2"
      : "SELECT id FROM workflow_executions WHERE dedup_key = $1",
    slot ? [body.scheduleId, slot] : [messageId],
  );
  if (!rows[0]) throw new Error(`execution for message ${messageId} was neither created nor found`);
  return rows[0].id;
}

/**
 * Records a run whose process died without recording its end (killed, out of memory): the execution
 * becomes `error` and its schedule gets the outcome (failExecution, as every lost-run path does), so
 * nothing stays `running` forever.
 */
async function recordLostRun(pool: Pool, row: ExecutionRow, exit: RunnerExit): Promise<ExecutionRow> {
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
  const last = exit.tail.at(-1);
  await failExecution(
    pool,
    row.id,
    `runner process ended (${how}) without recording the result${last ? `: ${last}` : ""}`,
  );
  return (await getExecution(pool, row.id)) ?? row;
}

/**
 * The executor's unit of work: one message -> one execution run to its end in a child process.
 * Idempotent under redelivery: an execution that is finished or already running is not run again
 * (the runner's claim, pending -> running, decides between two racing deliveries).
 */
export function createExecutionHandler(deps: {
  pool: Pool;
  runProcess: RunExecutionProcess;
  events: ExecutorEvents;
  /** Runs in progress (for the start event). */
  running: () => number;
}): MessageHandler {
  const { pool, runProcess, events } = deps;
  return async (message: Message, context: HandleContext): Promise<HandleOutcome> => {
    const { logger } = context;
    let body: WorkflowMessage;
    try {
      body = parseWorkflowMessage(message.Body ?? "");
    } catch (error) {
      logger.error({ err: errorMessage(error) }, "malformed message; moved to the dead-letter queue");
      return "dead-letter";
    }
    let executionId: string;
    try {
      executionId = body.executionId ?? (await adoptExecution(pool, body, message.MessageId ?? ""));
    } catch (error) {
      if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
        logger.error(
          { workflowId: body.workflowId },
          "message names an unknown workflow or schedule; dead-lettered",
        );
        return "dead-letter";
      }
      throw error;
    }
    const row = await getExecution(pool, executionId);
    if (!row) {
      logger.error({ executionId }, "message names an execution that does not exist; dead-lettered");
      return "dead-letter";
    }
    if (row.status !== "pending") {
      // A redelivery: the run is finished, or another runner has it. Either way, not ours to run.
      logger.info({ executionId, status: row.status }, "execution already started; not run again");
      events.emit("skip", { executionId, status: row.status });
      return "done";
    }
    const started = Date.now();
    const exit = await runProcess(executionId, {
      signal: context.signal,
      onSpawn: (pid) =>
        events.emit("start", {
          executionId,
          workflowId: row.workflow_id,
          triggerType: row.trigger_type,
          scheduledFor: row.scheduled_for,
          pid,
          running: deps.running(),
        }),
    });
    let after = (await getExecution(pool, executionId)) ?? row;
    // Still running although our child failed: it died mid-run (the run was ours: we claimed it while
    // holding the message). Record that, so nothing stays running forever.
    if (after.status === "running" && exit.exitCode !== 0) after = await recordLostRun(pool, after, exit);
    events.emit("end", {
      executionId,
      workflowId: row.workflow_id,
      status: after.status,
      error: after.error,
      durationMs: Date.now() - started,
      exitCode: exit.exitCode,
    });
    if (isTerminal(after.status)) return "done";
    if (after.status === "pending") {
      logger.warn(
        { executionId, exitCode: exit.exitCode, tail: exit.tail.slice(-3) },
        "runner did not start the execution; will retry",
      );
      return "retry";
    }
    return "done";
  };
}
