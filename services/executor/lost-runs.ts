import { setTimeout as delay } from "node:timers/promises";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { failExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";

/**
 * The executor's lost-run sweep. A run whose runner is alive ends by itself within the run timeout (the
 * runner enforces it and records the result), so a `running` execution older than the run timeout plus a
 * grace has lost its runner: the executor that held it died (container killed, host crash), and its
 * redelivered message was dropped as "already started". The sweep records such runs as `error`.
 */

/** Default seconds past the run timeout before a running execution counts as lost. */
export const DEFAULT_LOST_RUN_GRACE_SECONDS = 60;
/** Default ms between sweeps. */
export const DEFAULT_LOST_RUN_SWEEP_INTERVAL_MS = 30_000;

export interface LostRunSweepOptions {
  /** The run timeout of the runs (RUN_TIMEOUT_SECONDS as `khctl run` resolves it), ms; 0 = none (sweep off). */
  readonly runTimeoutMs: number;
  /** Seconds past the run timeout before a running execution counts as lost. Default 60. */
  readonly graceSeconds?: number;
  /** Executions marked per pass, at most (the rest wait for the next pass). Default 100. */
  readonly limit?: number;
}

export interface LostRun {
  readonly executionId: string;
  readonly scheduleId: string | null;
  readonly error: string;
}

/** Seconds after started_at when a running execution is lost; null when runs have no timeout. */
export function lostAfterSeconds(options: LostRunSweepOptions): number | null {
  if (options.runTimeoutMs <= 0) return null;
  return Math.ceil(options.runTimeoutMs / 1000) + (options.graceSeconds ?? DEFAULT_LOST_RUN_GRACE_SECONDS);
}

/**
 * One sweep: every `running` execution started more than lostAfterSeconds ago (database clock), except
 * the ones in `active` (this executor's own runs), becomes `error` with "runner lost: …" and its schedule
 * gets the outcome (failExecution, the shared lost-run write, which re-checks the age in its UPDATE).
 * Returns what it marked; each is logged with its executionId.
 */
export async function sweepLostRuns(deps: {
  db: Queryable;
  logger: Logger;
  options: LostRunSweepOptions;
  /** Executions this executor runs right now: never marked, whatever their age. */
  active?: () => Iterable<string>;
}): Promise<LostRun[]> {
  const { db, logger, options } = deps;
  const after = lostAfterSeconds(options);
  if (after === null) return [];
  const active = [...(deps.active?.() ?? [])];
  const { rows } = await db.query<{ id: string; schedule_id: string | null; running_seconds: number }>(
    `SELECT id, schedule_id, floor(extract(epoch FROM now() - started_at))::integer AS running_seconds
     FROM workflow_executions
     WHERE status = 'running' AND started_at < now() - make_interval(secs => $1::double precision)
       AND NOT (id = ANY($2::text[]))
     ORDER BY started_at
     LIMIT $3`,
    [after, active, options.limit ?? 100],
  );
  const timeoutSeconds = Math.ceil(options.runTimeoutMs / 1000);
  const lost: LostRun[] = [];
  for (const row of rows) {
    // Asked again per row: a run this executor started while the query ran is ours, not lost.
    if (new Set(deps.active?.() ?? []).has(row.id)) continue;
    const error =
      `runner lost: still running ${row.running_seconds}s after it started, past the run timeout ` +
      `(${timeoutSeconds}s) plus ${after - timeoutSeconds}s; the executor running it stopped without recording the result`;
    if (!(await failExecution(db, row.id, error, { runningLongerThanSeconds: after }))) continue;
    logger.warn({ executionId: row.id, scheduleId: row.schedule_id, err: error }, "lost run marked error");
    lost.push({ executionId: row.id, scheduleId: row.schedule_id, error });
  }
  return lost;
}

/**
 * Runs sweepLostRuns at once and then every intervalMs until stop() (idempotent); a failed sweep is
 * logged and retried next time. With no run timeout (or intervalMs 0) it does nothing, and says so.
 */
export function startLostRunSweep(deps: {
  db: Queryable;
  logger: Logger;
  options: LostRunSweepOptions;
  active?: () => Iterable<string>;
  /** Between sweeps, ms; 0 = no sweep. Default 30000. */
  intervalMs?: number;
  /** Called with what each sweep marked (the executor's `lost` event). */
  onLost?: (lost: LostRun) => void;
}): { stop(): Promise<void> } {
  const intervalMs = deps.intervalMs ?? DEFAULT_LOST_RUN_SWEEP_INTERVAL_MS;
  const after = lostAfterSeconds(deps.options);
  if (after === null || intervalMs <= 0) {
    deps.logger.info(
      { runTimeoutMs: deps.options.runTimeoutMs, intervalMs },
      "lost-run sweep off (no run timeout or no interval): a run whose executor dies stays running",
    );
    return { stop: async () => {} };
  }
  deps.logger.debug({ lostAfterSeconds: after, intervalMs }, "lost-run sweep started");
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        for (const lost of await sweepLostRuns(deps)) deps.onLost?.(lost);
      } catch (error) {
        deps.logger.warn({ err: errorMessage(error) }, "lost-run sweep failed; retrying next interval");
      }
      await delay(intervalMs, undefined, { signal: stopping.signal }).catch(() => {});
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
