import type { Message } from "@aws-sdk/client-sqs";
import { parseWorkflowMessage } from "../contracts/message.js";
import { errorMessage } from "../core/errors.js";
import { isDatabaseUnavailable, isPermanentDatabaseError } from "../db/errors.js";
import { type ExecutionRow, executionForMessage } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { nestingProblem } from "../workflow/values.js";

/**
 * What a workflow message means, decided the same way for every backend (the executor and the
 * job-spawner): the producer half of River's producer/executor split. The launcher (launcher.ts) is the
 * other half and differs only in how a run starts.
 *
 * The rules, in order:
 * 1. A body that is not a workflow message can never be handled: dead-letter.
 * 2. The execution it is about is found or recorded from the message (db/executions.ts
 *    executionForMessage: the one it names, or for an older dispatcher's message without an id, one keyed
 *    by its slot or MessageId). A database error of a permanent class (the workflow does not exist, a
 *    value the table cannot hold): dead-letter. The database unreachable: thrown, for the intake to pause
 *    receiving. Any other database error: retry.
 * 3. The run gate: only a `pending` execution is launched. A running one has a runner (a redelivery, or a
 *    second message); a finished one is done. Both: skip, and the message is deleted.
 */
export type Decision =
  | { readonly action: "dead-letter"; readonly reason: string }
  | { readonly action: "retry"; readonly reason: string }
  | { readonly action: "skip"; readonly execution: ExecutionRow; readonly reason: string }
  | { readonly action: "launch"; readonly execution: ExecutionRow };

export async function decide(message: Message, db: Queryable): Promise<Decision> {
  let body: ReturnType<typeof parseWorkflowMessage>;
  try {
    body = parseWorkflowMessage(message.Body ?? "");
  } catch (error) {
    return { action: "dead-letter", reason: `malformed message: ${errorMessage(error)}` };
  }
  // Before anything recursive (the driver's JSON.stringify of the row) meets it and overflows the stack.
  const tooDeep = nestingProblem(body.input, "input");
  if (tooDeep) return { action: "dead-letter", reason: `malformed message: ${tooDeep.message}` };
  let execution: ExecutionRow;
  try {
    execution = await executionForMessage(db, body, message.MessageId ?? "");
  } catch (error) {
    // The database is away, not the message at fault: the intake pauses receiving (database-gate.ts).
    if (isDatabaseUnavailable(error)) throw error;
    if (isPermanentDatabaseError(error)) {
      return {
        action: "dead-letter",
        reason: `the message cannot be recorded (does workflow ${body.workflowId} exist?): ${errorMessage(error)}`,
      };
    }
    return { action: "retry", reason: `could not record the execution: ${errorMessage(error)}` };
  }
  return gate(execution);
}

/** Rule 3: launch only what no runner has started. */
export function gate(execution: ExecutionRow): Decision {
  if (execution.status === "pending") return { action: "launch", execution };
  return {
    action: "skip",
    execution,
    reason:
      execution.status === "running"
        ? "already running: another runner has it; not run again"
        : `already ${execution.status}; not run again`,
  };
}
