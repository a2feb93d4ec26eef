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
      return html`Moved ${Number(search.get("n")) || 0} message(s) back to the queue.`;
    case "not-in-dlq":
      return html`That message is no longer in the dead-letter queue.`;
    default:
      return undefined;
  }
}
