import { errorMessage } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { type Pool, type PoolClient, withTransaction } from "../db/pool.js";
import { backoffMs, sleep } from "../queue/backoff.js";
import { nextSlotAfter } from "../scheduling/cron.js";
import { flushOutbox, type MessageSender } from "./outbox.js";
import { type NextSlot, planSlot } from "./slots.js";

export interface DispatcherOptions {
  readonly pool: Pool;
  /** Sends the messages of newly created executions (and of the outbox). */
  readonly send: MessageSender;
  readonly logger: Logger;
  /** Due schedules claimed per transaction. Default 500. */
  readonly batchSize?: number;
  /** A missed slot older than this is skipped instead of fired, ms. Default 600000 (10 minutes). */
  readonly catchUpWindowMs?: number;
  /** The clock; default the database's now(). Tests pass a fixed time. */
  readonly now?: () => Date;
  /** Cron evaluation; default croner through services/scheduling/cron.ts. */
  readonly nextSlot?: NextSlot;
}

export interface DispatchedExecution {
  readonly executionId: string;
  readonly workflowId: string;
  readonly scheduleId: string;
  readonly scheduledFor: Date;
}

export interface DispatchReport {
  /** Database time the pass ran at. */
  readonly now: Date;
  /** Due schedules claimed. */
  readonly claimed: number;
  /** Executions created by this pass (one per fired slot). */
  readonly dispatched: DispatchedExecution[];
  /** Schedules whose missed slots were skipped by the catch-up policy. */
  readonly skipped: { scheduleId: string; count: number | null; first: Date; before: Date | null }[];
  /** Messages sent (this pass's executions and earlier unsent ones). */
  readonly sent: number;
  /** Messages not sent; they stay in the outbox for the next pass. */
  readonly unsent: number;
  /** Schedules whose cron or time zone is invalid (left without a next slot). */
  readonly invalid: number;
}

interface DueRow {
  id: string;
  workflow_enabled: boolean;
  workflow_id: string;
  cron_expression: string;
  timezone: string;
  next_run_at: Date;
}

export const DEFAULT_CATCH_UP_WINDOW_MS = 10 * 60_000;

/**
 * Cron evaluation remembered for one pass: many schedules share an expression and a slot (every minute,
 * on the minute), and evaluating one costs about half a millisecond, which would otherwise bound the
 * dispatcher at ~2,000 due schedules/s. The function is pure, so reuse is exact.
 */
function memoise(next: NextSlot, limit = 10_000): NextSlot {
  const known = new Map<string, Date | null>();
  return (cron, timezone, after) => {
    const key = `${cron}\u0000${timezone}\u0000${after.getTime()}`;
    const hit = known.get(key);
    if (hit !== undefined || known.has(key)) return hit ?? null;
    const slot = next(cron, timezone, after);
    if (known.size >= limit) known.clear();
    known.set(key, slot);
    return slot;
  };
}

async function databaseNow(client: PoolClient, now?: () => Date): Promise<Date> {
  if (now) return now();
  const { rows } = await client.query<{ now: Date }>("SELECT now() AS now");
  return (rows[0] as { now: Date }).now;
}

/**
 * One dispatcher pass. In batches, claims due schedules (`next_run_at <= now`, FOR UPDATE SKIP LOCKED, so
 * concurrent dispatchers split the work and never take the same slot), creates one execution per fired
 * slot (ON CONFLICT DO NOTHING on the slot key) and advances next_run_at, all in one transaction; after
 * the commit, sends the messages through the outbox. Finally re-sends anything an earlier pass committed
 * but did not send. Safe to rerun at any point.
 */
export async function dispatchOnce(options: DispatcherOptions): Promise<DispatchReport> {
  const { pool, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const windowMs = options.catchUpWindowMs ?? DEFAULT_CATCH_UP_WINDOW_MS;
  const next = memoise(options.nextSlot ?? nextSlotAfter);
  const report = {
    now: new Date(0),
    claimed: 0,
    dispatched: [] as DispatchedExecution[],
    skipped: [] as DispatchReport["skipped"],
    sent: 0,
    unsent: 0,
    invalid: 0,
  };

  report.invalid += await initialiseNextRuns(options, next);

  for (;;) {
    const batch = await withTransaction(pool, async (client) => {
      const now = await databaseNow(client, options.now);
      report.now = now;
      const { rows } = await client.query<DueRow>(
        `SELECT s.id, s.workflow_id, s.cron_expression, s.timezone, s.next_run_at,
                w.enabled AS workflow_enabled
         FROM workflow_schedules s JOIN workflows w ON w.id = s.workflow_id
         WHERE s.enabled AND s.next_run_at <= $1
         ORDER BY s.next_run_at
         LIMIT $2
         FOR UPDATE OF s SKIP LOCKED`,
        [now, batchSize],
      );
      const fire = {
        ids: [] as string[],
        workflows: [] as string[],
        schedules: [] as string[],
        slots: [] as Date[],
      };
      const advance = { ids: [] as string[], next: [] as (Date | null)[] };
      for (const row of rows) {
        let plan: ReturnType<typeof planSlot>;
        try {
          plan = planSlot(
            { cron: row.cron_expression, timezone: row.timezone, nextRunAt: row.next_run_at },
            now,
            windowMs,
            next,
          );
        } catch (error) {
          logger.error(
            {
              scheduleId: row.id,
              cron: row.cron_expression,
              timezone: row.timezone,
              err: errorMessage(error),
            },
            "invalid schedule; not dispatched",
          );
          // Unschedulable: clear next_run_at so it is not claimed again each pass; saving a valid cron fixes it.
          report.invalid++;
          advance.ids.push(row.id);
          advance.next.push(null);
          continue;
        }
        if (!row.workflow_enabled) {
          // A disabled workflow's slots pass without runs; advancing keeps them out of the due set.
          advance.ids.push(row.id);
          advance.next.push(plan.nextRunAt);
          continue;
        }
        if (plan.fire) {
          fire.ids.push(newId());
          fire.workflows.push(row.workflow_id);
          fire.schedules.push(row.id);
          fire.slots.push(plan.fire);
        }
        if (plan.skipped) {
          report.skipped.push({ scheduleId: row.id, ...plan.skipped });
          logger.warn(
            {
              scheduleId: row.id,
              workflowId: row.workflow_id,
              skipped: plan.skipped.count ?? "more than 100",
              from: plan.skipped.first.toISOString(),
              before: plan.skipped.before?.toISOString() ?? null,
              catchUpWindowMs: windowMs,
            },
            "missed slots skipped (outside the catch-up window, or superseded by a later missed slot)",
          );
        }
        advance.ids.push(row.id);
        advance.next.push(plan.nextRunAt);
      }
      const created = await client.query<{
        id: string;
        workflow_id: string;
        schedule_id: string;
        scheduled_for: Date;
      }>(
        `INSERT INTO workflow_executions (id, workflow_id, schedule_id, scheduled_for, trigger_type, input)
         SELECT id, workflow_id, schedule_id, scheduled_for, 'schedule', '{}'::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
           AS slot(id, workflow_id, schedule_id, scheduled_for)
         ON CONFLICT (schedule_id, scheduled_for) DO NOTHING
         RETURNING id, workflow_id, schedule_id, scheduled_for`,
        [fire.ids, fire.workflows, fire.schedules, fire.slots],
      );
      await client.query(
        `UPDATE workflow_schedules s SET next_run_at = u.next_run_at
         FROM unnest($1::text[], $2::timestamptz[]) AS u(id, next_run_at)
         WHERE s.id = u.id`,
        [advance.ids, advance.next],
      );
      return { claimed: rows.length, created: created.rows };
    });
    report.claimed += batch.claimed;
    const dispatched = batch.created.map((row) => ({
      executionId: row.id,
      workflowId: row.workflow_id,
      scheduleId: row.schedule_id,
      scheduledFor: row.scheduled_for,
    }));
    report.dispatched.push(...dispatched);
    if (dispatched.length > 0) {
      const flushed = await flushOutbox(pool, options.send, {
        ids: dispatched.map((d) => d.executionId),
        limit: dispatched.length,
      });
      report.sent += flushed.sent.length;
    }
    if (batch.claimed < batchSize) break;
  }

  // The outbox: executions committed by an earlier pass (or another process) whose send did not happen.
  for (;;) {
    const flushed = await flushOutbox(pool, options.send, { limit: batchSize });
    report.sent += flushed.sent.length;
    if (flushed.failed.length > 0) {
      report.unsent += flushed.failed.length;
      logger.warn(
        { unsent: flushed.failed.length, error: flushed.failed[0]?.error },
        "messages not sent; they stay in the outbox for the next pass",
      );
      break;
    }
    if (flushed.sent.length < batchSize) break;
  }
  return report;
}

/** Gives schedules without next_run_at (e.g. written by the KeeperHub app) their first slot after now. */
async function initialiseNextRuns(options: DispatcherOptions, next: NextSlot): Promise<number> {
  return withTransaction(options.pool, async (client) => {
    const now = await databaseNow(client, options.now);
    const { rows } = await client.query<{ id: string; cron_expression: string; timezone: string }>(
      `SELECT id, cron_expression, timezone FROM workflow_schedules
       WHERE enabled AND next_run_at IS NULL
       LIMIT 1000
       FOR UPDATE SKIP LOCKED`,
    );
    let invalid = 0;
    const ids: string[] = [];
    const slots: Date[] = [];
    for (const row of rows) {
      try {
        const slot = next(row.cron_expression, row.timezone, now);
        if (slot) {
          ids.push(row.id);
          slots.push(slot);
        }
      } catch (error) {
        invalid++;
        options.logger.debug({ scheduleId: row.id, err: errorMessage(error) }, "invalid schedule");
      }
    }
    if (ids.length > 0) {
      await client.query(
        `UPDATE workflow_schedules s SET next_run_at = u.next_run_at
         FROM unnest($1::text[], $2::timestamptz[]) AS u(id, next_run_at) WHERE s.id = u.id`,
        [ids, slots],
      );
    }
    return invalid;
  });
}

export interface DispatcherLoop {
  readonly done: Promise<void>;
  /** Finishes the pass in progress, then stops. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs dispatchOnce every intervalMs until stopped. A failed pass is logged and retried with backoff;
 * onPass sees each report (khctl dev prints them).
 */
export function startDispatcherLoop(
  options: DispatcherOptions & { intervalMs?: number; onPass?: (report: DispatchReport) => void },
): DispatcherLoop {
  const stopping = new AbortController();
  const intervalMs = options.intervalMs ?? 5_000;
  const done = (async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        const report = await dispatchOnce(options);
        failures = 0;
        options.onPass?.(report);
        await sleep(intervalMs, stopping.signal);
      } catch (error) {
        const wait = Math.max(intervalMs, backoffMs(failures++, { baseMs: 1_000, maxMs: 60_000 }));
        options.logger.error({ err: errorMessage(error), retryInMs: wait }, "dispatch pass failed");
        await sleep(wait, stopping.signal);
      }
    }
  })();
  return {
    done,
    async stop() {
      stopping.abort();
      await done;
    },
  };
}
