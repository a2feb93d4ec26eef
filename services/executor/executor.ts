import { EventEmitter } from "node:events";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { EXECUTOR_SETTINGS } from "../contracts/settings.js";
import type { Stoppable } from "../core/lifecycle.js";
import type { Logger } from "../core/logger.js";
import { type Periodic, startPeriodic } from "../core/periodic.js";
import type { Pool } from "../db/pool.js";
import type { StaleRunPolicy } from "../db/stale-run-policy.js";
import { startIntake } from "../intake/intake.js";
import { startCancelWatch } from "./cancel-watch.js";
import { type RunnerProcessOptions, WarmRunners } from "./child.js";
import {
  createProcessLauncher,
  type ExecutorEvents,
  type ProcessLauncher,
  type RunExecutionProcess,
} from "./process-launcher.js";
import { sweepStaleRuns } from "./stale-runs.js";

export interface ExecutorOptions {
  readonly pool: Pool;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Where malformed messages go at once; unset leaves them to the queue's redrive policy. */
  readonly deadLetterQueueUrl?: string;
  readonly logger: Logger;
  /** Executions run at once (child processes), at most. Default 4. */
  readonly concurrency?: number;
  /** Long-poll wait per receive, seconds. Default: the queue's ReceiveMessageWaitTimeSeconds (20 from `khctl queue ensure`). */
  readonly waitTimeSeconds?: number;
  /** Visibility timeout, renewed while a run goes on, seconds. Default 60. */
  readonly visibilityTimeoutSeconds?: number;
  /** Visibility of a retried message after its first receive, seconds, doubling per receive. Default 5. */
  readonly retryBaseSeconds?: number;
  /** How the child `khctl run` is started (entry, node flags, env). */
  readonly runner?: RunnerProcessOptions;
  /**
   * Runner processes kept started ahead of their executions (each takes one execution, then exits), so
   * process start-up is off a run's critical path; 0: start each when its run begins. Default 2.
   */
  readonly warmRunners?: number;
  /** Replaces the child process (tests). */
  readonly runProcess?: RunExecutionProcess;
  /**
   * The stale-run policy (db/stale-run-policy.ts) and how often to apply it, ms (0: never). Overdue
   * executions that are not this executor's runs are recorded as error, at start and then on the interval.
   */
  readonly staleRuns?: { readonly policy: StaleRunPolicy; readonly intervalMs: number };
  /** How often to look for this executor's runs recorded cancelled elsewhere, ms. Default 1000. */
  readonly cancelCheckIntervalMs?: number;
}

export interface Executor extends Stoppable {
  readonly events: ExecutorEvents;
  readonly done: Promise<void>;
  /**
   * Stops receiving, lets running executions finish for up to timeoutMs (default 30000), then sends them
   * SIGTERM (they are recorded as cancelled). Idempotent; a later call with a shorter timeout shortens it.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** The stale-run sweep on its interval (none without a policy or with interval 0). */
function startSweep(
  options: ExecutorOptions,
  launcher: ProcessLauncher,
  events: ExecutorEvents,
): Periodic | undefined {
  const staleRuns = options.staleRuns;
  if (!staleRuns || staleRuns.intervalMs <= 0) return undefined;
  return startPeriodic(
    async () => {
      const lost = await sweepStaleRuns({
        db: options.pool,
        logger: options.logger,
        policy: staleRuns.policy,
        isOurs: (id) => launcher.active().has(id),
      });
      for (const run of lost) events.emit("lost", run);
    },
    { intervalMs: staleRuns.intervalMs, logger: options.logger, what: "stale-run sweep" },
  );
}

/**
 * The dev profile's runner: the shared intake (intake/) with a launcher that runs each execution with
 * `khctl run` in a child process, at most `concurrency` at once, plus the stale-run sweep and the cancel
 * watch (cancel-watch.ts).
 */
export function startExecutor(options: ExecutorOptions): Executor {
  const events: ExecutorEvents = new EventEmitter();
  const warm = options.runProcess
    ? undefined
    : new WarmRunners(options.runner ?? {}, options.warmRunners ?? EXECUTOR_SETTINGS.warmRunners.default);
  const runProcess: RunExecutionProcess =
    options.runProcess ?? ((executionId, control) => (warm as WarmRunners).run(executionId, control));
  const launcher = createProcessLauncher({ db: options.pool, runProcess, events });
  const sweep = startSweep(options, launcher, events);
  const consumer = startIntake({
    db: options.pool,
    launcher,
    onSkip: (execution) => events.emit("skip", { executionId: execution.id, status: execution.status }),
    sqs: options.sqs,
    queueUrl: options.queueUrl,
    deadLetterQueueUrl: options.deadLetterQueueUrl,
    concurrency: options.concurrency ?? 4,
    waitTimeSeconds: options.waitTimeSeconds,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    retryBaseSeconds: options.retryBaseSeconds,
    logger: options.logger,
  });
  const cancels = startCancelWatch({
    db: options.pool,
    logger: options.logger,
    active: launcher.active,
    stopRun: launcher.stopRun,
    intervalMs: options.cancelCheckIntervalMs,
  });
  const done = consumer.done.finally(() => {
    warm?.stop();
    return Promise.all([sweep?.stop(), cancels.stop()]);
  });
  return {
    events,
    done,
    async stop(stopOptions = {}) {
      await Promise.all([consumer.stop(stopOptions), sweep?.stop()]);
      await done;
    },
  };
}
