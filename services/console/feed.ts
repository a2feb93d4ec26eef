import type { ServerResponse } from "node:http";
import { EXECUTION_STATUSES } from "../contracts/names.js";
import { sleep } from "../core/backoff.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { ExecutionChangeReader, type ExecutionFilter } from "../db/execution-list.js";
import type { Queryable } from "../db/pool.js";
import { databaseNow } from "../db/workflows.js";
import { executionRow } from "./pages/executions.js";

/**
 * The live list: a server-sent event stream of the executions that appear or change, each as the row the
 * list shows. Each stream asks the database every `intervalMs` for rows changed since its last answer
 * (ExecutionChangeReader, which `khctl execution list --watch` reads too). Polling, not LISTEN: it works
 * through any pooler, and a console has a few tabs open at most.
 */

/** A comment line this often keeps proxies and the browser from closing an idle stream, ms. */
const KEEPALIVE_MS = 15_000;

export interface FeedOptions {
  readonly pool: Queryable;
  /** workflow, status, id: the list's filter; since: the database time the page was read at. */
  readonly search: URLSearchParams;
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Ends the stream (the console stops). */
  readonly signal: AbortSignal;
  readonly headers: Record<string, string>;
}

/** What an event carries: the row, and whether it (still) matches the list's status filter. */
export interface ExecutionChange {
  readonly id: string;
  /** Where the row goes in a list ordered newest first: created_at to the microsecond, then the id. */
  readonly order: string;
  readonly status: string;
  readonly matches: boolean;
  readonly html: string;
}

type ChangedRow = Awaited<ReturnType<ExecutionChangeReader["read"]>>[number];

/** The reader of the list's changes since the page was read, and the status the list is filtered by. */
async function changeReaderFor(options: FeedOptions) {
  const { search } = options;
  const filter: ExecutionFilter = {
    ...(search.get("workflow") ? { workflowId: search.get("workflow") as string } : {}),
    ...(search.get("id") ? { id: search.get("id") as string } : {}),
  };
  const status = search.get("status");
  const wantedStatus = (EXECUTION_STATUSES as readonly string[]).includes(status ?? "") ? status : null;
  const asked = Date.parse(search.get("since") ?? "");
  const since = Number.isFinite(asked) ? new Date(asked) : await databaseNow(options.pool);
  return { changes: new ExecutionChangeReader(options.pool, filter, since), wantedStatus };
}

/** One `execution` event: the row as the list shows it, and whether it (still) matches the filter. */
function changeEvent(row: ChangedRow, wantedStatus: string | null): string {
  const change: ExecutionChange = {
    id: row.id,
    order: `${row.created_at_exact} ${row.id}`,
    status: row.status,
    matches: wantedStatus === null || row.status === wantedStatus,
    html: executionRow(row).text,
  };
  return `event: execution\ndata: ${JSON.stringify(change)}\n\n`;
}

export async function streamExecutionChanges(response: ServerResponse, options: FeedOptions): Promise<void> {
  const { changes, wantedStatus } = await changeReaderFor(options);
  response.writeHead(200, {
    ...options.headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    connection: "keep-alive",
  });
  response.write("retry: 2000\n\n");
  const ended = new AbortController();
  const end = () => ended.abort();
  // The response's close: the browser went away (or the stream ended); the request's says less since Node 16.
  response.on("close", end);
  options.signal.addEventListener("abort", end, { once: true });
  let lastWrite = Date.now();
  const write = (text: string) => {
    response.write(text);
    lastWrite = Date.now();
  };
  let failing = false;
  try {
    while (!ended.signal.aborted) {
      try {
        for (const row of await changes.read()) write(changeEvent(row, wantedStatus));
        failing = false;
      } catch (error) {
        // Once per outage, not once a second; the stream goes on and catches up when the database is back.
        if (!failing)
          options.logger.warn({ err: errorMessage(error) }, "console: the live list cannot read changes");
        failing = true;
      }
      if (Date.now() - lastWrite > KEEPALIVE_MS) write(": keep-alive\n\n");
      await sleep(options.intervalMs, ended.signal);
    }
  } finally {
    response.off("close", end);
    options.signal.removeEventListener("abort", end);
    response.end();
  }
}
