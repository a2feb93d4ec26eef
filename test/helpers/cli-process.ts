import { type ChildProcessByStdio, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { within } from "./wait.js";

/**
 * The real khctl as a child process: the built entry (`node dist/services/cli/main.js …`), as `npm start`
 * and the images run it, for tests of the entry point. Global setup builds dist/ once per test run.
 */

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const root = path.join(import.meta.dirname, "..", "..");
/** dist/services/cli/main.js, the compiled khctl (global setup runs the build first). */
export const CLI_ENTRY = path.join(root, "dist", "services", "cli", "main.js");

export type CliProcess = ChildProcessByStdio<Writable | null, Readable, Readable> & {
  /** Resolves when the process exits, with its exit code and all it wrote. */
  readonly result: Promise<CliResult>;
  /** What it wrote so far: stdout, stderr, or both in the order it arrived (default). */
  output(stream?: "stdout" | "stderr"): string;
  /** Resolves once the output contains `text`; rejects if the process ends first or after timeoutMs (default 20000, scaled). */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
};

/**
 * Starts khctl with process.env plus `env` (LOG_LEVEL defaults to warn). An env value of undefined
 * removes that variable from the child's environment. `detached`: in a process group of its own, which
 * the test can signal as a terminal does (`process.kill(-child.pid, "SIGINT")`). `stdin: "pipe"`: the test
 * writes to its stdin.
 */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { detached?: boolean; stdin?: "ignore" | "pipe" } = {},
): CliProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
    cwd: root,
    env: Object.fromEntries(
      Object.entries({ ...process.env, LOG_LEVEL: "warn", ...env }).filter(
        ([, value]) => value !== undefined,
      ),
    ),
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  const text = { stdout: "", stderr: "", all: "" };
  child.stdout.on("data", (chunk) => {
    text.stdout += chunk;
    text.all += chunk;
  });
  child.stderr.on("data", (chunk) => {
    text.stderr += chunk;
    text.all += chunk;
  });
  // "close" (not "exit"): all output has been read by then, so a line written just before exiting counts.
  const result = once(child, "close").then(([code]) => ({
    code: code as number,
    stdout: text.stdout,
    stderr: text.stderr,
  }));
  const closed = result;
  const waitForOutput = (wanted: string, timeoutMs = 20_000): Promise<void> => {
    let check = () => {};
    const seen = new Promise<void>((resolve, reject) => {
      check = () => {
        if (text.all.includes(wanted)) resolve();
      };
      child.stdout.on("data", check);
      child.stderr.on("data", check);
      check();
      closed.then(() => reject(new Error(`khctl ended without writing "${wanted}":\n${text.all}`)));
    });
    return within(seen, timeoutMs, `khctl writing "${wanted}"`).finally(() => {
      child.stdout.off("data", check);
      child.stderr.off("data", check);
    });
  };
  return Object.assign(child, {
    result,
    output: (stream?: "stdout" | "stderr") => (stream ? text[stream] : text.all),
    waitForOutput,
  });
}

/** Runner options for the executor (services/executor/child.ts) that start the real, built `khctl run`. */
export function builtRunner(env: NodeJS.ProcessEnv) {
  return {
    cliEntry: CLI_ENTRY,
    execArgv: [],
    env: { ...process.env, ...env, LOG_LEVEL: "warn" },
  };
}
