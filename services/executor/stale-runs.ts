import type { Logger } from "../core/logger.js";
import { failExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import {
  listUnfinishedExecutions,
  overdueReason,
  resendExecution,
  type StaleRunPolicy,
  type UnfinishedExecution,
  whatToDo,
} from "../db/stale-run-policy.js";
import type { LostRun } from "./process-launcher.js";

/** Overdue executions handled per sweep, at most (the rest wait for the next one). */
const SWEEP_LIMIT = 100;

/**
 * The executor's side of the stale-run policy (db/stale-run-policy.ts): an overdue execution whose
 * runner is not this executor's child is dead: its executor died with it (container killed, host
 * crash), or no executor took its message. It is recorded as error and counted on its schedule.
 * Returns what it recorded; each is logged with its executionId.
 */
export async function sweepStaleRuns(deps: {
  db: Queryable;
  logger: Logger;
  policy: StaleRunPolicy;
  /** Whether the run is this executor's now (its child process is running it). */
  isOurs: (executionId: string) => boolean;
}): Promise<LostRun[]> {
  const { db, logger, policy } = deps;
  const overdue = await listUnfinishedExecutions(db, policy, { onlyOverdue: true, limit: SWEEP_LIMIT });
  const lost: LostRun[] = [];
  for (const execution of overdue) {
    // Asked per row, after the query: a run started here while it ran is ours, not lost.
    if (deps.isOurs(execution.id)) continue;
    if (whatToDo(execution) === "resend") {
      if (await resendExecution(db, execution.id, policy)) {
        logger.warn(
          { executionId: execution.id, sends: execution.sendCount },
          "no executor took the message: sent again (the next dispatcher pass sends it)",
        );
      }
      continue;
    }
    const error = overdueReason(execution, policy, deadRunnerDetail(execution));
    if (!(await failExecution(db, execution.id, error, { onlyIfOverdue: policy }))) continue;
    logger.warn(
      { executionId: execution.id, scheduleId: execution.scheduleId, err: error },
      "lost run marked error",
    );
    lost.push({ executionId: execution.id, scheduleId: execution.scheduleId, error });
  }
  return lost;
}

function deadRunnerDetail(execution: UnfinishedExecution): string {
  return execution.status === "running"
    ? "the executor running it stopped without recording the result"
    : "its messages were lost (no executor received them)";
}
