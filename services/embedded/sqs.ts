import { loadDevDependency } from "./dev-dependency.js";

export interface EmbeddedSqsOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. Default 0. */
  readonly port?: number;
}

export interface RunningSqs {
  /** The endpoint to give SQSClient (AWS_ENDPOINT_URL), e.g. http://127.0.0.1:41234. */
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts the fauxqs SQS emulator in this process, listening on 127.0.0.1 only (its own startFauxqs
 * listens on every interface). Queues live in memory and are gone after stop().
 */
export async function startEmbeddedSqs(options: EmbeddedSqsOptions = {}): Promise<RunningSqs> {
  // A development dependency: loaded here only, so no other verb needs it installed (dev-dependency.ts).
  const { buildApp } = await loadDevDependency("fauxqs", () => import("fauxqs"));
  const app = buildApp({ logger: false });
  const address = await app.listen({ port: options.port ?? 0, host: "127.0.0.1" });
  const port = Number(new URL(address).port);
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
    },
  };
}
