import { readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * One khctl dev per data dir, and how other khctl commands find it. A running dev owns `<data dir>/dev.json`:
 * created exclusively (so of two starts one wins), it holds dev's pid while it starts, then its connection
 * settings and a heartbeat while it runs, and is removed when it stops. A file left by a dev that died is
 * recognised by its pid (no such process, or not a khctl one) and taken over.
 */

export const DEV_STATE_FILE = "dev.json";
/** One file per terminal told which dev its khctl commands use (cli/dev-discovery.ts); removed at start and stop. */
export const TERMINALS_DIR = "terminals";

export interface DevConnection {
  readonly databaseUrl: string;
  readonly sqsQueueUrl: string;
  readonly awsEndpointUrl: string;
  readonly awsRegion: string;
  readonly demoApi: string;
  /** The web console's URL (not with --demo). */
  readonly console?: string;
  readonly ports: {
    readonly postgres: number;
    readonly sqs: number;
    readonly demoApi: number;
    readonly console?: number;
  };
}

export interface DevHeartbeat {
  /** When the file was last written by the running dev. */
  readonly at: string;
  /** The dispatcher's last finished pass, and its interval. */
  readonly dispatcher: { readonly lastPassAt: string | null; readonly intervalSeconds: number };
  /** Whether the executor is taking work, and its runs in flight. */
  readonly executor: { readonly running: boolean; readonly inFlight: number; readonly concurrency: number };
}

export interface DevState {
  readonly pid: number;
  readonly startedAt: string;
  readonly dataDir: string;
  /** "starting" until the connection is known. */
  readonly state: "starting" | "running";
  readonly connection?: DevConnection;
  readonly heartbeat?: DevHeartbeat;
}

/** The data dir is in use by another khctl dev; the message names it (pid, ports). */
export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
  constructor(readonly holder: DevState) {
    super(`khctl dev is already running on ${holder.dataDir} (${describeInstance(holder)})`);
  }
}

/** `pid 1234, postgres 54329, sqs 54330, demo API 54331, console 54332` (ports once known). */
export function describeInstance(state: DevState): string {
  const ports = state.connection?.ports;
  const known = ports
    ? `, postgres ${ports.postgres}, sqs ${ports.sqs}, demo API ${ports.demoApi}${ports.console ? `, console ${ports.console}` : ""}`
    : ", starting";
  return `pid ${state.pid}${known}`;
}

/** Whether pid is a live khctl process (on Linux, its command line says so; elsewhere, alive is enough). */
export function isKhctlProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, but another user's: not a dev this user could have started on this dir.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return /khctl|cli[/\\]main\.[jt]s/.test(cmdline);
  } catch {
    return true;
  }
}

const stateFile = (dataDir: string) => path.join(dataDir, DEV_STATE_FILE);

async function readState(dataDir: string): Promise<DevState | null> {
  try {
    return JSON.parse(await readFile(stateFile(dataDir), "utf8")) as DevState;
  } catch {
    // Missing, or half-written by a dev that died while creating it: no holder either way.
    return null;
  }
}

/** The khctl dev running on dataDir with its connection known, or null. */
export async function findRunningDev(dataDir: string): Promise<DevState | null> {
  const state = await readState(dataDir);
  if (state?.state !== "running" || !state.connection) return null;
  return isKhctlProcess(state.pid) ? state : null;
}

/** A data dir this process holds: write what others may read, release it when done. */
export interface DevLock {
  readonly dataDir: string;
  /** Replaces the state others read (written to a temporary file and renamed: never half a file). */
  publish(update: Partial<Pick<DevState, "state" | "connection" | "heartbeat">>): Promise<void>;
  /** Removes the state file. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes dataDir for this process, or throws DataDirInUseError naming the dev that has it. A state file
 * whose process is gone is taken over.
 */
export async function acquireDataDir(dataDir: string): Promise<DevLock> {
  await mkdir(dataDir, { recursive: true });
  let state: DevState = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dataDir,
    state: "starting",
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(stateFile(dataDir), `${JSON.stringify(state)}\n`, { flag: "wx", mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const holder = await readState(dataDir);
      if (holder && holder.pid !== process.pid && isKhctlProcess(holder.pid))
        throw new DataDirInUseError(holder);
      await rm(stateFile(dataDir), { force: true });
    }
  }
  await rm(path.join(dataDir, TERMINALS_DIR), { recursive: true, force: true });
  let released = false;
  return {
    dataDir,
    async publish(update) {
      if (released) return;
      state = { ...state, ...update };
      const temporary = `${stateFile(dataDir)}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify(state)}\n`, { mode: 0o600 });
      await rename(temporary, stateFile(dataDir));
    },
    async release() {
      if (released) return;
      released = true;
      const current = await readState(dataDir);
      if (current?.pid !== process.pid) return;
      await rm(stateFile(dataDir), { force: true });
      await rm(path.join(dataDir, TERMINALS_DIR), { recursive: true, force: true });
    },
  };
}
