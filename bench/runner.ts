import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { createExecution } from "../services/db/executions.js";
import { buildDist } from "../test/helpers/build.js";
import { CLI_ENTRY } from "../test/helpers/cli-process.js";
import { type Figure, figure, median } from "./figures.js";
import { type BenchStack, createTrivialWorkflow, startBenchStack } from "./stack.js";

/**
 * Runner cold start (what every Kubernetes Job pays): from spawning the compiled `khctl run <id>` to its
 * first step's start (recorded by the runner), against spawning `node -e 0` to its exit, with the same
 * Node, in turns, median of each. Node: BENCH_NODE (the shipped Node 24 when you have it; .ci/run keeps
 * one under ~/.cache/keeperhub-node), else this process's. Goal: at most 3x. Run alone:
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
  /** Median ms from spawn to the first step's start. */
  readonly toFirstStepMs: number;
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

/** One cold `khctl run`: ms from its spawn to its first step's started_at. */
async function coldRun(stack: BenchStack, node: string, workflowId: string): Promise<number> {
  const executionId = await createExecution(stack.pool, { workflowId, triggerType: "manual" });
  const env = { ...process.env, DATABASE_URL: stack.url, LOG_LEVEL: "warn" };
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

export async function runRunnerBench(options: RunnerBenchOptions = {}): Promise<RunnerBenchResult> {
  const samples = options.samples ?? 15;
  const node = options.node ?? (process.env.BENCH_NODE || process.execPath);
  await buildDist();
  const stack = await startBenchStack("runner");
  try {
    const workflowId = await createTrivialWorkflow(stack, "cold start");
    // One of each untimed: the OS file cache, and Node's compile cache where the Node has one.
    await coldRun(stack, node, workflowId);
    await bareNode(node);
    const runs: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < samples; i++) {
      runs.push(await coldRun(stack, node, workflowId));
      bare.push(await bareNode(node));
    }
    const toFirstStepMs = median(runs);
    const bareNodeMs = median(bare);
    const version = execFileSync(node, ["--version"]).toString().trim();
    return {
      name: "runner",
      node: version,
      samples,
      toFirstStepMs,
      bareNodeMs,
      figures: [
        figure(
          "runner-cold-start",
          toFirstStepMs,
          "ms",
          bareNodeMs,
          { atMost: 3 },
          `spawn of the compiled khctl run to its first step's start, against spawn to exit of node -e 0 (Node ${version}, median of ${samples})`,
        ),
      ],
    };
  } finally {
    await stack.stop();
  }
}

export function formatRunnerBench(result: RunnerBenchResult): string {
  return [
    `runner cold start (Node ${result.node}, median of ${result.samples}):`,
    `  khctl run, spawn -> first step started: ${result.toFirstStepMs} ms`,
    `  node -e 0, spawn -> exit:               ${result.bareNodeMs} ms`,
    `  ratio ${(result.toFirstStepMs / result.bareNodeMs).toFixed(2)} (goal <= 3)`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatRunnerBench(await runRunnerBench()));
}
