import type { SQSClient } from "@aws-sdk/client-sqs";
import { ID_PATTERN } from "../../contracts/names.js";
import { type DeadLetter, listDeadLetters } from "../../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { getQueueStats, type QueueStats } from "../../queue/stats.js";
import { when } from "../format.js";
import { type Html, html } from "../html.js";
import { actionButton } from "../layout.js";

/**
 * Queue: depth, in flight, the DLQ's messages with their bodies and receive counts; redrive one, all or
 * the selected, delete the selected, purge (the last two after a confirmation page: dlq-actions.ts).
 */

export interface QueuePage {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string | undefined;
  readonly stats: QueueStats;
  readonly letters: DeadLetter[];
  /** Messages shown at most. */
  readonly max: number;
}

export async function loadQueue(sqs: SQSClient, queueUrl: string, max: number): Promise<QueuePage> {
  const deadLetterQueueUrl = await findDeadLetterQueueUrl(sqs, queueUrl);
  const stats = await getQueueStats(sqs, queueUrl, deadLetterQueueUrl);
  const letters = deadLetterQueueUrl ? await listDeadLetters(sqs, deadLetterQueueUrl, max) : [];
  return { queueUrl, deadLetterQueueUrl, stats, letters, max };
}

/** The body pretty-printed when it is JSON, with a link to the execution it names. */
function body(letter: DeadLetter): Html {
  let parsed: unknown;
  try {
    parsed = JSON.parse(letter.body);
  } catch {
    return html`<pre>${letter.body}</pre>`;
  }
  const executionId = (parsed as { executionId?: unknown } | null)?.executionId;
  const link =
    typeof executionId === "string" && ID_PATTERN.test(executionId)
      ? html`<a href="/executions/${executionId}">execution ${executionId}</a>`
      : "";
  return html`${link}<pre>${JSON.stringify(parsed, null, 2)}</pre>`;
}

export function renderQueue(page: QueuePage, token: string): Html {
  const { stats } = page;
  const facts = html`<dl class="facts">
<dt>Queue</dt><dd><code>${page.queueUrl}</code></dd>
<dt>Waiting</dt><dd>${stats.visible}</dd>
<dt>In flight</dt><dd>${stats.inFlight}</dd>
<dt>Delayed</dt><dd>${stats.delayed}</dd>
<dt>Dead-letter queue</dt><dd>${page.deadLetterQueueUrl ? html`<code>${page.deadLetterQueueUrl}</code>, ${stats.deadLetter ?? 0} message(s)` : "none configured (khctl queue ensure)"}</dd>
</dl><p class="muted">SQS counts are approximate.</p>`;
  if (!page.deadLetterQueueUrl) return facts;
  if (page.letters.length === 0)
    return html`${facts}<h2>Dead letters</h2><p>The dead-letter queue is empty.</p>`;
  return html`${facts}
<h2>Dead letters</h2>
<p>Messages that could not be handled${page.letters.length >= page.max ? ` (the first ${page.max} shown)` : ""}. Redrive sends them back to the queue, after a fix, to be handled again; delete and purge remove them for good (each asks first).</p>
<div class="actions toolbar">${actionButton("/queue/redrive", "Redrive all", token)}${actionButton("/queue/purge", "Purge…", token)}</div>
${lettersForm(page, token)}`;
}

/** The messages in one form: tick some, then redrive or delete them; each row also redrives on its own. */
function lettersForm(page: QueuePage, token: string): Html {
  const rows = page.letters.map(
    (letter, index) => html`<tr data-message="${letter.messageId}">
  <td class="pick"><input type="checkbox" name="message" value="${letter.messageId}" id="pick-${index}" aria-label="Select message ${letter.messageId}"></td>
  <th scope="row"><label for="pick-${index}"><code>${letter.messageId}</code></label></th>
  <td data-label="First sent">${when(letter.sentAt)}</td>
  <td data-label="Receives" class="number">${letter.receiveCount}</td>
  <td data-label="Body">${body(letter)}</td>
  <td><button type="submit" formaction="/queue/redrive/${encodeURIComponent(letter.messageId)}" aria-label="Redrive: message ${letter.messageId}">Redrive</button></td>
</tr>`,
  );
  return html`<form method="post" action="/queue/selected/redrive" class="letters-form">
<input type="hidden" name="token" value="${token}">
<p class="actions toolbar"><button type="submit">Redrive selected</button><button type="submit" formaction="/queue/selected/delete">Delete selected…</button></p>
<table class="letters stack">
<caption>${page.letters.length} message(s) in the dead-letter queue</caption>
<thead><tr><th scope="col">Select</th><th scope="col">Message</th><th scope="col">First sent</th><th scope="col">Receives</th><th scope="col">Body</th><th scope="col">Action</th></tr></thead>
<tbody>${rows}</tbody>
</table>
</form>`;
}

/** The second step of "Delete selected": the messages named again, deleted only by this form's button. */
export function renderDeleteConfirmation(messageIds: readonly string[], token: string): Html {
  const items = messageIds.map(
    (id) => html`<li><code>${id}</code><input type="hidden" name="message" value="${id}"></li>`,
  );
  return html`<p>These ${messageIds.length} message(s) are deleted from the dead-letter queue for good: their runs are not retried.</p>
<form method="post" action="/queue/selected/delete">
<input type="hidden" name="token" value="${token}"><input type="hidden" name="confirm" value="yes">
<ul class="confirm-list">${items}</ul>
<p class="actions toolbar"><button type="submit" class="danger">Delete ${messageIds.length} message(s)</button> <a href="/queue">Keep them</a></p>
</form>`;
}

/** The second step of "Purge": what goes, deleted only by this form's button. */
export function renderPurgeConfirmation(deadLetterQueueUrl: string, count: number, token: string): Html {
  return html`<p>Every message now in <code>${deadLetterQueueUrl}</code> (about ${count}) is deleted for good: their runs are not retried. Messages being looked at elsewhere at this moment stay.</p>
<form method="post" action="/queue/purge">
<input type="hidden" name="token" value="${token}"><input type="hidden" name="confirm" value="yes">
<p class="actions toolbar"><button type="submit" class="danger">Purge the dead-letter queue</button> <a href="/queue">Keep the messages</a></p>
</form>`;
}
