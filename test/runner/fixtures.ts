import { EventEmitter, once } from "node:events";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll } from "vitest";
import { createExecution } from "../../services/db/executions.js";
import type { Pool } from "../../services/db/pool.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { validateWorkflow } from "../../services/workflow/definition.js";

/**
 * A local HTTP server for workflow tests, on 127.0.0.1 (closed after the file):
 * - `/` 200 text/html; `/post` echoes a POST as JSON `{json, body}`; `/json` a JSON document;
 * - `/status/<code>` answers with that status;
 * - `/slow` never answers; `events` emits "slow" when such a request arrives and "slow-closed" when the
 *   client drops it (an aborted fetch);
 * - `/held` answers 200 only when told: `events` emits "held" with a function that sends the answer;
 * - `/bytes/<n>` streams n bytes of text in 64 KiB chunks, `/endless` streams until the client goes away
 *   ("endless-closed");
 * - `/headers` answers with a Set-Cookie and an echo of the request's headers and query in JSON;
 * - `/deep/<n>` a JSON document `{"a":{"a":…1…}}` nested n levels deep (`?type=` its content type,
 *   default application/json; `?status=` its status, default 200).
 */
export async function startTestServer(): Promise<{ base: string; events: EventEmitter; requests: string[] }> {
  const events = new EventEmitter();
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://localhost");
      requests.push(`${request.method} ${url.pathname}`);
      if (url.pathname === "/") {
        response.setHeader("content-type", "text/html");
        response.end("<h1>up</h1>");
      } else if (url.pathname === "/post") {
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {}
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ json, body }));
      } else if (url.pathname === "/json") {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ slideshow: { slides: [{ title: "one" }] } }));
      } else if (url.pathname.startsWith("/status/")) {
        response.statusCode = Number(url.pathname.slice("/status/".length));
        response.end("status");
      } else if (url.pathname.startsWith("/bytes/")) {
        streamBytes(response, Number(url.pathname.slice("/bytes/".length)));
      } else if (url.pathname === "/endless") {
        request.socket.once("close", () => events.emit("endless-closed"));
        streamBytes(response, Number.POSITIVE_INFINITY);
      } else if (url.pathname === "/headers") {
        response.setHeader("content-type", "application/json");
        response.setHeader("set-cookie", "session=cookie-sentinel; HttpOnly");
        response.end(
          JSON.stringify({ headers: request.headers, query: Object.fromEntries(url.searchParams) }),
        );
      } else if (url.pathname.startsWith("/deep/")) {
        const levels = Number(url.pathname.slice("/deep/".length));
        response.statusCode = Number(url.searchParams.get("status") ?? 200);
        response.setHeader("content-type", url.searchParams.get("type") ?? "application/json");
        response.end(`${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`);
      } else if (url.pathname === "/held") {
        events.emit("held", () => response.end("released"));
      } else if (url.pathname === "/slow") {
        request.socket.once("close", () => events.emit("slow-closed"));
        events.emit("slow");
      } else {
        response.statusCode = 404;
        response.end();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, events, requests };
}

/** Writes `total` bytes of text in 64 KiB chunks, waiting for the client to drain each (forever: Infinity). */
function streamBytes(response: http.ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, "x");
  let sent = 0;
  response.setHeader("content-type", "text/plain");
  const write = () => {
    while (sent < total && !response.destroyed) {
      const part = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
      sent += part.length;
      if (!response.write(part)) return void response.once("drain", write);
    }
    if (!response.destroyed) response.end();
  };
  response.on("error", () => {});
  write();
}

/** The demo API the offline examples call: khctl dev's on its default port. */
export const DEMO_API_BASE = "http://127.0.0.1:54331";

/** An example workflow file with its endpoints (public, or the demo API) pointed at `base`. */
export function loadExample(name: string, base: string): Record<string, unknown> {
  const text = readFileSync(path.join(import.meta.dirname, "..", "..", "examples", name), "utf8")
    .replaceAll("https://example.com", base)
    .replaceAll("https://httpbin.org", base)
    .replaceAll(DEMO_API_BASE, base);
  return JSON.parse(text);
}

/** Stores a workflow and creates a pending manual execution of it; returns both ids. */
export async function createPending(
  pool: Pool,
  workflow: unknown,
  input: Record<string, unknown> = {},
): Promise<{ workflowId: string; executionId: string }> {
  const { workflow: row } = await createWorkflow(pool, { definition: validateWorkflow(workflow) });
  const executionId = await createExecution(pool, { workflowId: row.id, triggerType: "manual", input });
  return { workflowId: row.id, executionId };
}
