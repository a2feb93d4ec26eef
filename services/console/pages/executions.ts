import { EXECUTION_STATUSES, type ExecutionStatus } from "../../contracts/names.js";
import {
  type ExecutionCursor,
  type ExecutionFilter,
  type ExecutionListRow,
  parseCursor,
  readExecutionPage,
} from "../../db/execution-list.js";
import type { Queryable } from "../../db/pool.js";
import { databaseNow, listWorkflows } from "../../db/workflows.js";
import { duration, errorText, shownError, statusBadge, when } from "../format.js";
import { type Html, html, query } from "../html.js";

/** Executions: a page of the newest, filtered by workflow and status, kept live by the change feed. */

export interface ExecutionsQuery {
  readonly filter: ExecutionFilter;
  readonly before?: ExecutionCursor;
}

const isStatus = (value: string | null): value is ExecutionStatus =>
  value !== null && (EXECUTION_STATUSES as readonly string[]).includes(value);

/** The filter and page a URL asks for; anything it does not understand is left out, never an error. */
export function parseExecutionsQuery(search: URLSearchParams): ExecutionsQuery {
  const workflowId = search.get("workflow") || undefined;
  const status = search.get("status");
  const before = parseCursor(search.get("before"));
  return {
    filter: { ...(workflowId ? { workflowId } : {}), ...(isStatus(status) ? { status } : {}) },
    ...(before ? { before } : {}),
  };
}

export interface ExecutionsPage {
  readonly query: ExecutionsQuery;
  readonly rows: ExecutionListRow[];
  /** The next (older) page's cursor, when there is one. */
  readonly next: string | undefined;
  readonly workflows: { id: string; name: string }[];
  /** The database's time when the page was read: the live list asks for changes after it. */
  readonly readAt: Date;
}

export async function loadExecutions(
  db: Queryable,
  request: ExecutionsQuery,
  pageSize: number,
): Promise<ExecutionsPage> {
  const readAt = await databaseNow(db);
  const [page, workflows] = await Promise.all([
    readExecutionPage(db, request.filter, {
      limit: pageSize,
      ...(request.before ? { before: request.before } : {}),
    }),
    listWorkflows(db),
  ]);
  return {
    query: request,
    rows: page.rows,
    next: page.next,
    workflows: workflows.map((w) => ({ id: w.id, name: w.name })),
    readAt,
  };
}

/** One row of the list; the change feed sends the same row when an execution appears or changes. */
export function executionRow(row: ExecutionListRow): Html {
  const trigger =
    row.trigger_type === "schedule" && row.scheduled_for
      ? html`schedule<br><span class="muted">slot ${when(row.scheduled_for)}</span>`
      : html`${row.trigger_type}`;
  const error = shownError(row.error);
  return html`<tr data-id="${row.id}" data-status="${row.status}" data-order="${row.created_at_exact} ${row.id}">
  <th scope="row"><a href="/executions/${row.id}"><code>${row.id}</code></a></th>
  <td data-label="Workflow"><a href="/executions${query({ workflow: row.workflow_id })}">${row.workflow_name ?? row.workflow_id}</a></td>
  <td data-label="Status">${statusBadge(row.status)}</td>
  <td data-label="Trigger">${trigger}</td>
  <td data-label="Created">${when(row.created_at)}</td>
  <td data-label="Duration" class="number">${duration(row.duration_ms)}</td>
  <td data-label="Steps" class="number">${row.completed_steps}/${row.total_steps}</td>
  <td data-label="Error" class="error-cell">${error ? errorText(error) : ""}</td>
</tr>`;
}

function filters(page: ExecutionsPage): Html {
  const { filter } = page.query;
  const workflowOptions = page.workflows.map(
    (w) =>
      html`<option value="${w.id}"${w.id === filter.workflowId ? html` selected` : ""}>${w.name}</option>`,
  );
  const statusOptions = EXECUTION_STATUSES.map(
    (s) => html`<option value="${s}"${s === filter.status ? html` selected` : ""}>${s}</option>`,
  );
  // data-submit-on-change: assets/filters.js applies a choice at once; without script, the button does.
  return html`<form method="get" action="/executions" class="filters" role="search" aria-label="Filter executions" data-submit-on-change>
<label>Workflow <select name="workflow"><option value="">all</option>${workflowOptions}</select></label>
<label>Status <select name="status"><option value="">all</option>${statusOptions}</select></label>
<button type="submit">Filter</button>
${filter.workflowId || filter.status ? html`<a href="/executions">Clear</a>` : ""}
</form>`;
}

export function renderExecutions(page: ExecutionsPage, pageSize: number): Html {
  const { filter, before } = page.query;
  const feed = `/executions/events${query({
    workflow: filter.workflowId,
    status: filter.status,
    since: page.readAt.toISOString(),
  })}`;
  const more = page.next
    ? html`<a href="/executions${query({ workflow: filter.workflowId, status: filter.status, before: page.next })}" rel="next">Older runs</a>`
    : html`<span class="muted">No older runs.</span>`;
  const rows = page.rows.length
    ? page.rows.map(executionRow)
    : html`<tr class="empty"><td colspan="8">No executions${filter.workflowId || filter.status ? " match" : " yet"}.</td></tr>`;
  const caption = `Executions, newest first${before ? " (older page)" : ""}`;
  return html`${filters(page)}
<p class="live-note" aria-live="polite" data-live-status>${before ? "An older page: not updated live." : ""}</p>
${executionTable(rows, caption, before ? html`` : html` data-feed="${feed}" data-page-size="${pageSize}"`)}
<nav class="pages" aria-label="Pages">${before ? html`<a href="/executions${query({ workflow: filter.workflowId, status: filter.status })}">Newest runs</a>` : ""} ${more}</nav>`;
}

/** The table of execution rows (executionRow), as the list and the search show it; `live`: its data-feed. */
export function executionTable(rows: Html | Html[], caption: string, live: Html = html``): Html {
  return html`<div class="scroll" role="region" tabindex="0" aria-label="Executions"><table class="executions stack"${live}>
<caption>${caption}</caption>
<thead><tr><th scope="col">Execution</th><th scope="col">Workflow</th><th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Steps</th><th scope="col">Error</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}
