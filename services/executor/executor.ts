import { EventEmitter } from "node:events";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "../core/logger.js";
import type { Pool } from "../db/pool.js";
import { startConsumer } from "../queue/consumer.js";
import { type RunnerProcessOptions, runRunnerProcess } from "./child.js";
import { createExecutionHandler, type ExecutorEvents, type RunExecutionProcess } from "./handler.js";

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
  const runProcess: RunExecutionProcess =
    options.runProcess ??
    ((executionId, { signal, onSpawn }) =>
      runRunnerProcess(executionId, { ...options.runner, signal, onSpawn }));
  const counted: RunExecutionProcess = async (executionId, context) => {
    running++;
    try {
      return await runProcess(executionId, context);
    } finally {
      running--;
    }
  };
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
  return { events, done: consumer.done, stop: (stopOptions) => consumer.stop(stopOptions) };
}
