import { type ChildProcessByStdio, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { newId } from "../../services/core/ids.js";
import { migrate } from "../../services/db/migrate.js";
import { buildDist } from "./build.js";
import { isolateEnvironment } from "./environment.js";
import { scaled, within } from "./wait.js";

/**
 * Once per test run, in vitest's main process:
 * - makes the run's own dir (/tmp/kh-test-run-*, removed at the end) and isolates the run from the shell's
 *   settings (environment.ts), before any worker starts;
 * - builds dist/ (tests of the entry point run the compiled khctl, as users do);
 * - starts a Postgres server in a child process (postgres-process.ts), or uses TEST_DATABASE_URL's server,
 *   and creates a migrated template database that each test file clones (database.ts).
 * The server's library never loads in this process: its exit hook would turn a failing run into exit 0.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the server's maintenance database; test databases are created beside it. */
    postgresAdminUrl: string;
    /** The migrated template database of this run (unique per run, so two runs can share a server). */
    templateDatabase: string;
  }
}

const root = path.resolve(import.meta.dirname, "..", "..");

let runDir: string | undefined;
let postgres: ChildProcessByStdio<Writable, Readable, null> | undefined;
let adminUrl: string | undefined;
let templateDatabase: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  runDir = await mkdtemp("/tmp/kh-test-run-");
  // Open to the `postgres` user that embedded servers run as when the tests run as root.
  await chmod(runDir, 0o755);
  isolateEnvironment(process.env, runDir);
  await mkdir(process.env.TMPDIR as string, { mode: 0o755 });
  const server = process.env.TEST_DATABASE_URL ? undefined : startPostgresProcess(runDir);
  const [, url] = await Promise.all([buildDist(), server ?? (process.env.TEST_DATABASE_URL as string)]);
  adminUrl = url;
  templateDatabase = `kh_test_template_${newId()}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${templateDatabase}`);
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  await migrate(templateUrl.toString());
  project.provide("postgresAdminUrl", adminUrl);
  project.provide("templateDatabase", templateDatabase);
}

export async function teardown(): Promise<void> {
  if (adminUrl && templateDatabase && !postgres) {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`);
  }
  if (postgres) await stopPostgresProcess(postgres);
  // Vitest's workers may still be exiting, and Node writes a process's compile cache (NODE_COMPILE_CACHE,
  // inside runDir) as it exits: a directory that fills while it is removed is retried, not an error.
  if (runDir) await rm(runDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/** Starts postgres-process.ts under tsx in `dir`; resolves with the server's URL once it accepts connections. */
async function startPostgresProcess(dir: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(import.meta.dirname, "postgres-process.ts"), path.join(dir, "postgres")],
    { cwd: root, stdio: ["pipe", "pipe", "inherit"] },
  );
  postgres = child;
  const firstLine = once(createInterface({ input: child.stdout }), "line").then(([line]) => String(line));
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`the test Postgres process exited (code ${code}) before it was ready`);
  });
  exited.catch(() => {}); // after start-up, exiting is no error: it exits at teardown
  const line = await within(Promise.race([firstLine, exited]), 60_000, "the test Postgres starting");
  return (JSON.parse(line) as { url: string }).url;
}

/** Closing its stdin asks the process to stop the server; SIGKILL only if it does not end in time. */
async function stopPostgresProcess(child: ChildProcessByStdio<Writable, Readable, null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), scaled(20_000));
  await exited.finally(() => clearTimeout(timer));
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}
