import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface DemoServer {
  /** http://127.0.0.1:<port> */
  readonly base: string;
  readonly port: number;
  /** Requests served, for the dev output. */
  readonly served: () => number;
  stop(): Promise<void>;
}

/** The longest `/delay/<ms>` waits, ms. */
const MAX_DELAY_MS = 60_000;

/**
 * The demo API's routes, as `GET /` lists them: what the example workflows (examples/, and the ones khctl
 * dev seeds) call, so they run with no internet. Documented in docs/demo-api.md.
 */
export const DEMO_ROUTES = {
  "GET /": "this list",
  "GET /health": '{"ok": true, "time": "<ISO time>"}',
  "GET /status":
    'a status document: {"service": "demo-api", "healthy": true, "checks": [{"name", "ok"}, …], "time"}',
  "GET /status/<code>": 'answers with that HTTP status (100-599) and {"status": <code>}',
  "GET /delay/<ms>": `answers {"delayedMs": <ms>} after that long (at most ${MAX_DELAY_MS})`,
  "POST /echo": 'the JSON body back as {"received": <body>} (text when it is not JSON)',
} as const;

type Reply = { status: number; body: unknown; afterMs?: number };

/** What to answer; pure but for the clock. */
export function demoReply(method: string, pathname: string, body: string): Reply {
  const route = `${method} ${pathname}`;
  if (route === "GET /") return { status: 200, body: { routes: DEMO_ROUTES } };
  if (route === "GET /health") return { status: 200, body: { ok: true, time: new Date().toISOString() } };
  if (route === "GET /status") {
    return {
      status: 200,
      body: {
        service: "demo-api",
        healthy: true,
        checks: [
          { name: "database", ok: true },
          { name: "queue", ok: true },
        ],
        time: new Date().toISOString(),
      },
    };
  }
  const code = /^GET \/status\/(\d{3})$/.exec(route)?.[1];
  if (code && Number(code) >= 100 && Number(code) <= 599) {
    return { status: Number(code), body: { status: Number(code) } };
  }
  const delay = /^GET \/delay\/(\d+)$/.exec(route)?.[1];
  if (delay) {
    const ms = Math.min(Number(delay), MAX_DELAY_MS);
    return { status: 200, body: { delayedMs: ms }, afterMs: ms };
  }
  if (route === "POST /echo") {
    let received: unknown = body;
    try {
      received = JSON.parse(body);
    } catch {}
    return { status: 200, body: { received } };
  }
  return { status: 404, body: { error: `no route ${route} (GET / lists them)` } };
}

/** The small HTTP API the example workflows call, on 127.0.0.1 (port 0: any free one). */
export async function startDemoServer(port = 0): Promise<DemoServer> {
  let served = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      served++;
      const url = new URL(request.url ?? "/", "http://127.0.0.1");
      const reply = demoReply(request.method ?? "GET", url.pathname, body);
      const send = () => {
        response.statusCode = reply.status;
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(reply.body));
      };
      if (!reply.afterMs) return send();
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, reply.afterMs);
      timers.add(timer);
    });
  });
  server.listen(port, "127.0.0.1");
  // Rejects with the server's "error" (EADDRINUSE: the caller may take another port).
  await once(server, "listening");
  const actual = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${actual}`,
    port: actual,
    served: () => served,
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
