import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createExecution } from "../services/db/executions.js";
import { buildDist } from "../test/helpers/build.js";
import { CLI_ENTRY } from "../test/helpers/cli-process.js";
import { type Figure, figure, median } from "./figures.js";
import { type BenchStack, createTrivialWorkflow, startBenchStack } from "./stack.js";

/**
 * Runner cold start (what every Kubernetes Job pays): from spawning the compiled `khctl run <id>` to its
 * first step's start (recorded by the runner), against spawning `node -e 0` to its exit, with the same
 * Node, in turns, median of each; and `khctl run --help` (commander's path) to its exit. Each twice: with
 * V8's compile cache (a directory of the bench's own, warmed by one untimed run, as khctl's own cache in
 * ~/.cache/keeperhub or the images' build-time cache is) and without it (NODE_DISABLE_COMPILE_CACHE=1, what
 * every start paid before the cache). Node: BENCH_NODE (the shipped Node 24 when you have it; .ci/run keeps
 * one under ~/.cache/keeperhub-node), else this process's. Goal: at most 2x with the cache. Run alone:
 * `npx tsx bench/runner.ts`.
 */

export interface RunnerBenchOptions {
  /** Measurements of each. Default 15. */
  readonly samples?: number;
  /** The Node binary. Default BENCH_NODE, else process.execPath. */
  readonly node?: string;
}

export interface RunnerBenchResult {
  readonly name: "runner";
  readonly node: string;
  readonly samples: number;
  /** Median ms from spawn to the first step's start, with the compile cache. */
  readonly toFirstStepMs: number;
  /** The same without it. */
  readonly toFirstStepNoCacheMs: number;
  /** Median ms from spawn to the exit of `khctl run --help`, with and without the compile cache. */
  readonly runHelpMs: number;
  readonly runHelpNoCacheMs: number;
  /** Median ms from spawn to the exit of `node -e 0`. */
  readonly bareNodeMs: number;
  readonly figures: Figure[];
}

async function timedExit(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = Date.now();
  const child = spawn(node, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const [code] = await once(child, "exit");
  if (code !== 0) throw new Error(`${node} ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
  return started;
}

/** The two ways a runner starts: with a warm compile cache in `dir`, and with none. */
const cacheEnv = (dir: string | undefined): NodeJS.ProcessEnv => {
  const { NODE_COMPILE_CACHE: _, NODE_DISABLE_COMPILE_CACHE: __, ...env } = process.env;
  return dir ? { ...env, NODE_COMPILE_CACHE: dir } : { ...env, NODE_DISABLE_COMPILE_CACHE: "1" };
};

/** One cold `khctl run`: ms from its spawn to its first step's started_at. */
async function coldRun(
  stack: BenchStack,
  node: string,
  workflowId: string,
  cache: NodeJS.ProcessEnv,
): Promise<number> {
  const executionId = await createExecution(stack.pool, { workflowId, triggerType: "manual" });
  const env = { ...cache, DATABASE_URL: stack.url, LOG_LEVEL: "warn" };
  const spawned = await timedExit(node, [CLI_ENTRY, "run", executionId], env);
  const { rows } = await stack.pool.query<{ first: Date | null }>(
    "SELECT min(started_at) AS first FROM workflow_execution_logs WHERE execution_id = $1",
    [executionId],
  );
  const first = rows[0]?.first;
  if (!first) throw new Error(`execution ${executionId} recorded no step`);
  return first.getTime() - spawned;
}

async function bareNode(node: string): Promise<number> {
  const started = await timedExit(node, ["-e", "0"], process.env);
  return Date.now() - started;
}

async function runHelp(node: string, cache: NodeJS.ProcessEnv): Promise<number> {
  const started = await timedExit(node, [CLI_ENTRY, "run", "--help"], cache);
  return Date.now() - started;
}

export async function runRunnerBench(options: RunnerBenchOptions = {}): Promise<RunnerBenchResult> {
  const samples = options.samples ?? 15;
  const node = options.node ?? (process.env.BENCH_NODE || process.execPath);
  await buildDist();
  const stack = await startBenchStack("runner");
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), "kh-bench-compile-cache-"));
  const [cached, uncached] = [cacheEnv(cacheDir), cacheEnv(undefined)];
  try {
    const workflowId = await createTrivialWorkflow(stack, "cold start");
    // One of each untimed: the OS file cache, and the compile cache's first fill.
    await coldRun(stack, node, workflowId, cached);
    await runHelp(node, cached);
    await bareNode(node);
    const times = { run: [] as number[], runNoCache: [] as number[], help: [] as number[] };
    const more = { helpNoCache: [] as number[], bare: [] as number[] };
    for (let i = 0; i < samples; i++) {
      times.run.push(await coldRun(stack, node, workflowId, cached));
      times.runNoCache.push(await coldRun(stack, node, workflowId, uncached));
      times.help.push(await runHelp(node, cached));
      more.helpNoCache.push(await runHelp(node, uncached));
      more.bare.push(await bareNode(node));
    }
    const version = execFileSync(node, ["--version"]).toString().trim();
    return runnerResult(version, samples, {
      toFirstStepMs: median(times.run),
      toFirstStepNoCacheMs: median(times.runNoCache),
      runHelpMs: median(times.help),
      runHelpNoCacheMs: median(more.helpNoCache),
      bareNodeMs: median(more.bare),
    });
  } finally {
    await stack.stop();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

type RunnerTimes = Omit<RunnerBenchResult, "name" | "node" | "samples" | "figures">;

function runnerResult(version: string, samples: number, times: RunnerTimes): RunnerBenchResult {
  const of = `Node ${version}, median of ${samples}`;
  return {
    name: "runner",
    node: version,
    samples,
    ...times,
    figures: [
      figure(
        "runner-cold-start",
        times.toFirstStepMs,
        "ms",
        times.bareNodeMs,
        { atMost: 2 },
        `spawn of the compiled khctl run to its first step's start, with the compile cache, against spawn to exit of node -e 0 (${of})`,
      ),
      figure(
        "runner-cold-start-no-cache",
        times.toFirstStepNoCacheMs,
        "ms",
        times.bareNodeMs,
        { atMost: 3 },
        `the same with NODE_DISABLE_COMPILE_CACHE=1, what every start paid before (${of})`,
      ),
      figure(
        "run-help",
        times.runHelpMs,
        "ms",
        times.bareNodeMs,
        { atMost: 5 },
        `khctl run --help (commander's path) with the compile cache; ${times.runHelpNoCacheMs} ms without (${of})`,
      ),
    ],
  };
}

export function formatRunnerBench(result: RunnerBenchResult): string {
  const ratio = (ms: number) => (ms / result.bareNodeMs).toFixed(2);
  return [
    `runner cold start (Node ${result.node}, median of ${result.samples}), compile cache on / off:`,
    `  khctl run, spawn -> first step started: ${result.toFirstStepMs} / ${result.toFirstStepNoCacheMs} ms`,
    `  khctl run --help, spawn -> exit:        ${result.runHelpMs} / ${result.runHelpNoCacheMs} ms`,
    `  node -e 0, spawn -> exit:               ${result.bareNodeMs} ms`,
    `  ratio ${ratio(result.toFirstStepMs)} / ${ratio(result.toFirstStepNoCacheMs)} (goal <= 2 with the cache)`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatRunnerBench(await runRunnerBench()));
}
