import { STACK_OF_PROFILE } from "../../contracts/names.js";
import type { StatusReport } from "../../status/report.js";
import { withTimes } from "../format.js";
import { type Html, html } from "../html.js";

/**
 * Health: `khctl status`'s report (the same parts and checks), one row per part; the instants in its
 * lines are written as every page writes them (format.ts withTimes).
 */

function profileLine(report: StatusReport): string {
  return report.profile === "embedded"
    ? "Profile embedded (khctl dev)"
    : `Profile ${report.profile} (stack ${STACK_OF_PROFILE[report.profile]})`;
}

export function renderHealth(report: StatusReport, now: Date = new Date()): Html {
  const rows = report.parts.map((part) => {
    const state = part.ok ? "ok" : part.required ? "down" : "warn";
    return html`<tr data-part="${part.name}" data-state="${state}">
  <th scope="row">${part.name}</th>
  <td><span class="status status-${state === "ok" ? "success" : state === "down" ? "error" : "pending"}">${state}</span></td>
  <td>${withTimes(part.summary, now)}${part.lines.length ? html`<ul class="details">${part.lines.map((line) => html`<li><code>${withTimes(line, now)}</code></li>`)}</ul>` : ""}</td>
</tr>`;
  });
  const verdict =
    report.down.length === 0 ? "Every required part is up." : `Down: ${report.down.join(", ")}.`;
  return html`<p>${profileLine(report)}. ${verdict} The same checks as <code>npx khctl status</code>.</p>
<div class="scroll" role="region" tabindex="0" aria-label="Parts"><table class="health">
<caption>Parts of the pipeline</caption>
<thead><tr><th scope="col">Part</th><th scope="col">State</th><th scope="col">Details</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}
