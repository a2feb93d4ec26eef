import { EventEmitter } from "node:events";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "../core/logger.js";
import type { Pool } from "../db/pool.js";
import { startConsumer } from "../queue/consumer.js";
import { resolveRunnerTimeouts } from "../runner/timeouts.js";
import { type RunnerProcessOptions, runRunnerProcess } from "./child.js";
import { createExecutionHandler, type ExecutorEvents, type RunExecutionProcess } from "./handler.js";
import { startLostRunSweep } from "./lost-runs.js";

export interface ExecutorOptions {
  readonly pool: Pool;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Where malformed messages go at once; unset leaves them to the queue's redrive policy. */
  readonly deadLetterQueueUrl?: string;
  readonly logger: Logger;
  /** Executions run at once (child processes), at most. Default 4. */
  readonly concurrency?: number;
  /** Long-poll wait per receive, seconds. Default 20. */
  readonly waitTimeSeconds?: number;
  /** Visibility timeout, renewed while a run goes on, seconds. Default 60. */
  readonly visibilityTimeoutSeconds?: number;
  /** How the child `khctl run` is started (entry, node flags, env). */
  readonly runner?: RunnerProcessOptions;
  /** Replaces the child process (tests). */
  readonly runProcess?: RunExecutionProcess;
  /**
   * The lost-run sweep: `running` executions older than the run timeout plus a grace, that this executor
   * is not running, become `error` ("runner lost: …"); it runs at start and then every intervalMs.
   */
  readonly lostRuns?: {
    /** The runs' timeout, ms (0 = none: no sweep). Default: as `khctl run` resolves it from the runner's env. */
    readonly runTimeoutMs?: number;
    /** Seconds past the run timeout before a run counts as lost. Default 60. */
    readonly graceSeconds?: number;
    /** Between sweeps, ms; 0 = no sweep. Default 30000. */
    readonly intervalMs?: number;
  };
}

export interface Executor {
  readonly events: ExecutorEvents;
  readonly done: Promise<void>;
  /**
   * Stops receiving, lets running executions finish for up to timeoutMs, then sends them SIGTERM (they are
   * recorded as cancelled). Idempotent.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * The dev profile's runner: consumes the workflow queue and runs each execution with `khctl run` in a
 * child process, at most `concurrency` at once.
 */
export function startExecutor(options: ExecutorOptions): Executor {
  const events: ExecutorEvents = new EventEmitter();
  let running = 0;
  /** The executions this executor's children run now; the lost-run sweep leaves them alone. */
  const active = new Set<string>();
  const runProcess: RunExecutionProcess =
    options.runProcess ??
    ((executionId, { signal, onSpawn }) =>
      runRunnerProcess(executionId, { ...options.runner, signal, onSpawn }));
  const counted: RunExecutionProcess = async (executionId, context) => {
    running++;
    active.add(executionId);
    try {
      return await runProcess(executionId, context);
    } finally {
      running--;
      active.delete(executionId);
    }
  };
  const runTimeoutMs =
    options.lostRuns?.runTimeoutMs ?? resolveRunnerTimeouts(options.runner?.env ?? process.env).runTimeoutMs;
  const sweep = startLostRunSweep({
    db: options.pool,
    logger: options.logger,
    options: { runTimeoutMs, graceSeconds: options.lostRuns?.graceSeconds },
    intervalMs: options.lostRuns?.intervalMs,
    active: () => active,
    onLost: (lost) => events.emit("lost", lost),
  });
  const consumer = startConsumer({
    sqs: options.sqs,
    queueUrl: options.queueUrl,
    deadLetterQueueUrl: options.deadLetterQueueUrl,
    concurrency: options.concurrency ?? 4,
    waitTimeSeconds: options.waitTimeSeconds,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    logger: options.logger,
    handle: createExecutionHandler({
      pool: options.pool,
      runProcess: counted,
      events,
      running: () => running,
    }),
  });
  return {
    events,
    done: consumer.done.finally(() => sweep.stop()),
    async stop(stopOptions) {
      await consumer.stop(stopOptions);
      await sweep.stop();
    },
  };
}
