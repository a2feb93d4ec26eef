import type { Logger } from "../core/logger.js";
import { type Periodic, startPeriodic } from "../core/periodic.js";
import { cancelledAmong } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";

/** How often the executor looks for its runs cancelled elsewhere, ms (one query, only while it runs some). */
export const CANCEL_CHECK_INTERVAL_MS = 1000;

/**
 * The executor's side of a cancel (db/executions.ts cancelExecution): a run of its own that is recorded
 * `cancelled` (by khctl execution cancel or the console, from any process) has its runner stopped as a
 * shutdown stops it: SIGTERM to the child, which aborts the steps in flight, then SIGKILL after the grace.
 */
export function startCancelWatch(deps: {
  db: Queryable;
  logger: Logger;
  /** The executions whose runner process this executor has now. */
  active: () => ReadonlySet<string>;
  /** Stops that run's process. */
  stopRun: (executionId: string) => void;
  intervalMs?: number;
}): Periodic {
  return startPeriodic(
    async () => {
      for (const id of await cancelledAmong(deps.db, [...deps.active()])) {
        deps.logger.info({ executionId: id }, "execution cancelled: stopping its runner");
        deps.stopRun(id);
      }
    },
    { intervalMs: deps.intervalMs ?? CANCEL_CHECK_INTERVAL_MS, logger: deps.logger, what: "cancel watch" },
  );
}
