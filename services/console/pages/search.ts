import { ID_PATTERN } from "../../contracts/names.js";
import {
  type ExecutionCursor,
  type ExecutionListRow,
  listExecutionPage,
  parseCursor,
  readExecutionPage,
} from "../../db/execution-list.js";
import type { Queryable } from "../../db/pool.js";
import { listWorkflowOverview, type WorkflowOverviewRow } from "../../db/workflows.js";
import { type Html, html, query } from "../html.js";
import { HttpError } from "../http.js";
import { SEARCH_MAX_LENGTH } from "../layout.js";
import { executionRow, executionTable } from "./executions.js";
import { renderWorkflows } from "./workflows.js";

/**
 * Search (the box in every page's header): workflows by name (any part, any case) or id prefix, and
 * executions by id prefix, through the lists' own queries. An exact execution id goes straight to it.
 */

/** Workflows shown at most (a name that matches more is too short to say which). */
const WORKFLOWS_MAX = 50;
/** Execution ids are lower-case letters and digits: other text cannot start one. */
const ID_PREFIX = /^[0-9a-z]+$/;

export interface SearchQuery {
  readonly text: string;
  readonly before?: ExecutionCursor;
}

/** What a /search URL asks for; a text over SEARCH_MAX_LENGTH is refused (400). */
export function parseSearchQuery(search: URLSearchParams): SearchQuery {
  const text = (search.get("q") ?? "").trim();
  if (text.length > SEARCH_MAX_LENGTH) {
    throw new HttpError(400, `search for at most ${SEARCH_MAX_LENGTH} characters (got ${text.length})`);
  }
  const before = parseCursor(search.get("before"));
  return { text, ...(before ? { before } : {}) };
}

export interface SearchPage {
  readonly query: SearchQuery;
  readonly workflows: WorkflowOverviewRow[];
  readonly executions: ExecutionListRow[];
  /** The next (older) page of executions, when there is one. */
  readonly next: string | undefined;
}

/** The execution whose id is exactly the text, or undefined. */
export async function exactExecution(db: Queryable, text: string): Promise<string | undefined> {
  if (!ID_PATTERN.test(text)) return undefined;
  const [row] = await listExecutionPage(db, { id: text }, { limit: 1 });
  return row?.id;
}

export async function loadSearch(db: Queryable, request: SearchQuery, pageSize: number): Promise<SearchPage> {
  const { text, before } = request;
  if (!text) return { query: request, workflows: [], executions: [], next: undefined };
  const [workflows, executions] = await Promise.all([
    listWorkflowOverview(db, { matching: text }),
    ID_PREFIX.test(text)
      ? readExecutionPage(db, { idPrefix: text }, { limit: pageSize, ...(before ? { before } : {}) })
      : { rows: [], next: undefined },
  ]);
  return {
    query: request,
    workflows: workflows.slice(0, WORKFLOWS_MAX),
    executions: executions.rows,
    next: executions.next,
  };
}

function executionsFound(page: SearchPage): Html {
  const { text, before } = page.query;
  if (!ID_PREFIX.test(text)) return html``;
  if (page.executions.length === 0) {
    return html`<h2>Executions</h2><p>No execution id starts with <code>${text}</code>.</p>`;
  }
  const more = page.next
    ? html`<nav class="pages" aria-label="Pages"><a href="/search${query({ q: text, before: page.next })}" rel="next">Older runs</a></nav>`
    : "";
  return html`<h2>Executions</h2>
${executionTable(page.executions.map(executionRow), `Executions whose id starts with ${text}, newest first${before ? " (older page)" : ""}`)}
${more}`;
}

function workflowsFound(page: SearchPage, token: string): Html {
  if (page.query.before) return html``;
  if (page.workflows.length === 0) {
    return html`<h2>Workflows</h2><p>No workflow's name contains “${page.query.text}”.</p>`;
  }
  const capped =
    page.workflows.length >= WORKFLOWS_MAX
      ? html`<p class="muted">The first ${WORKFLOWS_MAX} shown: say more of the name.</p>`
      : "";
  return html`<h2>Workflows</h2>${renderWorkflows(page.workflows, token)}${capped}`;
}

export function renderSearch(page: SearchPage, token: string): Html {
  if (!page.query.text) {
    return html`<p>Search for a workflow by its name (or a part of it) or an execution by its id (or how it starts), with the box at the top of every page.</p>`;
  }
  return html`<p>Results for “<strong>${page.query.text}</strong>”.</p>
${workflowsFound(page, token)}
${executionsFound(page)}`;
}
