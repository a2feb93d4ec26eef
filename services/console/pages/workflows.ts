import type { Queryable } from "../../db/pool.js";
import { listWorkflowOverview, type WorkflowOverviewRow } from "../../db/workflows.js";
import { cronInWords, duration, statusBadge, when } from "../format.js";
import { type Html, html, query } from "../html.js";
import { actionButton } from "../layout.js";

/** Workflows: trigger in words, enabled, next run, the last run, how many; enable/disable and trigger now. */

export async function loadWorkflows(db: Queryable): Promise<WorkflowOverviewRow[]> {
  return listWorkflowOverview(db);
}

function trigger(row: WorkflowOverviewRow): Html {
  if (!row.cron_expression) return html`Manual`;
  const words = cronInWords(row.cron_expression, row.timezone ?? "UTC");
  return html`<span title="${row.cron_expression}">${words}</span>`;
}

function lastRun(row: WorkflowOverviewRow): Html {
  if (!row.last_execution_id) return html`<span class="none">never</span>`;
  return html`<a href="/executions/${row.last_execution_id}">${statusBadge(row.last_execution_status)}</a>
    ${duration(row.last_execution_duration_ms)}<br>${when(row.last_execution_at)}`;
}

function nextRun(row: WorkflowOverviewRow): Html {
  if (!row.schedule_id) return html`<span class="none">manual</span>`;
  if (!row.enabled || !row.schedule_enabled) return html`<span class="none">disabled</span>`;
  return when(row.next_run_at);
}

function actions(row: WorkflowOverviewRow, token: string): Html {
  const toggle = row.enabled
    ? actionButton(`/workflows/${row.id}/disable`, "Disable", token, row.name)
    : actionButton(`/workflows/${row.id}/enable`, "Enable", token, row.name);
  return html`<div class="actions">${actionButton(`/workflows/${row.id}/trigger`, "Trigger now", token, row.name)}${toggle}</div>`;
}

export function renderWorkflows(rows: readonly WorkflowOverviewRow[], token: string): Html {
  if (rows.length === 0) {
    return html`<p>No workflows yet. Create one: <code>npx khctl workflow create --file examples/demo-api-check.json</code></p>`;
  }
  const body = rows.map(
    (row) => html`<tr>
  <th scope="row"><a href="/workflows/${row.id}">${row.name}</a><br><code class="id">${row.id}</code></th>
  <td data-label="Trigger">${trigger(row)}</td>
  <td data-label="Enabled">${row.enabled ? "yes" : html`<strong>no</strong>`}</td>
  <td data-label="Next run">${nextRun(row)}</td>
  <td data-label="Last run">${lastRun(row)}</td>
  <td data-label="Runs" class="number"><a href="/executions${query({ workflow: row.id })}" aria-label="${row.execution_count} runs of ${row.name}">${row.execution_count}</a></td>
  <td>${actions(row, token)}</td>
</tr>`,
  );
  return html`<div class="scroll" role="region" tabindex="0" aria-label="Workflows"><table class="stack">
<caption>${rows.length} workflow${rows.length === 1 ? "" : "s"}, newest first</caption>
<thead><tr><th scope="col">Workflow</th><th scope="col">Trigger</th><th scope="col">Enabled</th><th scope="col">Next run</th><th scope="col">Last run</th><th scope="col">Runs</th><th scope="col">Actions</th></tr></thead>
<tbody>${body}</tbody>
</table></div>`;
}
