import { FLAG_SETTINGS } from "../contracts/settings.js";
import {
  deleteDeadLetters,
  purgeDeadLetters,
  redriveDeadLetter,
  redriveDeadLetters,
  redriveSelectedDeadLetters,
} from "../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../queue/ensure.js";
import { getQueueStats } from "../queue/stats.js";
import type { Html } from "./html.js";
import { HTML, HttpError, redirect, send } from "./http.js";
import { page } from "./layout.js";
import { renderDeleteConfirmation, renderPurgeConfirmation } from "./pages/queue.js";
import type { ConsoleContext, RouteRequest } from "./routes.js";

/**
 * The Queue page's actions on the DLQ (queue/dlq.ts does the work, for khctl dlq too): redrive one, all or
 * the selected; delete the selected and purge, each only after a confirmation page (the same POST without
 * `confirm=yes` answers with that page, so no script is needed and nothing is deleted by one click).
 */

/** Messages selected at once, at most: the page lists the first dlqListMax (50). */
const MAX_SELECTED = 100;
/** An SQS message id: a UUID on AWS, LocalStack and fauxqs; anything else is not from the page. */
const MESSAGE_ID = /^[\w-]{1,100}$/;

async function deadLetterQueueOf({ deps }: ConsoleContext): Promise<string> {
  const dlq = await findDeadLetterQueueUrl(deps.sqs, deps.queueUrl);
  if (!dlq) throw new HttpError(409, `queue ${deps.queueUrl} has no dead-letter queue (khctl queue ensure)`);
  return dlq;
}

/** The ticked messages of the form (each `message` field), checked; at least one. */
function selectedMessages(form: URLSearchParams): string[] | undefined {
  const ids = [...new Set(form.getAll("message"))];
  if (ids.length === 0) return undefined;
  if (ids.length > MAX_SELECTED) throw new HttpError(400, `select at most ${MAX_SELECTED} messages at once`);
  const bad = ids.find((id) => !MESSAGE_ID.test(id));
  if (bad !== undefined) throw new HttpError(400, `"${bad.slice(0, 40)}" is not a message id`);
  return ids;
}

const confirmed = (form: URLSearchParams) => form.get("confirm") === "yes";

function sendConfirmation(context: ConsoleContext, request: RouteRequest, title: string, body: Html): void {
  const html = page({ title, section: "/queue", pipeline: context.deps.pipeline }, body);
  send(request.response, 200, HTML, html, { "cache-control": "no-store" });
}

/** Redrive one dead letter (its message id in the path) or all of them. */
export async function redriveAction(
  context: ConsoleContext,
  { params, response }: RouteRequest,
): Promise<void> {
  const { sqs, queueUrl } = context.deps;
  const dlq = await deadLetterQueueOf(context);
  const messageId = params[0] ? decodeURIComponent(params[0]) : undefined;
  if (messageId === undefined) {
    const moved = await redriveDeadLetters(sqs, dlq, queueUrl);
    return redirect(response, `/queue?notice=redriven&n=${moved.length}`);
  }
  const found = await redriveDeadLetter(sqs, dlq, queueUrl, messageId);
  redirect(response, found ? "/queue?notice=redriven&n=1" : "/queue?notice=not-in-dlq");
}

/** Redrive the ticked messages, only those. */
export async function redriveSelectedAction(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const ids = selectedMessages(request.form);
  if (!ids) return redirect(request.response, "/queue?notice=none-selected");
  const { sqs, queueUrl } = context.deps;
  const moved = await redriveSelectedDeadLetters(sqs, await deadLetterQueueOf(context), queueUrl, ids);
  redirect(request.response, `/queue?notice=redriven&n=${moved.length}&of=${ids.length}`);
}

/** Delete the ticked messages: first the confirmation page, then (confirm=yes) the deletion. */
export async function deleteSelectedAction(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const ids = selectedMessages(request.form);
  if (!ids) return redirect(request.response, "/queue?notice=none-selected");
  if (!confirmed(request.form)) {
    const body = renderDeleteConfirmation(ids, context.token);
    return sendConfirmation(context, request, "Delete dead letters?", body);
  }
  const deleted = await deleteDeadLetters(context.deps.sqs, await deadLetterQueueOf(context), ids);
  redirect(request.response, `/queue?notice=deleted&n=${deleted.length}&of=${ids.length}`);
}

/** Purge the DLQ: first the confirmation page (with the count), then (confirm=yes) the purge. */
export async function purgeAction(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const { sqs } = context.deps;
  const dlq = await deadLetterQueueOf(context);
  if (!confirmed(request.form)) {
    const { visible } = await getQueueStats(sqs, dlq);
    const body = renderPurgeConfirmation(dlq, visible, context.token);
    return sendConfirmation(context, request, "Purge the dead-letter queue?", body);
  }
  const purged = await purgeDeadLetters(sqs, dlq, FLAG_SETTINGS.dlqRedriveMax.default);
  redirect(request.response, `/queue?notice=purged&n=${purged.length}`);
}
