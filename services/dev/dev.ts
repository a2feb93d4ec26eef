import { DISPATCHER_SETTINGS, EXECUTOR_SETTINGS } from "../contracts/settings.js";
import { clockTime, humanLine } from "../core/human-log.js";
import type { Logger } from "../core/logger.js";
import { waitForExecution } from "../db/executions.js";
import { type DispatchReport, startDispatcherLoop } from "../dispatcher/dispatcher.js";
import { triggerWorkflow } from "../dispatcher/trigger.js";
import type { RunnerProcessOptions } from "../executor/child.js";
import { type Executor, startExecutor } from "../executor/executor.js";
import type { ExecutionEndEvent, ExecutionStartEvent, LostRun } from "../executor/process-launcher.js";
import { sendWorkflowMessages } from "../queue/send.js";
import { shownText } from "../workflow/shown.js";
import type { DevEnvironment } from "./environment.js";

export interface DevRunOptions {
  readonly logger: Logger;
  /** Where the human-readable lines go. Default console.log. */
  readonly out?: (line: string) => void;
  /** Seconds between dispatcher passes. Default 5. */
  readonly intervalSeconds?: number;
  /** Executions run at once. Default 4. */
  readonly concurrency?: number;
  /** How the child `khctl run` is started; its env gets the dev DATABASE_URL. */
  readonly runner?: RunnerProcessOptions;
}

/** Runs in flight get this long after the first Ctrl-C, ms. */
export const DEV_SHUTDOWN_TIMEOUT_MS = 10_000;

const seconds = (ms: number) => (ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`);

/** Prints what happens as a person wants to read it: one line per dispatch, run start and run end. */
function reporter(environment: DevEnvironment, out: (line: string) => void) {
  const names = new Map<string, string>();
  const nameOf = async (workflowId: string): Promise<string> => {
    if (!names.has(workflowId)) {
      const { rows } = await environment.pool.query<{ name: string }>(
        "SELECT name FROM workflows WHERE id = $1",
        [workflowId],
      );
      names.set(workflowId, rows[0]?.name ?? workflowId);
    }
    return names.get(workflowId) as string;
  };
  const line = (what: string, text: string) => out(humanLine(what, text));
  return {
    async dispatched(d: { executionId: string; workflowId: string; scheduledFor: Date }) {
      line(
        "dispatch",
        `"${await nameOf(d.workflowId)}" slot ${clockTime(d.scheduledFor)} -> execution ${d.executionId}`,
      );
    },
    async skipped(s: DispatchReport["skipped"][number]) {
      const count =
        s.count === null ? "100+ missed slots" : `${s.count} missed slot${s.count === 1 ? "" : "s"}`;
      const why =
        s.reason === "superseded"
          ? `superseded by the ${clockTime(s.before ?? undefined)} slot, which runs now`
          : `older than the catch-up window${s.before ? `; next slot ${s.before.toISOString()}` : ""}`;
      line("skip", `${count} of "${await nameOf(s.workflowId)}" (from ${clockTime(s.first)}): ${why}`);
    },
    async started(e: ExecutionStartEvent) {
      const lag = e.scheduledFor ? `, ${seconds(Date.now() - e.scheduledFor.getTime())} after its slot` : "";
      line("start", `${e.executionId} "${await nameOf(e.workflowId)}" (${e.triggerType}${lag})`);
    },
    lost(l: LostRun) {
      line("error", `${l.executionId} ${shownText(l.error)}   details: khctl execution ${l.executionId}`);
    },
    async ended(e: ExecutionEndEvent) {
      const error = e.error ? `: ${shownText(e.error)}` : "";
      // The run's own time, and the runner process's (start-up included): labelled, so they are not confused.
      const run = e.runMs === null ? "" : `run ${seconds(e.runMs)}, `;
      line(
        e.status,
        `${e.executionId} "${await nameOf(e.workflowId)}" ${run}process ${seconds(e.processMs)}${error}   details: khctl execution ${e.executionId}`,
      );
    },
  };
}

function startExecutorFor(environment: DevEnvironment, options: DevRunOptions): Executor {
  return startExecutor({
    pool: environment.pool,
    sqs: environment.sqs,
    queueUrl: environment.queueUrl,
    deadLetterQueueUrl: environment.deadLetterQueueUrl,
    logger: options.logger,
    concurrency: options.concurrency ?? EXECUTOR_SETTINGS.concurrency.default,
    runner: {
      ...options.runner,
      env: { ...process.env, LOG_LEVEL: "warn", ...options.runner?.env, ...environment.env },
    },
  });
}

export interface DevRun {
  readonly done: Promise<void>;
  /**
   * Stops the dispatcher, then the executor: runs get timeoutMs (default 10 s) to finish, then are
   * cancelled. A later call with a shorter timeout shortens it.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** For the heartbeat: the dispatcher's last pass, runs in flight, and whether it is stopping. */
  stats(): { lastPassAt: Date | null; inFlight: number; stopping: boolean };
}

/** The dispatcher loop and the executor, wired to the reporter. */
export function runDev(environment: DevEnvironment, options: DevRunOptions): DevRun {
  const report = reporter(environment, options.out ?? console.log);
  const ignore = (error: unknown) => options.logger.debug({ err: String(error) }, "report line failed");
  const executor = startExecutorFor(environment, options);
  let inFlight = 0;
  let lastPassAt: Date | null = null;
  let stopping = false;
  executor.events.on("start", (e) => {
    inFlight++;
    void report.started(e).catch(ignore);
  });
  executor.events.on("end", (e) => {
    inFlight = Math.max(0, inFlight - 1);
    void report.ended(e).catch(ignore);
  });
  executor.events.on("lost", (l) => report.lost(l));
  const dispatcher = startDispatcherLoop({
    pool: environment.pool,
    logger: options.logger,
    send: (messages) => sendWorkflowMessages(environment.sqs, environment.queueUrl, messages),
    // The reporter prints one line per skip, with the workflow's name.
    logSkipped: false,
    intervalMs: (options.intervalSeconds ?? DISPATCHER_SETTINGS.intervalSeconds.default) * 1000,
    onPass: (pass) => {
      lastPassAt = new Date();
      for (const d of pass.dispatched) void report.dispatched(d).catch(ignore);
      for (const s of pass.skipped) void report.skipped(s).catch(ignore);
    },
  });
  let dispatcherStopped: Promise<void> | undefined;
  // Each call passes its timeout on: a second Ctrl-C (timeoutMs 0) cancels the runs at once.
  const stop = ({ timeoutMs = DEV_SHUTDOWN_TIMEOUT_MS }: { timeoutMs?: number } = {}) => {
    stopping = true;
    dispatcherStopped ??= dispatcher.stop();
    return dispatcherStopped.then(() => executor.stop({ timeoutMs }));
  };
  return {
    done: Promise.all([dispatcher.done, executor.done]).then(() => {}),
    stop,
    stats: () => ({ lastPassAt, inFlight, stopping }),
  };
}

/**
 * `khctl dev --demo`: triggers the manual example, waits for it with the executor running, and returns
 * its execution id and final status.
 */
export async function runDemo(
  environment: DevEnvironment,
  options: DevRunOptions & { timeoutMs?: number; signal?: AbortSignal },
): Promise<{ executionId: string; status: string }> {
  const workflowId = environment.seed.manualId;
  if (!workflowId) throw new Error('the manual example workflow is missing (reset with "khctl dev --reset")');
  const report = reporter(environment, options.out ?? console.log);
  const executor = startExecutorFor(environment, options);
  executor.events.on("start", (e) => void report.started(e));
  executor.events.on("end", (e) => void report.ended(e));
  try {
    const triggered = await triggerWorkflow(
      environment.pool,
      (messages) => sendWorkflowMessages(environment.sqs, environment.queueUrl, messages),
      workflowId,
      { who: "khctl dev --demo" },
    );
    if (!triggered.enqueued) throw new Error(`could not enqueue the demo run: ${triggered.error}`);
    const row = await waitForExecution(environment.pool, triggered.executionId, {
      timeoutMs: options.timeoutMs ?? 120_000,
      signal: options.signal,
    });
    return { executionId: row.id, status: row.status };
  } finally {
    await executor.stop({ timeoutMs: 5_000 });
  }
}
