import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

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

/** How a run's process is watched: cancelled through `signal`, told about once it is running. */
export interface RunControl {
  readonly signal?: AbortSignal;
  readonly onSpawn?: (pid: number | undefined) => void;
}

type RunnerChild = ChildProcessByStdio<Writable | null, Readable, Readable>;

const TAIL_LINES = 20;

/**
 * Runs `khctl run <executionId>` in a new child process, so executions are isolated from each other and
 * from the executor. The child gets its own process group: a terminal's Ctrl-C reaches the executor,
 * which decides when to stop its runs. Aborting the signal sends SIGTERM (the runner records the
 * execution as cancelled), then SIGKILL after killGraceMs.
 */
export function runRunnerProcess(
  executionId: string,
  options: RunnerProcessOptions & RunControl = {},
): Promise<RunnerExit> {
  const runner = startRunner(options, ["run", executionId], "ignore");
  options.onSpawn?.(runner.child.pid);
  return runner.run(options);
}

/** A started runner process: its output is collected from the start; run() watches it to its end. */
interface StartedRunner {
  readonly child: RunnerChild;
  /** Resolves when the process has ended, however it ended. */
  readonly exited: Promise<RunnerExit>;
  run(control: RunControl): Promise<RunnerExit>;
}

function startRunner(
  options: RunnerProcessOptions,
  args: readonly string[],
  stdin: "ignore" | "pipe",
): StartedRunner {
  const entry = options.cliEntry ?? process.argv[1];
  if (!entry) throw new Error("cannot find the khctl entry (process.argv[1]); pass cliEntry");
  const child = spawn(process.execPath, [...(options.execArgv ?? process.execArgv), entry, ...args], {
    env: options.env ?? process.env,
    stdio: [stdin, "pipe", "pipe"],
    detached: true,
  }) as RunnerChild;
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
  child.stdin?.on("error", () => {}); // A runner that died never reads its stdin: EPIPE is no news.
  const exited = new Promise<RunnerExit>((resolve) => {
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) =>
      resolve({ pid: child.pid, exitCode, signal, tail });
    child.once("error", (error) => {
      tail.push(`spawn failed: ${error.message}`);
      if (child.pid === undefined) finish(null, null);
    });
    child.once("close", finish);
  });
  return {
    child,
    exited,
    run(control) {
      let killTimer: NodeJS.Timeout | undefined;
      const terminate = () => {
        child.kill("SIGTERM");
        killTimer = setTimeout(() => child.kill("SIGKILL"), options.killGraceMs ?? 10_000);
      };
      if (control.signal?.aborted) terminate();
      else control.signal?.addEventListener("abort", terminate, { once: true });
      return exited.finally(() => {
        clearTimeout(killTimer);
        control.signal?.removeEventListener("abort", terminate);
      });
    },
  };
}

/**
 * Runner processes started ahead of their executions (`khctl run --id-from-stdin`), so starting node and
 * loading the runner is off a run's critical path. Each takes exactly one execution, named on its stdin,
 * and exits after it: a process is never reused, so runs stay isolated. When none is ready, a run gets a
 * new process as before. A runner that ends before it got an execution is simply dropped.
 */
export class WarmRunners {
  private readonly ready = new Set<StartedRunner>();
  private stopped = false;

  constructor(
    private readonly options: RunnerProcessOptions,
    private readonly size: number,
  ) {
    this.fill();
  }

  /** Runs the execution in a ready runner if there is one, else in a new process; then starts a replacement. */
  run(executionId: string, control: RunControl): Promise<RunnerExit> {
    const runner = this.take();
    this.fill();
    if (!runner) return runRunnerProcess(executionId, { ...this.options, ...control });
    runner.child.stdin?.end(`${executionId}\n`);
    control.onSpawn?.(runner.child.pid);
    return runner.run(control);
  }

  /** The idle runners end (their stdin closes without an execution); no new ones start. */
  stop(): void {
    this.stopped = true;
    for (const runner of this.ready) runner.child.stdin?.end();
    this.ready.clear();
  }

  private take(): StartedRunner | undefined {
    for (const runner of this.ready) {
      this.ready.delete(runner);
      if (runner.child.exitCode === null && runner.child.signalCode === null) return runner;
    }
    return undefined;
  }

  private fill(): void {
    while (!this.stopped && this.ready.size < this.size) {
      const runner = startRunner(this.options, ["run", "--id-from-stdin"], "pipe");
      this.ready.add(runner);
      void runner.exited.then(() => this.ready.delete(runner));
    }
  }
}
