import type { SQSClient } from "@aws-sdk/client-sqs";
import { ID_PATTERN } from "../../contracts/names.js";
import { type DeadLetter, listDeadLetters } from "../../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { getQueueStats, type QueueStats } from "../../queue/stats.js";
import { when } from "../format.js";
import { type Html, html } from "../html.js";
import { actionButton } from "../layout.js";

/** Queue: depth, in flight, the DLQ's messages with their bodies and receive counts; redrive one or all. */

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
  const rows = page.letters.map(
    (letter) => html`<tr data-message="${letter.messageId}">
  <th scope="row"><code>${letter.messageId}</code></th>
  <td>${when(letter.sentAt)}</td>
  <td class="number">${letter.receiveCount}</td>
  <td>${body(letter)}</td>
  <td>${actionButton(`/queue/redrive/${encodeURIComponent(letter.messageId)}`, "Redrive", token, `message ${letter.messageId}`)}</td>
</tr>`,
  );
  return html`${facts}
<h2>Dead letters</h2>
<p>Messages that could not be handled${page.letters.length >= page.max ? ` (the first ${page.max} shown)` : ""}. Redrive sends one back to the queue, after a fix, to be handled again.</p>
${actionButton("/queue/redrive", "Redrive all", token)}
<div class="scroll" role="region" tabindex="0" aria-label="Dead letters"><table class="letters">
<caption>${page.letters.length} message(s) in the dead-letter queue</caption>
<thead><tr><th scope="col">Message</th><th scope="col">First sent</th><th scope="col">Receives</th><th scope="col">Body</th><th scope="col">Action</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}
