import { isTerminal } from "../contracts/names.js";
import { type ExecutionRow, getExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { sleep } from "../queue/backoff.js";

/**
 * Polls an execution until it is finished (success, error, cancelled); rejects after timeoutMs (0 = never)
 * or when it does not exist. Polling, not LISTEN: it works through any connection pooler.
 */
export async function waitForExecution(
  db: Queryable,
  executionId: string,
  options: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {},
): Promise<ExecutionRow> {
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  for (;;) {
    const row = await getExecution(db, executionId);
    if (!row) throw new Error(`execution ${executionId} does not exist`);
    if (isTerminal(row.status)) return row;
    if (options.signal?.aborted)
      throw new Error(`stopped waiting for execution ${executionId} (${row.status})`);
    if (Date.now() > deadline) {
      throw new Error(
        `execution ${executionId} is still ${row.status} after ${(options.timeoutMs ?? 0) / 1000} s`,
      );
    }
    await sleep(options.intervalMs ?? 200, options.signal);
  }
}
