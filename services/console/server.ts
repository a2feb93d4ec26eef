import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { FLAG_SETTINGS } from "../contracts/settings.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { packageRoot } from "../core/paths.js";
import type { Pool } from "../db/pool.js";
import { getWorkflow, setWorkflowEnabled } from "../db/workflows.js";
import { triggerWorkflow } from "../dispatcher/trigger.js";
import { redriveDeadLetter, redriveDeadLetters } from "../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../queue/ensure.js";
import { sendWorkflowMessages } from "../queue/send.js";
import { nextSlotAfter } from "../scheduling/cron.js";
import type { StatusReport } from "../status/report.js";
import { streamExecutionChanges } from "./feed.js";
import { RequestGuard } from "./guard.js";
import { type Html, html } from "./html.js";
import { page, type Section } from "./layout.js";
import { loadExecution, type RunnerPodLookup, renderExecution } from "./pages/execution.js";
import { loadExecutions, parseExecutionsQuery, renderExecutions } from "./pages/executions.js";
import { renderHealth } from "./pages/health.js";
import { loadQueue, renderQueue } from "./pages/queue.js";
import { loadWorkflows, renderWorkflows } from "./pages/workflows.js";

/**
 * The web console: server-rendered pages over the same modules the CLI uses (db/, queue/, status/, the
 * CLI's execution report), a little script for live lists (server-sent events), nothing fetched from
 * elsewhere. Bound to 127.0.0.1 by default; its POSTs are guarded (guard.ts).
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

export interface ConsoleOptions {
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 = any free one. Default 54332; a default that is taken falls back to a free one (a notice). */
  readonly port?: number;
  /** Executions per page. Default 50. */
  readonly pageSize?: number;
  /** How often a live list asks the database for changes, ms. Default 1000. */
  readonly feedIntervalMs?: number;
}

export interface RunningConsole {
  readonly url: string;
  readonly port: number;
  /** Things to tell the person (the port fell back, …), one line each. */
  readonly notices: readonly string[];
  /** Stops listening and ends the live lists. Idempotent. */
  stop(): Promise<void>;
}

export const CONSOLE_DEFAULT_PORT = FLAG_SETTINGS.consolePort.default;
const DEFAULT_PAGE_SIZE = 50;
const MAX_FORM_BYTES = 4096;

/** Security headers on every response: no framing, no sniffing, only this origin's script and style. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  // same-origin, not no-referrer: with no-referrer the browser sends `Origin: null` on the console's own POSTs.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

/** The stylesheet and script, read once (assets/ beside this file in the package, also in the images). */
function loadAssets(): Record<string, { type: string; body: string }> {
  const dir = path.join(packageRoot(), "services", "console", "assets");
  return {
    "/assets/console.css": {
      type: "text/css; charset=utf-8",
      body: readFileSync(path.join(dir, "console.css"), "utf8"),
    },
    "/assets/console.js": {
      type: "text/javascript; charset=utf-8",
      body: readFileSync(path.join(dir, "console.js"), "utf8"),
    },
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Notices after an action, by code: the text is ours, the request only picks one (and names an id). */
function noticeFor(search: URLSearchParams): Html | undefined {
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

export async function startConsole(deps: ConsoleDeps, options: ConsoleOptions = {}): Promise<RunningConsole> {
  const host = options.host ?? "127.0.0.1";
  const wanted = options.port ?? CONSOLE_DEFAULT_PORT;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const assets = loadAssets();
  const streams = new AbortController();
  let guard: RequestGuard | undefined;

  const send = (
    response: ServerResponse,
    status: number,
    type: string,
    body: string,
    extra: Record<string, string> = {},
  ) => {
    response.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, ...extra });
    response.end(body);
  };
  const sendPage = (
    response: ServerResponse,
    section: Section,
    title: string,
    body: Html,
    search?: URLSearchParams,
  ) => {
    const notice = search ? noticeFor(search) : undefined;
    send(
      response,
      200,
      "text/html; charset=utf-8",
      page({ title, section, pipeline: deps.pipeline, ...(notice ? { notice } : {}) }, body),
      { "cache-control": "no-store" },
    );
  };
  const redirect = (response: ServerResponse, location: string) =>
    send(response, 303, "text/plain; charset=utf-8", "", { location });

  const getPage = async (url: URL, response: ServerResponse) => {
    const route = url.pathname;
    const token = (guard as RequestGuard).token;
    if (route === "/") return redirect(response, "/workflows");
    if (route === "/workflows") {
      return sendPage(
        response,
        "/workflows",
        "Workflows",
        renderWorkflows(await loadWorkflows(deps.pool), token),
        url.searchParams,
      );
    }
    if (route === "/executions") {
      const listed = await loadExecutions(deps.pool, parseExecutionsQuery(url.searchParams), pageSize);
      return sendPage(
        response,
        "/executions",
        "Executions",
        renderExecutions(listed, pageSize),
        url.searchParams,
      );
    }
    if (route === "/executions/events") {
      return streamExecutionChanges(response, {
        pool: deps.pool,
        search: url.searchParams,
        intervalMs: options.feedIntervalMs ?? 1000,
        logger: deps.logger,
        signal: streams.signal,
        headers: SECURITY_HEADERS,
      });
    }
    const execution = /^\/executions\/([0-9a-z]{21})$/.exec(route);
    if (execution) {
      const id = execution[1] as string;
      const loaded = await loadExecution(deps.pool, id, deps.runnerPod);
      if (!loaded) throw new HttpError(404, `execution ${id} does not exist`);
      return sendPage(response, "/executions", `Execution ${id}`, renderExecution(loaded), url.searchParams);
    }
    if (route === "/queue") {
      const loaded = await loadQueue(deps.sqs, deps.queueUrl, FLAG_SETTINGS.dlqListMax.default);
      return sendPage(response, "/queue", "Queue", renderQueue(loaded, token), url.searchParams);
    }
    if (route === "/health") {
      return sendPage(response, "/health", "Health", renderHealth(await deps.health()));
    }
    const asset = assets[route];
    if (asset) return send(response, 200, asset.type, asset.body, { "cache-control": "max-age=300" });
    if (route === "/favicon.ico") return send(response, 204, "text/plain", "");
    throw new HttpError(404, `no page at ${route}`);
  };

  const post = async (url: URL, response: ServerResponse) => {
    const route = url.pathname;
    const workflow = /^\/workflows\/([\w-]{1,64})\/(enable|disable|trigger)$/.exec(route);
    if (workflow) {
      const [, id, action] = workflow as unknown as [string, string, string];
      if (action === "trigger") {
        if (!(await getWorkflow(deps.pool, id))) throw new HttpError(404, `workflow ${id} does not exist`);
        const sendMessages = (messages: Parameters<typeof sendWorkflowMessages>[2]) =>
          sendWorkflowMessages(deps.sqs, deps.queueUrl, messages);
        const result = await triggerWorkflow(deps.pool, sendMessages, id, {});
        return redirect(
          response,
          `/executions/${result.executionId}?notice=${result.enqueued ? "triggered" : "not-enqueued"}`,
        );
      }
      const changed = await setWorkflowEnabled(deps.pool, id, action === "enable", nextSlotAfter);
      if (!changed) throw new HttpError(404, `workflow ${id} does not exist`);
      return redirect(response, `/workflows?notice=${action}d&id=${id}`);
    }
    const redrive = /^\/queue\/redrive(?:\/([^/]+))?$/.exec(route);
    if (redrive) {
      const dlq = await findDeadLetterQueueUrl(deps.sqs, deps.queueUrl);
      if (!dlq)
        throw new HttpError(409, `queue ${deps.queueUrl} has no dead-letter queue (khctl queue ensure)`);
      const messageId = redrive[1] ? decodeURIComponent(redrive[1]) : undefined;
      if (messageId === undefined) {
        const moved = await redriveDeadLetters(deps.sqs, dlq, deps.queueUrl);
        return redirect(response, `/queue?notice=redriven&n=${moved.length}`);
      }
      const found = await redriveDeadLetter(deps.sqs, dlq, deps.queueUrl, messageId);
      return redirect(response, found ? "/queue?notice=redriven&n=1" : "/queue?notice=not-in-dlq");
    }
    throw new HttpError(404, `nothing to do at ${route}`);
  };

  const errorPage = (response: ServerResponse, status: number, message: string) => {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const title = status === 404 ? "Not found" : status === 403 ? "Refused" : "Something went wrong";
    send(
      response,
      status,
      "text/html; charset=utf-8",
      page(
        { title, section: "/workflows", pipeline: deps.pipeline },
        html`<p class="error-text">${message}</p><p><a href="/workflows">Back to the workflows</a></p>`,
      ),
    );
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://console.invalid");
    if (!(guard as RequestGuard).hostAllowed(request)) {
      return send(
        response,
        421,
        "text/plain; charset=utf-8",
        "This console answers only to its own address.\n",
      );
    }
    try {
      if (request.method === "GET" || request.method === "HEAD") return await getPage(url, response);
      if (request.method !== "POST") {
        return send(response, 405, "text/plain; charset=utf-8", "Method not allowed\n", {
          allow: "GET, POST",
        });
      }
      const form = await readForm(request);
      const refused = (guard as RequestGuard).refusePost(request, form);
      if (refused) throw new HttpError(403, refused);
      await post(url, response);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      if (status === 500)
        deps.logger.warn({ err: errorMessage(error), url: url.pathname }, "console page failed");
      errorPage(response, status, status === 500 ? `It failed: ${errorMessage(error)}` : errorMessage(error));
    }
  };

  const server = createServer((request, response) => void handle(request, response));
  const notices: string[] = [];
  let port: number;
  try {
    port = await listen(server, wanted, host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || wanted === 0) throw error;
    port = await listen(server, 0, host);
    notices.push(`console: port ${wanted} is taken; using ${port}`);
  }
  guard = new RequestGuard(host, port);
  let stopping: Promise<void> | undefined;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost === "0.0.0.0" || urlHost === "[::]" ? "127.0.0.1" : urlHost}:${port}`,
    port,
    notices,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        streams.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A POST's urlencoded form, at most MAX_FORM_BYTES. */
async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const type = request.headers["content-type"] ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) {
    throw new HttpError(415, "the console's forms send application/x-www-form-urlencoded");
  }
  let body = "";
  for await (const chunk of request) {
    body += chunk;
    if (body.length > MAX_FORM_BYTES) throw new HttpError(413, "the form is too large");
  }
  return new URLSearchParams(body);
}
