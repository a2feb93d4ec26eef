import os from "node:os";
import { pathToFileURL } from "node:url";
import { EXECUTOR_SETTINGS } from "../services/contracts/settings.js";
import { silentLogger } from "../services/core/logger.js";
import { createExecution } from "../services/db/executions.js";
import { startDispatcherLoop } from "../services/dispatcher/dispatcher.js";
import { flushOutbox } from "../services/dispatcher/outbox.js";
import { startExecutor } from "../services/executor/executor.js";
import { sendWorkflowMessages } from "../services/queue/send.js";
import { buildDist } from "../test/helpers/build.js";
import { CLI_ENTRY } from "../test/helpers/cli-process.js";
import { childrenCpuSeconds, type Figure, figure, median, percentile } from "./figures.js";
import { type BenchStack, createTrivialWorkflow, startBenchStack, waitUntil } from "./stack.js";

/**
 * Executor benchmark: the embedded default's executor (`khctl dev`'s: one `khctl run` process per run,
 * the compiled CLI, warm runners at their default) on embedded Postgres and fauxqs.
 * - slot-to-start-p95: a workflow scheduled every 2 s, the dispatcher loop and the executor running; for
 *   each slot, its time to the runner's start (started_at, recorded by the runner), after 2 warm-up
 *   slots. Goal: p95 under 500 ms (the limit is that target).
 * - warm-throughput: 40 trivial runs enqueued at once, executor concurrency 4, with the warm runners and
 *   with none (every run a cold process start), in turns; runs/s. Goal: warm >= 3x cold.
 * Run alone: `npx tsx bench/executor.ts`.
 */

export interface ExecutorBenchOptions {
  /** Slots measured for slot-to-start, after the warm-up ones. Default 20. */
  readonly samples?: number;
  /** Runs per throughput measurement. Default 40. */
  readonly runs?: number;
  /** Throughput measurements per variant, in turns. Default 2. */
  readonly rounds?: number;
}

export interface ExecutorBenchResult {
  readonly name: "executor";
  readonly slotToStartMs: { readonly samples: number; min: number; p50: number; p95: number; max: number };
  readonly throughput: {
    readonly runs: number;
    readonly concurrency: number;
    readonly warmRunners: number;
    /** Runs per second with the warm runners and with none. */
    readonly warm: number;
    readonly cold: number;
    /** CPU of the runner processes per run, ms, with the warm runners and with none (null without /proc). */
    readonly cpuPerRunMs: { readonly warm: number | null; readonly cold: number | null };
    /** Runs/s the machine's cores allow at the warm CPU per run (null without /proc). */
    readonly cpuBound: number | null;
  };
  readonly figures: Figure[];
}

const WARM_UP_SLOTS = 2;
const CONCURRENCY = 4;
const SLOT_TARGET_MS = 500;

function executorFor(
  stack: BenchStack,
  queues: { queueUrl: string; deadLetterQueueUrl: string },
  warmRunners?: number,
) {
  return startExecutor({
    pool: stack.pool,
    sqs: stack.sqs,
    ...queues,
    logger: silentLogger,
    concurrency: CONCURRENCY,
    ...(warmRunners === undefined ? {} : { warmRunners }),
    runner: {
      cliEntry: CLI_ENTRY,
      execArgv: [],
      env: { ...process.env, DATABASE_URL: stack.url, LOG_LEVEL: "warn" },
    },
  });
}

async function slotToStart(stack: BenchStack, samples: number): Promise<number[]> {
  const queues = await stack.queues("latency");
  const workflowId = await createTrivialWorkflow(stack, "latency", "*/2 * * * * *");
  const executor = executorFor(stack, queues);
  const dispatcher = startDispatcherLoop({
    pool: stack.pool,
    logger: silentLogger,
    send: (messages) => sendWorkflowMessages(stack.sqs, queues.queueUrl, messages),
  });
  const lags = async () => {
    const { rows } = await stack.pool.query<{ lag_ms: number }>(
      `SELECT extract(epoch FROM started_at - scheduled_for) * 1000 AS lag_ms FROM workflow_executions
       WHERE workflow_id = $1 AND started_at IS NOT NULL ORDER BY scheduled_for`,
      [workflowId],
    );
    return rows.map((row) => Number(row.lag_ms));
  };
  try {
    const wanted = WARM_UP_SLOTS + samples;
    await waitUntil("the slots' runs", async () => (await lags()).length >= wanted, {
      everyMs: 200,
      timeoutMs: wanted * 2000 + 60_000,
    });
    return (await lags()).slice(WARM_UP_SLOTS, wanted);
  } finally {
    await dispatcher.stop();
    await executor.stop({ timeoutMs: 10_000 });
  }
}

interface Throughput {
  /** Runs per second, from the enqueue to the last run's end. */
  readonly perSecond: number;
  /** CPU of the runner processes per run, ms (null without /proc). */
  readonly cpuPerRunMs: number | null;
}

/** `runs` trivial runs enqueued at once. */
async function throughput(stack: BenchStack, runs: number, warmRunners: number): Promise<Throughput> {
  const queues = await stack.queues(`throughput-${warmRunners}`);
  const workflowId = await createTrivialWorkflow(stack, `throughput ${warmRunners}`);
  const cpuBefore = childrenCpuSeconds();
  const executor = executorFor(stack, queues, warmRunners);
  let perSecond: number;
  try {
    const ids: string[] = [];
    for (let i = 0; i < runs; i++)
      ids.push(await createExecution(stack.pool, { workflowId, triggerType: "manual" }));
    // Both variants get the same settling time: the warm runners are started and waiting, as between runs.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const started = Date.now();
    const flushed = await flushOutbox(
      stack.pool,
      (m) => sendWorkflowMessages(stack.sqs, queues.queueUrl, m),
      { ids },
    );
    if (flushed.failed.length) throw new Error(`could not enqueue ${flushed.failed.length} runs`);
    const finished = async () => {
      const { rows } = await stack.pool.query<{ done: number; ok: number; last: Date | null }>(
        `SELECT count(*) FILTER (WHERE status IN ('success', 'error', 'cancelled'))::int AS done,
                count(*) FILTER (WHERE status = 'success')::int AS ok, max(completed_at) AS last
         FROM workflow_executions WHERE id = ANY($1)`,
        [ids],
      );
      return rows[0] as { done: number; ok: number; last: Date | null };
    };
    await waitUntil("the runs", async () => (await finished()).done === runs, { everyMs: 20 });
    const { ok, last } = await finished();
    if (ok !== runs) throw new Error(`${runs - ok} of ${runs} runs did not succeed`);
    perSecond = runs / (((last as Date).getTime() - started) / 1000);
  } finally {
    await executor.stop({ timeoutMs: 10_000 });
  }
  // Every runner process of this executor has exited now (idle warm ones at its stop), so all are counted.
  const cpuAfter = childrenCpuSeconds();
  const cpuPerRunMs = cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / runs;
  return { perSecond, cpuPerRunMs };
}

export async function runExecutorBench(options: ExecutorBenchOptions = {}): Promise<ExecutorBenchResult> {
  const samples = options.samples ?? 20;
  const runs = options.runs ?? 40;
  const rounds = options.rounds ?? 2;
  const warmRunners = EXECUTOR_SETTINGS.warmRunners.default;
  await buildDist();
  const stack = await startBenchStack("executor");
  try {
    const lags = await slotToStart(stack, samples);
    const warm: Throughput[] = [];
    const cold: Throughput[] = [];
    // In turns, so a change in the machine's load touches both alike.
    for (let round = 0; round < rounds; round++) {
      cold.push(await throughput(stack, runs, 0));
      warm.push(await throughput(stack, runs, warmRunners));
    }
    const slot = {
      samples: lags.length,
      min: Math.round(Math.min(...lags)),
      p50: Math.round(median(lags)),
      p95: Math.round(percentile(lags, 95)),
      max: Math.round(Math.max(...lags)),
    };
    const rates = { warm: median(warm.map((t) => t.perSecond)), cold: median(cold.map((t) => t.perSecond)) };
    const cpu = (ts: Throughput[]) => {
      const values = ts.map((t) => t.cpuPerRunMs).filter((v): v is number => v !== null);
      return values.length ? median(values) : null;
    };
    const cpuPerRunMs = { warm: cpu(warm), cold: cpu(cold) };
    const cores = os.availableParallelism();
    // If runs were bound only by the CPU their processes need: cores / CPU per run.
    const cpuBound = cpuPerRunMs.warm === null ? null : cores / (cpuPerRunMs.warm / 1000);
    return {
      name: "executor",
      slotToStartMs: slot,
      throughput: { runs, concurrency: CONCURRENCY, warmRunners, ...rates, cpuPerRunMs, cpuBound },
      figures: [
        figure(
          "slot-to-start-p95",
          slot.p95,
          "ms",
          SLOT_TARGET_MS,
          { atMost: 1 },
          `limit: the ${SLOT_TARGET_MS} ms target; ${slot.samples} slots of an every-2-s schedule after ${WARM_UP_SLOTS} warm-up ones (min ${slot.min}, p50 ${slot.p50}, max ${slot.max} ms)`,
        ),
        figure(
          "warm-throughput",
          rates.warm,
          "runs/s",
          rates.cold,
          { atLeast: 3 },
          `baseline: the same ${runs} runs at concurrency ${CONCURRENCY} with no warm runners (a cold process per run); ${warmRunners} warm runners${cpuBound === null ? "" : `; each run's process takes ${cpuPerRunMs.warm?.toFixed(0)} ms of CPU warm, ${cpuPerRunMs.cold?.toFixed(0)} ms cold, so ${cores} cores allow at most ${cpuBound.toFixed(1)} runs/s`}`,
        ),
      ],
    };
  } finally {
    await stack.stop();
  }
}

export function formatExecutorBench(result: ExecutorBenchResult): string {
  const s = result.slotToStartMs;
  const t = result.throughput;
  return [
    `executor: the compiled khctl run per execution, concurrency ${t.concurrency}`,
    `  slot -> runner start (${s.samples} slots, every 2 s): min ${s.min} ms, p50 ${s.p50} ms, p95 ${s.p95} ms, max ${s.max} ms (goal p95 < ${SLOT_TARGET_MS} ms)`,
    `  ${t.runs} trivial runs at once: ${t.warm.toFixed(2)} runs/s with ${t.warmRunners} warm runners, ${t.cold.toFixed(2)} runs/s cold: ${(t.warm / t.cold).toFixed(2)}x (goal >= 3x)`,
    ...(t.cpuBound === null
      ? []
      : [
          `  CPU per run's process: ${t.cpuPerRunMs.warm?.toFixed(0)} ms warm, ${t.cpuPerRunMs.cold?.toFixed(0)} ms cold; the cores allow at most ${t.cpuBound.toFixed(1)} runs/s`,
        ]),
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatExecutorBench(await runExecutorBench()));
}
