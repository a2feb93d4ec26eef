import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { SPAWNER_HEALTH } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";

/**
 * The spawner's one HTTP port: /healthz (the process is alive), /readyz (every dependency answers;
 * 503 with the failing ones, and while stopping), /metrics (Prometheus text).
 */

/** A readiness check: resolves when the dependency answers. */
export type ReadinessCheck = () => Promise<unknown>;

export interface HealthServerOptions {
  /** TCP port; 0 picks a free one. Default SPAWNER_HEALTH.port (8080). */
  readonly port?: number;
  /** Listen address. Default 0.0.0.0 (the kubelet probes the pod IP). */
  readonly host?: string;
  readonly registry: Registry;
  /** Named checks for /readyz, e.g. { queue, kubernetes }. */
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
  /** Each readiness check fails after this long, ms. Default 3000. */
  readonly checkTimeoutMs?: number;
}

export interface HealthServer {
  readonly url: string;
  /** From now on /readyz answers 503 (called when a graceful stop begins). */
  markStopping(): void;
  close(): Promise<void>;
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
      }),
    ]);
    return "ok";
  } catch (error) {
    return errorMessage(error);
  } finally {
    clearTimeout(timer);
  }
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const timeoutMs = options.checkTimeoutMs ?? 3000;
  let stopping = false;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    void (async () => {
      if (req.method !== "GET" && req.method !== "HEAD")
        return reply(405, "text/plain", "method not allowed\n");
      if (path === SPAWNER_HEALTH.livenessPath) return reply(200, "text/plain", "ok\n");
      if (path === SPAWNER_HEALTH.readinessPath) {
        const entries = await Promise.all(
          Object.entries(options.checks).map(async ([name, check]) => [
            name,
            await runCheck(check, timeoutMs),
          ]),
        );
        const results: Record<string, string> = Object.fromEntries(entries);
        if (stopping) results.spawner = "stopping";
        const ready = !stopping && Object.values(results).every((value) => value === "ok");
        return reply(ready ? 200 : 503, "application/json", `${JSON.stringify(results)}\n`);
      }
      if (path === "/metrics") {
        return reply(200, options.registry.contentType, await options.registry.metrics());
      }
      return reply(404, "text/plain", "not found\n");
    })().catch((error) => reply(500, "text/plain", `${errorMessage(error)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? SPAWNER_HEALTH.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : address.address;
  return {
    url: `http://${host}:${address.port}`,
    markStopping() {
      stopping = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
