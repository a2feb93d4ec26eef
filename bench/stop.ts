import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ENV } from "../services/contracts/names.js";
import { newId } from "../services/core/ids.js";
import { ensureQueues } from "../services/queue/ensure.js";
import { buildDist } from "../test/helpers/build.js";
import { type CliProcess, spawnCli } from "../test/helpers/cli-process.js";
import { type Figure, figure, median } from "./figures.js";
import { type BenchStack, startBenchStack } from "./stack.js";

/**
 * Prompt stop: the time from SIGTERM to exit of an idle `khctl executor`, `khctl spawner`, `khctl dev` and
 * `khctl dispatch --loop` (the compiled CLI), each started and signalled `samples` times at a different
 * moment of its long poll (the queues long-poll 20 s, as `khctl queue ensure` makes them) or of its wait
 * between passes (an hour). Goal: under 1 s each (the limit is
 * that target); before the consumers aborted their poll it was up to 20 s. Run alone: `npx tsx bench/stop.ts`.
 */

export interface StopBenchResult {
  readonly name: "stop";
  /** SIGTERM to exit of each command, ms, every sample. */
  readonly samplesMs: Readonly<Record<StoppedCommand, readonly number[]>>;
  readonly figures: Figure[];
}

type StoppedCommand = "executor" | "spawner" | "dev" | "dispatch";

const TARGET_MS = 1000;
/** The long poll of the queues, as `khctl queue ensure` sets it. */
const RECEIVE_WAIT_SECONDS = 20;

/** Starts one command, waits for `ready` and then `delayMs` more (its poll in flight), SIGTERMs it: ms to exit. */
async function timeStop(child: CliProcess, ready: string, delayMs: number): Promise<number> {
  try {
    await child.waitForOutput(ready, 120_000);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const signalledAt = performance.now();
    child.kill("SIGTERM");
    const { code, stderr } = await child.result;
    const ms = performance.now() - signalledAt;
    if (code !== 0) throw new Error(`exit ${code} after SIGTERM:\n${stderr}`);
    return ms;
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

async function queueEnv(stack: BenchStack, endpoint: string): Promise<Record<string, string>> {
  const suffix = newId().slice(0, 8);
  const { queueUrl } = await ensureQueues(stack.sqs, {
    queueName: `bench-stop-${suffix}`,
    deadLetterQueueName: `bench-stop-dlq-${suffix}`,
    receiveWaitSeconds: RECEIVE_WAIT_SECONDS,
  });
  return {
    DATABASE_URL: stack.url,
    [ENV.awsEndpointUrl]: endpoint,
    [ENV.awsRegion]: "us-east-1",
    [ENV.awsAccessKeyId]: "test",
    [ENV.awsSecretAccessKey]: "test",
    [ENV.sqsQueueUrl]: queueUrl,
    LOG_LEVEL: "info",
  };
}

/** The moments of the poll each sample is signalled at: spread over its first seconds. */
const delays = (samples: number) => Array.from({ length: samples }, (_, n) => 500 + ((n * 1700) % 6000));

/** Where each command of a sample runs: the stack's queues and API server, and dev's own data dir. */
interface SampleContext {
  readonly stack: BenchStack;
  readonly endpoint: string;
  readonly kubeconfig: string;
  readonly devDataDir: string;
}

const DEV_ARGS = ["dev", "--port", "0", "--sqs-port", "0", "--console-port", "0", "--demo-api-port", "0"];

/** One SIGTERM to each command, `delayMs` after it is ready: ms to exit, per command. */
async function sampleOnce(context: SampleContext, delayMs: number): Promise<Record<StoppedCommand, number>> {
  const env = await queueEnv(context.stack, context.endpoint);
  const executor = spawnCli(["executor", "--warm-runners", "0"], env);
  const executorMs = await timeStop(executor, "executor started", delayMs);
  const spawner = spawnCli(["spawner", "--kubeconfig", context.kubeconfig, "--port", "0"], {
    ...env,
    KUBERNETES_SERVICE_HOST: undefined,
    RUNNER_IMAGE: "keeperhub-runner:0123abcd",
  });
  const spawnerMs = await timeStop(spawner, "spawner started", delayMs);
  // dev's own embedded Postgres and SQS, in a data dir of its own: none of the stack's settings.
  const dev = spawnCli(DEV_ARGS, {
    KH_DATA_DIR: context.devDataDir,
    DATABASE_URL: undefined,
    SQS_QUEUE_URL: undefined,
    AWS_ENDPOINT_URL: undefined,
  });
  const devMs = await timeStop(dev, "Waiting for", delayMs);
  const dispatcher = spawnCli(["dispatch", "--loop", "--interval", "3600"], env);
  const dispatchMs = await timeStop(dispatcher, "dispatcher started", delayMs);
  return { executor: executorMs, spawner: spawnerMs, dev: devMs, dispatch: dispatchMs };
}

export async function runStopBench({ samples = 3 }: { samples?: number } = {}): Promise<StopBenchResult> {
  await buildDist();
  const stack = await startBenchStack("stop", { peers: { apiLatencyMs: 0 } });
  const dir = await mkdtemp("/tmp/kh-bench-stop-");
  // Open to the `postgres` user that dev's embedded server runs as when this runs as root.
  await chmod(dir, 0o755);
  try {
    const kubeconfig = path.join(dir, "kubeconfig");
    await writeFile(kubeconfig, stack.api?.kubeConfig().exportConfig() ?? "");
    const context = {
      stack,
      endpoint: await sqsEndpoint(stack),
      kubeconfig,
      devDataDir: path.join(dir, "dev"),
    };
    const samplesMs: Record<StoppedCommand, number[]> = { executor: [], spawner: [], dev: [], dispatch: [] };
    for (const delayMs of delays(samples)) {
      const sample = await sampleOnce(context, delayMs);
      for (const command of Object.keys(samplesMs) as StoppedCommand[])
        samplesMs[command].push(sample[command]);
    }
    const figures = (Object.keys(samplesMs) as StoppedCommand[]).map((command) =>
      figure(
        `stop-idle-${command}`,
        Math.round(Math.max(...samplesMs[command])),
        "ms",
        TARGET_MS,
        { atMost: 1 },
        `slowest of ${samples} SIGTERMs to an idle khctl ${command} (median ${Math.round(median(samplesMs[command]))} ms); target 1 s`,
      ),
    );
    return { name: "stop", samplesMs, figures };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await stack.stop();
  }
}

/** The emulator's endpoint, as the stack's own client reaches it. */
async function sqsEndpoint(stack: BenchStack): Promise<string> {
  const endpoint = await stack.sqs.config.endpoint?.();
  if (!endpoint) throw new Error("bench: the stack's SQS client has no endpoint");
  return `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;
}

export function formatStopBench(result: StopBenchResult): string {
  const rows = Object.entries(result.samplesMs).map(
    ([command, ms]) => `  khctl ${command.padEnd(9)} ${ms.map((v) => `${Math.round(v)} ms`).join(", ")}`,
  );
  return ["stop: SIGTERM to exit, idle (queue long poll 20 s)", ...rows].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatStopBench(await runStopBench()));
}
