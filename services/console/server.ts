import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { FLAG_SETTINGS } from "../contracts/settings.js";
import { errorMessage } from "../core/errors.js";
import { RequestGuard } from "./guard.js";
import { html } from "./html.js";
import { HTML, HttpError, listen, readForm, send, TEXT } from "./http.js";
import { page } from "./layout.js";
import { type ConsoleContext, type ConsoleDeps, findRoute, loadAssets } from "./routes.js";

export type { ConsoleDeps } from "./routes.js";

/**
 * The web console: server-rendered pages over the same modules the CLI uses (db/, queue/, status/, the
 * CLI's execution report), a little script for live lists (server-sent events), nothing fetched from
 * elsewhere. Bound to 127.0.0.1 by default; its POSTs are guarded (guard.ts). What it answers is the
 * table in routes.ts; this module listens, guards each request and answers failures.
 */

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

export async function startConsole(deps: ConsoleDeps, options: ConsoleOptions = {}): Promise<RunningConsole> {
  const host = options.host ?? "127.0.0.1";
  const wanted = options.port ?? CONSOLE_DEFAULT_PORT;
  const streams = new AbortController();
  // Both need the port, known once listening; no request is answered before then.
  let guard: RequestGuard | undefined;
  let context: ConsoleContext | undefined;
  const server = createServer(
    (request, response) => void answer(context as ConsoleContext, guard as RequestGuard, request, response),
  );
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
  context = {
    deps,
    pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE,
    feedIntervalMs: options.feedIntervalMs ?? 1000,
    token: guard.token,
    streams: streams.signal,
    assets: loadAssets(),
  };
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${displayHost(host)}:${port}`,
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

/** The host of the console's URL: a wildcard is reached through 127.0.0.1, an IPv6 address in brackets. */
function displayHost(host: string): string {
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return urlHost === "0.0.0.0" || urlHost === "[::]" ? "127.0.0.1" : urlHost;
}

/** One request: the Host guard, then (a POST) its origin and token, then the route's handler. */
async function answer(
  context: ConsoleContext,
  guard: RequestGuard,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? "/", "http://console.invalid");
  if (!guard.hostAllowed(request)) {
    return send(response, 421, TEXT, "This console answers only to its own address.\n");
  }
  const method = request.method === "HEAD" ? "GET" : request.method;
  if (method !== "GET" && method !== "POST") {
    return send(response, 405, TEXT, "Method not allowed\n", { allow: "GET, POST" });
  }
  try {
    const form = method === "POST" ? await readForm(request) : new URLSearchParams();
    if (method === "POST") {
      const refused = guard.refusePost(request, form);
      if (refused) throw new HttpError(403, refused);
    }
    const found = findRoute(method, url.pathname);
    if (!found) {
      throw new HttpError(
        404,
        method === "GET" ? `no page at ${url.pathname}` : `nothing to do at ${url.pathname}`,
      );
    }
    await found.route.handle(context, { url, params: found.params, form, response });
  } catch (error) {
    answerFailure(context, response, url, error);
  }
}

/** The page for a refused or failed request; a failure midway through a response ends the connection. */
function answerFailure(context: ConsoleContext, response: ServerResponse, url: URL, error: unknown): void {
  const status = error instanceof HttpError ? error.status : 500;
  if (status === 500) {
    context.deps.logger.warn({ err: errorMessage(error), url: url.pathname }, "console page failed");
  }
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const message = status === 500 ? `It failed: ${errorMessage(error)}` : errorMessage(error);
  const title = status === 404 ? "Not found" : status === 403 ? "Refused" : "Something went wrong";
  const body = html`<p class="error-text">${message}</p><p><a href="/workflows">Back to the workflows</a></p>`;
  send(response, status, HTML, page({ title, section: "/workflows", pipeline: context.deps.pipeline }, body));
}
