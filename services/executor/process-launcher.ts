import type { EventEmitter } from "node:events";
import { logLineText } from "../core/human-log.js";
import { type ExecutionRow, failExecution, getExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import type { Launcher } from "../intake/launcher.js";
import type { HandleContext, HandleOutcome } from "../queue/consumer-types.js";
import type { RunnerExit } from "./child.js";

/** Runs one execution to its end in some isolated way (a child process in production, a stub in tests). */
export type RunExecutionProcess = (
  executionId: string,
  options: { signal: AbortSignal; onSpawn?: (pid: number | undefined) => void },
) => Promise<RunnerExit>;

export interface ExecutionStartEvent {
  readonly executionId: string;
  readonly workflowId: string;
  readonly triggerType: string;
  readonly scheduledFor: Date | null;
  readonly pid: number | undefined;
  /** Runs in progress in this executor, this one included. */
  readonly running: number;
}

export interface ExecutionEndEvent {
  readonly executionId: string;
  readonly workflowId: string;
  /** The recorded status after the run (success, error, cancelled; pending if it never started). */
  readonly status: string;
  readonly error: string | null;
  /** Wall time of the runner process, from its start to its exit, ms (not the run's own duration). */
  readonly processMs: number;
  /** The run's own duration as recorded (duration_ms), ms; null when it never ran. */
  readonly runMs: number | null;
  readonly exitCode: number | null;
}

/** An execution that the stale-run policy found overdue and this executor recorded as error. */
export interface LostRun {
  readonly executionId: string;
  readonly scheduleId: string | null;
  readonly error: string;
}

/**
 * Events of the executor: `start` (ExecutionStartEvent), `end` (ExecutionEndEvent), `skip` ({executionId,
 * status}: a message whose execution a runner has or that is finished), `lost` (LostRun).
 */
export type ExecutorEvents = EventEmitter<{
  start: [ExecutionStartEvent];
  end: [ExecutionEndEvent];
  skip: [{ executionId: string; status: string }];
  lost: [LostRun];
}>;

export interface ProcessLauncher extends Launcher {
  /** Executions whose runner process this executor has now: alive, whatever their age. */
  active(): ReadonlySet<string>;
  /** Stops the runner process of this execution (SIGTERM, as a shutdown does); nothing if it has none. */
  stopRun(executionId: string): void;
}

/**
 * The executor's launcher: runs the execution in a child process (`khctl run`) and waits for its end,
 * holding the message meanwhile. Afterwards the row says what happened: finished -> "done"; still pending
 * (the child never claimed it) -> "retry"; still running although the child failed -> it died mid-run
 * (killed, out of memory), recorded as error, so nothing stays running.
 */
export function createProcessLauncher(deps: {
  db: Queryable;
  runProcess: RunExecutionProcess;
  events: ExecutorEvents;
}): ProcessLauncher {
  // Each run's own stop, besides the consumer's (shutdown): a cancel stops one run.
  const active = new Map<string, AbortController>();
  const launch = async (execution: ExecutionRow, context: HandleContext): Promise<HandleOutcome> => {
    const own = new AbortController();
    active.set(execution.id, own);
    const started = Date.now();
    let exit: RunnerExit;
    try {
      exit = await deps.runProcess(execution.id, {
        signal: AbortSignal.any([context.signal, own.signal]),
        onSpawn: (pid) => deps.events.emit("start", startEvent(execution, pid, active.size)),
      });
    } finally {
      active.delete(execution.id);
    }
    let after = (await getExecution(deps.db, execution.id)) ?? execution;
    if (after.status === "running" && exit.exitCode !== 0)
      after = await recordDeadRunner(deps.db, after, exit);
    deps.events.emit("end", {
      executionId: execution.id,
      workflowId: execution.workflow_id,
      status: after.status,
      error: after.error,
      processMs: Date.now() - started,
      runMs: after.duration_ms,
      exitCode: exit.exitCode,
    });
    if (after.status !== "pending") return "done";
    context.logger.warn(
      { exitCode: exit.exitCode, tail: exit.tail.slice(-3).map(logLineText) },
      "runner did not start the execution; will retry",
    );
    return "retry";
  };
  return {
    launch,
    active: () => new Set(active.keys()),
    stopRun: (executionId) => active.get(executionId)?.abort("cancelled"),
  };
}

function startEvent(execution: ExecutionRow, pid: number | undefined, running: number): ExecutionStartEvent {
  return {
    executionId: execution.id,
    workflowId: execution.workflow_id,
    triggerType: execution.trigger_type,
    scheduledFor: execution.scheduled_for,
    pid,
    running,
  };
}

/** A run whose process died without recording its end: error with the exit and its last line. */
async function recordDeadRunner(db: Queryable, row: ExecutionRow, exit: RunnerExit): Promise<ExecutionRow> {
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
  // The runner logs JSON (its stderr is a pipe): quote what its last line says, not the record.
  const last = exit.tail.at(-1);
  await failExecution(
    db,
    row.id,
    `runner process ended (${how}) without recording the result${last ? `: ${logLineText(last)}` : ""}`,
  );
  return (await getExecution(db, row.id)) ?? row;
}
