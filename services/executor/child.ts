import { spawn } from "node:child_process";

export interface RunnerProcessOptions {
  /** The khctl entry to run (`main.js`, or `main.ts` under tsx). Default: this process's entry, process.argv[1]. */
  readonly cliEntry?: string;
  /** Node flags for the child (tsx's loader under `npm run khctl`). Default: this process's process.execArgv. */
  readonly execArgv?: readonly string[];
  /** The child's environment. Default process.env (DATABASE_URL and LOG_LEVEL reach the runner). */
  readonly env?: NodeJS.ProcessEnv;
  /** After SIGTERM, ms to wait before SIGKILL. Default 10000. */
  readonly killGraceMs?: number;
}

export interface RunnerExit {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the child wrote (stdout and stderr), for error reports. */
  readonly tail: string[];
}

const TAIL_LINES = 20;

/**
 * Runs `khctl run <executionId>` in a child process, so executions are isolated from each other and
 * from the executor. The child gets its own process group: a terminal's Ctrl-C reaches the executor,
 * which decides when to stop its runs. Aborting the signal sends SIGTERM (the runner records the
 * execution as cancelled), then SIGKILL after killGraceMs.
 */
export function runRunnerProcess(
  executionId: string,
  options: RunnerProcessOptions & { signal?: AbortSignal; onSpawn?: (pid: number | undefined) => void } = {},
): Promise<RunnerExit> {
  const entry = options.cliEntry ?? process.argv[1];
  if (!entry) throw new Error("cannot find the khctl entry (process.argv[1]); pass cliEntry");
  const child = spawn(
    process.execPath,
    [...(options.execArgv ?? process.execArgv), entry, "run", executionId],
    {
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  options.onSpawn?.(child.pid);
  const tail: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    child.kill("SIGTERM");
    killTimer = setTimeout(() => child.kill("SIGKILL"), options.killGraceMs ?? 10_000);
  };
  if (options.signal?.aborted) terminate();
  else options.signal?.addEventListener("abort", terminate, { once: true });
  return new Promise((resolve) => {
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", terminate);
      resolve({ pid: child.pid, exitCode, signal, tail });
    };
    child.once("error", (error) => {
      tail.push(`spawn failed: ${error.message}`);
      if (child.pid === undefined) finish(null, null);
    });
    child.once("close", finish);
  });
}
