import { createExecution } from "../db/executions.js";
import type { Pool } from "../db/pool.js";
import { getWorkflow } from "../db/workflows.js";
import { flushOutbox, type MessageSender } from "./outbox.js";

export interface TriggerResult {
  readonly executionId: string;
  /** False when the send failed: the execution stays in the outbox and the next dispatcher pass sends it. */
  readonly enqueued: boolean;
  readonly error?: string;
}

/** Creates a manual execution of a workflow and enqueues it through the outbox (so a failed send is not lost). */
export async function triggerWorkflow(
  pool: Pool,
  send: MessageSender,
  workflowId: string,
  input: Record<string, unknown> = {},
): Promise<TriggerResult> {
  if (!(await getWorkflow(pool, workflowId))) throw new Error(`workflow ${workflowId} does not exist`);
  const executionId = await createExecution(pool, { workflowId, triggerType: "manual", input });
  const flushed = await flushOutbox(pool, send, { ids: [executionId] });
  const failure = flushed.failed[0];
  return failure ? { executionId, enqueued: false, error: failure.error } : { executionId, enqueued: true };
}
