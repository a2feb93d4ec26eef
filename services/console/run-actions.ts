import { isTerminal } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { cancelExecution, getExecution } from "../db/executions.js";
import { triggerWorkflow } from "../dispatcher/trigger.js";
import { sendWorkflowMessages } from "../queue/send.js";
import { type Html, html } from "./html.js";
import { HttpError, redirect } from "./http.js";
import { actionButton } from "./layout.js";
import type { ConsoleContext, RouteRequest } from "./routes.js";

/**
 * Re-run and cancel, on an execution's page. Re-run is `khctl trigger` with the run's input (the same
 * triggerWorkflow: a manual execution, sent through the outbox); cancel is `khctl execution cancel`
 * (db/executions.ts cancelExecution, the one owner of a cancel).
 */

/** The reason a console cancel is recorded with (the execution's error, and its open steps'). */
export const CONSOLE_CANCEL_REASON = "cancelled from the console";

/** The page's buttons: re-run always, cancel while the run is unfinished. */
export function runActions(execution: { id: string; status: string }, token: string): Html {
  const what = `execution ${execution.id}`;
  const cancel = isTerminal(execution.status)
    ? ""
    : actionButton(`/executions/${execution.id}/cancel`, "Cancel run", token, what);
  return html`<div class="actions toolbar">${actionButton(`/executions/${execution.id}/rerun`, "Re-run", token, what)}${cancel}</div>`;
}

/** A new manual execution of the same workflow with the same input; then its page. */
export async function rerunAction(
  { deps }: ConsoleContext,
  { params, response }: RouteRequest,
): Promise<void> {
  const id = params[0] as string;
  const row = await getExecution(deps.pool, id);
  if (!row) throw new HttpError(404, `execution ${id} does not exist`);
  let result: Awaited<ReturnType<typeof triggerWorkflow>>;
  try {
    result = await triggerWorkflow(
      deps.pool,
      (messages) => sendWorkflowMessages(deps.sqs, deps.queueUrl, messages),
      row.workflow_id,
      row.input ?? {},
    );
  } catch (error) {
    throw new HttpError(409, `cannot re-run execution ${id}: ${errorMessage(error)}`);
  }
  const notice = result.enqueued ? `rerun&id=${id}` : "not-enqueued";
  redirect(response, `/executions/${result.executionId}?notice=${notice}`);
}

/** Cancels a pending or running execution; back to its page, which says what happened or why not. */
export async function cancelAction(
  { deps }: ConsoleContext,
  { params, response }: RouteRequest,
): Promise<void> {
  const id = params[0] as string;
  const outcome = await cancelExecution(deps.pool, id, CONSOLE_CANCEL_REASON);
  if (!outcome.cancelled && outcome.status === "missing") {
    throw new HttpError(404, `execution ${id} does not exist`);
  }
  const notice = outcome.cancelled ? `cancelled-${outcome.was}` : "not-cancellable";
  redirect(response, `/executions/${id}?notice=${notice}`);
}
