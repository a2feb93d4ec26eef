import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { FLAG_SETTINGS } from "../contracts/settings.js";
import type { Logger } from "../core/logger.js";
import { packageRoot } from "../core/paths.js";
import type { Pool } from "../db/pool.js";
import { getWorkflow, setWorkflowEnabled } from "../db/workflows.js";
import { triggerWorkflow } from "../dispatcher/trigger.js";
import { sendWorkflowMessages } from "../queue/send.js";
import { nextSlotAfter } from "../scheduling/cron.js";
import type { StatusReport } from "../status/report.js";
import { deleteSelectedAction, purgeAction, redriveAction, redriveSelectedAction } from "./dlq-actions.js";
import { streamExecutionChanges } from "./feed.js";
import type { Html } from "./html.js";
import { HTML, HttpError, redirect, SECURITY_HEADERS, send } from "./http.js";
import { page, type Section } from "./layout.js";
import { noticeFor } from "./notices.js";
import { loadExecution, type RunnerPodLookup, renderExecution } from "./pages/execution.js";
import { loadExecutions, parseExecutionsQuery, renderExecutions } from "./pages/executions.js";
import { renderHealth } from "./pages/health.js";
import { loadQueue, renderQueue } from "./pages/queue.js";
import { exactExecution, loadSearch, parseSearchQuery, renderSearch } from "./pages/search.js";
import { loadWorkflowPage, renderWorkflowPage } from "./pages/workflow.js";
import { loadWorkflows, renderWorkflows } from "./pages/workflows.js";
import { cancelAction, rerunAction, runActions } from "./run-actions.js";

/**
 * What the console answers, as a table: a method, a path pattern and a small handler each. The guards
 * (Host, and for a POST its origin and form token: guard.ts) run before any handler, in server.ts; every
 * response gets the security headers (http.ts send), every page is built with escaping html``.
 */

export interface ConsoleDeps {
  readonly pool: Pool;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** The health page: `khctl status`'s report for this pipeline. */
  readonly health: () => Promise<StatusReport>;
  /** The runner pod of an execution's Job (the hybrid stack); unset where runs are not Jobs. */
  readonly runnerPod?: RunnerPodLookup;
  readonly logger: Logger;
  /** What the header says this console shows: "khctl dev on <data dir>", "stack local", … */
  readonly pipeline: string;
}

/** What every handler may use: the deps, the settings, this process's form token. */
export interface ConsoleContext {
  readonly deps: ConsoleDeps;
  /** Executions per page. */
  readonly pageSize: number;
  /** How often a live list asks the database for changes, ms. */
  readonly feedIntervalMs: number;
  /** Put in every form (guard.ts). */
  readonly token: string;
  /** Aborted when the console stops: ends the live lists. */
  readonly streams: AbortSignal;
  readonly assets: Assets;
}

/** One request as a handler sees it: its URL, what the route's pattern captured, where to answer. */
export interface RouteRequest {
  readonly url: URL;
  /** The pattern's groups; an optional one that matched nothing is undefined. */
  readonly params: readonly (string | undefined)[];
  /** A POST's form (guarded already: its token is this console's); empty for a GET. */
  readonly form: URLSearchParams;
  readonly response: ServerResponse;
}

export interface Route {
  readonly method: "GET" | "POST";
  /** Matched against the whole path; its groups become `params`. */
  readonly path: RegExp;
  readonly handle: (context: ConsoleContext, request: RouteRequest) => Promise<void> | void;
}

type Assets = Record<string, { type: string; body: string }>;

/** The stylesheet and script, read once (assets/ beside this file in the package, also in the images). */
export function loadAssets(): Assets {
  const dir = path.join(packageRoot(), "services", "console", "assets");
  const read = (name: string) => readFileSync(path.join(dir, name), "utf8");
  return {
    "/assets/console.css": { type: "text/css; charset=utf-8", body: read("console.css") },
    "/assets/console.js": { type: "text/javascript; charset=utf-8", body: read("console.js") },
    "/assets/filters.js": { type: "text/javascript; charset=utf-8", body: read("filters.js") },
  };
}

/** A page of the console, with the notice an action's redirect asked for (when `withNotice`). */
function sendPage(
  { deps }: ConsoleContext,
  { url, response }: RouteRequest,
  section: Section | undefined,
  title: string,
  body: Html,
  withNotice = true,
  searched?: string,
): void {
  const notice = withNotice ? noticeFor(url.searchParams) : undefined;
  const frame = { title, section, pipeline: deps.pipeline, ...(notice ? { notice } : {}), searched };
  const html = page(frame, body);
  send(response, 200, HTML, html, { "cache-control": "no-store" });
}

async function workflowsPage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const body = renderWorkflows(await loadWorkflows(context.deps.pool), context.token);
  sendPage(context, request, "/workflows", "Workflows", body);
}

async function workflowPage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const id = request.params[0] as string;
  const loaded = await loadWorkflowPage(context.deps.pool, id);
  if (!loaded) throw new HttpError(404, `workflow ${id} does not exist`);
  sendPage(context, request, "/workflows", loaded.workflow.name, renderWorkflowPage(loaded, context.token));
}

async function executionsPage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const query = parseExecutionsQuery(request.url.searchParams);
  const listed = await loadExecutions(context.deps.pool, query, context.pageSize);
  sendPage(context, request, "/executions", "Executions", renderExecutions(listed, context.pageSize));
}

/** The live list's server-sent events (feed.ts). */
async function executionEvents(context: ConsoleContext, { url, response }: RouteRequest): Promise<void> {
  await streamExecutionChanges(response, {
    pool: context.deps.pool,
    search: url.searchParams,
    intervalMs: context.feedIntervalMs,
    logger: context.deps.logger,
    signal: context.streams,
    headers: SECURITY_HEADERS,
  });
}

async function executionPage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const id = request.params[0] as string;
  const loaded = await loadExecution(context.deps.pool, id, context.deps.runnerPod);
  if (!loaded) throw new HttpError(404, `execution ${id} does not exist`);
  const actions = runActions(loaded.report.execution, context.token);
  sendPage(context, request, "/executions", `Execution ${id}`, renderExecution(loaded, actions));
}

/** Search: an exact execution id goes to its page; anything else lists what matches. */
async function searchPage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const wanted = parseSearchQuery(request.url.searchParams);
  const exact = wanted.before ? undefined : await exactExecution(context.deps.pool, wanted.text);
  if (exact) return redirect(request.response, `/executions/${exact}`);
  const found = await loadSearch(context.deps.pool, wanted, context.pageSize);
  const body = renderSearch(found, context.token);
  sendPage(context, request, undefined, "Search", body, false, wanted.text);
}

async function queuePage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  const { sqs, queueUrl } = context.deps;
  const loaded = await loadQueue(sqs, queueUrl, FLAG_SETTINGS.dlqListMax.default);
  sendPage(context, request, "/queue", "Queue", renderQueue(loaded, context.token));
}

async function healthPage(context: ConsoleContext, request: RouteRequest): Promise<void> {
  sendPage(context, request, "/health", "Health", renderHealth(await context.deps.health()), false);
}

function asset(context: ConsoleContext, { url, response }: RouteRequest): void {
  const found = context.assets[url.pathname];
  if (!found) throw new HttpError(404, `no page at ${url.pathname}`);
  send(response, 200, found.type, found.body, { "cache-control": "max-age=300" });
}

/** Trigger now: a manual execution, sent to the queue; then its page. */
async function triggerAction({ deps }: ConsoleContext, { params, response }: RouteRequest): Promise<void> {
  const id = params[0] as string;
  if (!(await getWorkflow(deps.pool, id))) throw new HttpError(404, `workflow ${id} does not exist`);
  const sendMessages = (messages: Parameters<typeof sendWorkflowMessages>[2]) =>
    sendWorkflowMessages(deps.sqs, deps.queueUrl, messages);
  const result = await triggerWorkflow(deps.pool, sendMessages, id, {});
  const notice = result.enqueued ? "triggered" : "not-enqueued";
  redirect(response, `/executions/${result.executionId}?notice=${notice}`);
}

/** Enable or disable a workflow (and its schedule); then the list, or the workflow's page it was asked from. */
async function enabledAction(
  { deps }: ConsoleContext,
  { url, params, response }: RouteRequest,
): Promise<void> {
  const [id, action] = params as [string, "enable" | "disable"];
  const changed = await setWorkflowEnabled(deps.pool, id, action === "enable", nextSlotAfter);
  if (!changed) throw new HttpError(404, `workflow ${id} does not exist`);
  const back = url.searchParams.get("from") === "workflow" ? `/workflows/${id}` : "/workflows";
  redirect(response, `${back}?notice=${action}d&id=${id}`);
}

export const ROUTES: readonly Route[] = [
  { method: "GET", path: /^\/$/, handle: (_, { response }) => redirect(response, "/workflows") },
  { method: "GET", path: /^\/workflows$/, handle: workflowsPage },
  { method: "GET", path: /^\/workflows\/([\w-]{1,64})$/, handle: workflowPage },
  { method: "GET", path: /^\/executions$/, handle: executionsPage },
  { method: "GET", path: /^\/executions\/events$/, handle: executionEvents },
  { method: "GET", path: /^\/executions\/([0-9a-z]{21})$/, handle: executionPage },
  { method: "GET", path: /^\/search$/, handle: searchPage },
  { method: "GET", path: /^\/queue$/, handle: queuePage },
  { method: "GET", path: /^\/health$/, handle: healthPage },
  { method: "GET", path: /^\/assets\/[\w.-]+$/, handle: asset },
  {
    method: "GET",
    path: /^\/favicon\.ico$/,
    handle: (_, { response }) => send(response, 204, "text/plain", ""),
  },
  { method: "POST", path: /^\/workflows\/([\w-]{1,64})\/trigger$/, handle: triggerAction },
  { method: "POST", path: /^\/workflows\/([\w-]{1,64})\/(enable|disable)$/, handle: enabledAction },
  { method: "POST", path: /^\/queue\/redrive(?:\/([^/]+))?$/, handle: redriveAction },
  { method: "POST", path: /^\/queue\/selected\/redrive$/, handle: redriveSelectedAction },
  { method: "POST", path: /^\/queue\/selected\/delete$/, handle: deleteSelectedAction },
  { method: "POST", path: /^\/queue\/purge$/, handle: purgeAction },
  { method: "POST", path: /^\/executions\/([0-9a-z]{21})\/rerun$/, handle: rerunAction },
  { method: "POST", path: /^\/executions\/([0-9a-z]{21})\/cancel$/, handle: cancelAction },
];

/** The route for a method and path, with its captures; undefined when there is none. */
export function findRoute(
  method: string,
  pathname: string,
): { route: Route; params: (string | undefined)[] } | undefined {
  for (const route of ROUTES) {
    const match = route.method === method ? route.path.exec(pathname) : null;
    if (match) return { route, params: match.slice(1) };
  }
  return undefined;
}
