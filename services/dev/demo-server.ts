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

/**
 * The small HTTP API the seeded example workflows call, so the first run needs no internet:
 * `GET /health` -> `{ok: true, time}`; `POST /echo` -> the JSON body back as `{received}`.
 */
export async function startDemoServer(port = 0): Promise<DemoServer> {
  let served = 0;
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      served++;
      const url = new URL(request.url ?? "/", "http://127.0.0.1");
      response.setHeader("content-type", "application/json");
      if (request.method === "GET" && url.pathname === "/health") {
        response.end(JSON.stringify({ ok: true, time: new Date().toISOString() }));
      } else if (request.method === "POST" && url.pathname === "/echo") {
        let received: unknown = body;
        try {
          received = JSON.parse(body);
        } catch {}
        response.end(JSON.stringify({ received }));
      } else {
        response.statusCode = 404;
        response.end(JSON.stringify({ error: `no route ${request.method} ${url.pathname}` }));
      }
    });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const actual = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${actual}`,
    port: actual,
    served: () => served,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
