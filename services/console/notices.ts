import { type Html, html } from "./html.js";

/** Notices after an action, by code: the text is ours, the request only picks one (and names an id). */
export function noticeFor(search: URLSearchParams): Html | undefined {
  const id = search.get("id") ?? "";
  const safeId = /^[\w-]{1,64}$/.test(id) ? id : "";
  switch (search.get("notice")) {
    case "triggered":
      return html`Triggered: this run was created and sent to the queue.`;
    case "not-enqueued":
      return html`The run was created but could not be sent to the queue; the next dispatcher pass sends it.`;
    case "enabled":
      return html`Enabled workflow <code>${safeId}</code>: its schedule runs from its next slot.`;
    case "disabled":
      return html`Disabled workflow <code>${safeId}</code>: no scheduled runs (Trigger now still runs it).`;
    case "redriven":
      return html`Moved ${Number(search.get("n")) || 0} message(s) back to the queue.${missed(search)}`;
    case "deleted":
      return html`Deleted ${Number(search.get("n")) || 0} message(s) from the dead-letter queue.${missed(search)}`;
    case "purged":
      return html`Purged the dead-letter queue: ${Number(search.get("n")) || 0} message(s) deleted.`;
    case "none-selected":
      return html`No message was selected: tick the ones to act on first.`;
    case "rerun":
      return html`Re-run of <code>${safeId}</code>: this new run has the same input and was sent to the queue.`;
    case "cancelled-pending":
      return html`Cancelled: the run had not started, and never will.`;
    case "cancelled-running":
      return html`Cancelled: the run is recorded as cancelled and its runner is told to stop (steps in flight are aborted).`;
    case "not-cancellable":
      return html`Not cancelled: this run has already ended; only a pending or running run can be cancelled.`;
    case "not-in-dlq":
      return html`That message is no longer in the dead-letter queue.`;
    default:
      return undefined;
  }
}

/** After a selection: how many selected messages were no longer there (`of` selected, `n` acted on). */
function missed(search: URLSearchParams): Html | string {
  const gone = (Number(search.get("of")) || 0) - (Number(search.get("n")) || 0);
  return gone > 0 ? html` ${gone} selected message(s) were no longer in the dead-letter queue.` : "";
}
