import type { WorkflowMessage } from "../contracts/message.js";
import { type Pool, withTransaction } from "../db/pool.js";
import type { SendResult } from "../queue/send.js";

/** Sends workflow messages and reports which were accepted (sendWorkflowMessages bound to a queue). */
export type MessageSender = (messages: readonly WorkflowMessage[]) => Promise<SendResult>;

interface UnsentRow {
  id: string;
  workflow_id: string;
  schedule_id: string | null;
  scheduled_for: Date | null;
  trigger_type: "schedule" | "manual";
  input: Record<string, unknown> | null;
  created_at: Date;
}

export interface FlushResult {
  /** Executions whose message SQS accepted (now marked enqueued_at). */
  readonly sent: string[];
  /** Executions whose send failed; they stay in the outbox for the next flush. */
  readonly failed: { executionId: string; error: string }[];
}

export function messageFor(row: UnsentRow): WorkflowMessage {
  const hasInput = row.input && Object.keys(row.input).length > 0;
  return {
    executionId: row.id,
    workflowId: row.workflow_id,
    scheduleId: row.schedule_id,
    triggerType: row.trigger_type,
    triggerTime: (row.scheduled_for ?? row.created_at).toISOString(),
    ...(hasInput ? { input: row.input as Record<string, unknown> } : {}),
  };
}

/**
 * The outbox: sends the messages of pending executions that were committed but never sent
 * (`enqueued_at IS NULL`), and marks them sent. Rows are locked FOR UPDATE SKIP LOCKED for the length of
 * the send, so two flushers (two dispatchers, or a dispatcher and `khctl trigger`) never send the same row;
 * a crash after the send and before the mark can only repeat a message, which the runner's claim absorbs.
 * With `ids`, only those executions are considered.
 */
export async function flushOutbox(
  pool: Pool,
  send: MessageSender,
  options: { ids?: readonly string[]; limit?: number } = {},
): Promise<FlushResult> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<UnsentRow>(
      `SELECT id, workflow_id, schedule_id, scheduled_for, trigger_type, input, created_at
       FROM workflow_executions
       WHERE enqueued_at IS NULL AND status = 'pending' AND trigger_type IN ('schedule', 'manual')
         AND ($1::text[] IS NULL OR id = ANY($1))
         -- Rows written by other tools with ids outside our contract cannot be messages: leave them alone.
         AND id ~ '^[0-9a-z]{21}$'
       ORDER BY created_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED`,
      [options.ids ?? null, options.limit ?? 500],
    );
    if (rows.length === 0) return { sent: [], failed: [] };
    const result = await send(rows.map(messageFor));
    const sent = result.sent.map((message) => message.executionId as string);
    if (sent.length > 0) {
      await client.query(
        "UPDATE workflow_executions SET enqueued_at = now(), send_count = send_count + 1 WHERE id = ANY($1)",
        [sent],
      );
    }
    return {
      sent,
      failed: result.failed.map((failure) => ({
        executionId: failure.message.executionId as string,
        error: failure.error,
      })),
    };
  });
}

/**
 * Puts every sent but unstarted execution back in the outbox (enqueued_at = NULL), so the next flush sends
 * it again: for a queue that lost its messages (`khctl dev`'s in-memory queue after a restart). Returns
 * how many. A duplicate message is harmless: the runner's claim takes a pending row once.
 */
export async function requeueSent(pool: Pool): Promise<number> {
  const { rowCount } = await pool.query(
    "UPDATE workflow_executions SET enqueued_at = NULL WHERE status = 'pending' AND enqueued_at IS NOT NULL",
  );
  return rowCount ?? 0;
}
