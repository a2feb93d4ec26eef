import { DISPATCHER_SETTINGS } from "../contracts/settings.js";
import { errorMessage } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { type Periodic, startPeriodic } from "../core/periodic.js";
import { type Pool, type PoolClient, withTransaction } from "../db/pool.js";
import { latestSlotAtOrBefore, nextSlotAfter } from "../scheduling/cron.js";
import { flushOutbox, type MessageSender } from "./outbox.js";
import { type NextSlot, planSlot, type SkipReason, type SlotSearch } from "./slots.js";

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
  readonly slots?: SlotSearch;
  /** Log skipped missed slots (warn). Default true; khctl dev prints its own line for each instead. */
  readonly logSkipped?: boolean;
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
  readonly skipped: {
    scheduleId: string;
    workflowId: string;
    count: number | null;
    first: Date;
    before: Date | null;
    reason: SkipReason;
  }[];
  /** Messages sent (this pass's executions and earlier unsent ones). */
  readonly sent: number;
  /** Messages not sent; they stay in the outbox for the next pass. */
  readonly unsent: number;
  /** Schedules whose cron or time zone is invalid (left without a next slot). */
  readonly invalid: number;
  /** How long until the earliest next slot of an enabled schedule, ms (database clock); null: none. */
  readonly nextDueInMs: number | null;
}

export const DEFAULT_CATCH_UP_WINDOW_MS = DISPATCHER_SETTINGS.catchUpWindowSeconds.default * 1000;

/** The default cron evaluation: croner, through services/scheduling/cron.ts. */
export const CRON_SLOTS: SlotSearch = { next: nextSlotAfter, latest: latestSlotAtOrBefore };

/**
 * Cron evaluation remembered for one pass: many schedules share an expression and a slot (every minute,
 * on the minute), and evaluating one costs tens of microseconds, which would otherwise bound the
 * dispatcher at a few thousand due schedules/s. The functions are pure, so reuse is exact.
 */
function memoise(slots: SlotSearch): SlotSearch {
  return { next: memoiseOne(slots.next), latest: memoiseOne(slots.latest) };
}

function memoiseOne(search: NextSlot, limit = 10_000): NextSlot {
  const known = new Map<string, Date | null>();
  return (cron, timezone, at) => {
    const key = `${cron}\u0000${timezone}\u0000${at.getTime()}`;
    const hit = known.get(key);
    if (hit !== undefined || known.has(key)) return hit ?? null;
    const slot = search(cron, timezone, at);
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
 * concurrent dispatchers split the work and never take the same slot), plans each one's slot (planBatch,
 * pure), creates one execution per fired slot (ON CONFLICT DO NOTHING on the slot key) and advances
 * next_run_at, all in one transaction; after the commit, sends the messages through the outbox. Finally
 * re-sends anything an earlier pass committed but did not send. Safe to rerun at any point.
 */
export async function dispatchOnce(options: DispatcherOptions): Promise<DispatchReport> {
  const batchSize = options.batchSize ?? DISPATCHER_SETTINGS.batchSize.default;
  const slots = memoise(options.slots ?? CRON_SLOTS);
  const report: Mutable<DispatchReport> = {
    now: new Date(0),
    claimed: 0,
    dispatched: [],
    skipped: [],
    sent: 0,
    unsent: 0,
    invalid: await initialiseNextRuns(options, slots.next),
    nextDueInMs: null,
  };
  // Claims and sends overlap: while one batch's messages are sent, the next batch is claimed.
  const sending = new Set<Promise<void>>();
  try {
    for (;;) {
      const { claimed, created } = await claimBatch(options, slots, batchSize, report);
      if (created.length > 0) {
        const send = sendCreated(options, created, report).finally(() => sending.delete(send));
        sending.add(send);
        if (sending.size >= SENDS_IN_FLIGHT) await Promise.race(sending);
      }
      if (claimed < batchSize) break;
    }
  } finally {
    await Promise.all(sending);
  }
  await flushBacklog(options, batchSize, report);
  report.nextDueInMs = await msUntilNextSlot(options);
  return report;
}

/** Until the earliest next slot, by the database's clock (or the caller's, in tests). */
async function msUntilNextSlot(options: DispatcherOptions): Promise<number | null> {
  const { rows } = await options.pool.query<{ next: Date | null; now: Date }>(
    "SELECT min(next_run_at) AS next, now() AS now FROM workflow_schedules WHERE enabled",
  );
  const next = rows[0]?.next;
  if (!next) return null;
  const now = options.now?.() ?? (rows[0] as { now: Date }).now;
  return Math.max(0, next.getTime() - now.getTime());
}

/** Batches whose messages are being sent at once, at most, while the next one is claimed. */
const SENDS_IN_FLIGHT = 4;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One batch: claim, plan, insert and advance in one transaction. Returns how many it claimed, and what it created. */
async function claimBatch(
  options: DispatcherOptions,
  slots: SlotSearch,
  batchSize: number,
  report: Mutable<DispatchReport>,
): Promise<{ claimed: number; created: DispatchedExecution[] }> {
  const windowMs = options.catchUpWindowMs ?? DEFAULT_CATCH_UP_WINDOW_MS;
  const batch = await withTransaction(options.pool, async (client) => {
    const now = await databaseNow(client, options.now);
    const rows = await claimDue(client, now, batchSize);
    const plan = planBatch(rows, now, windowMs, slots);
    const created = await insertExecutions(client, plan.fire);
    await advanceSchedules(client, plan.advance);
    return { now, claimed: rows.length, created, plan };
  });
  report.now = batch.now;
  report.claimed += batch.claimed;
  report.invalid += batch.plan.invalid.length;
  report.skipped.push(...batch.plan.skipped);
  report.dispatched.push(...batch.created);
  logPlanProblems(options.logger, batch.plan, windowMs, options.logSkipped ?? true);
  return { claimed: batch.claimed, created: batch.created };
}

/** Sends the messages of executions a batch created, through the outbox (marked only once sent). */
async function sendCreated(
  options: DispatcherOptions,
  created: readonly DispatchedExecution[],
  report: Mutable<DispatchReport>,
): Promise<void> {
  const ids = created.map((d) => d.executionId);
  const flushed = await flushOutbox(options.pool, options.send, { ids, limit: ids.length });
  report.sent += flushed.sent.length;
}

/** The outbox: executions committed by an earlier pass (or another process) whose send did not happen. */
async function flushBacklog(
  options: DispatcherOptions,
  batchSize: number,
  report: Mutable<DispatchReport>,
): Promise<void> {
  for (;;) {
    const flushed = await flushOutbox(options.pool, options.send, { limit: batchSize });
    report.sent += flushed.sent.length;
    if (flushed.failed.length > 0) {
      report.unsent += flushed.failed.length;
      options.logger.warn(
        { unsent: flushed.failed.length, error: flushed.failed[0]?.error },
        "messages not sent; they stay in the outbox for the next pass",
      );
      return;
    }
    if (flushed.sent.length < batchSize) return;
  }
}

/** A due schedule as claimed. */
export interface ClaimedSchedule {
  readonly id: string;
  readonly workflowId: string;
  readonly workflowEnabled: boolean;
  readonly cron: string;
  readonly timezone: string;
  readonly nextRunAt: Date;
}

/** What one batch does: the slots to fire, every schedule's new next_run_at, and what to report. */
export interface BatchPlan {
  readonly fire: { executionId: string; workflowId: string; scheduleId: string; slot: Date }[];
  readonly advance: { scheduleId: string; nextRunAt: Date | null }[];
  readonly skipped: DispatchReport["skipped"];
  readonly invalid: { scheduleId: string; cron: string; timezone: string; error: string }[];
}

/**
 * The batch's plan, as a pure function of the claimed schedules and the time (planSlot per schedule):
 * - a schedule whose cron or time zone is invalid gets no slot and next_run_at NULL, so it is not claimed
 *   again every pass (saving a valid cron fixes it);
 * - a disabled workflow's slots pass without runs (next_run_at moves on, so it leaves the due set);
 * - otherwise its due slot fires, older missed ones are skipped and reported.
 */
export function planBatch(
  rows: readonly ClaimedSchedule[],
  now: Date,
  catchUpWindowMs: number,
  slots: SlotSearch,
): BatchPlan {
  const plan: BatchPlan = { fire: [], advance: [], skipped: [], invalid: [] };
  for (const row of rows) {
    let slot: ReturnType<typeof planSlot>;
    try {
      slot = planSlot(
        { cron: row.cron, timezone: row.timezone, nextRunAt: row.nextRunAt },
        now,
        catchUpWindowMs,
        slots,
      );
    } catch (error) {
      plan.invalid.push({
        scheduleId: row.id,
        cron: row.cron,
        timezone: row.timezone,
        error: errorMessage(error),
      });
      plan.advance.push({ scheduleId: row.id, nextRunAt: null });
      continue;
    }
    plan.advance.push({ scheduleId: row.id, nextRunAt: slot.nextRunAt });
    if (!row.workflowEnabled) continue;
    if (slot.fire) {
      plan.fire.push({
        executionId: newId(),
        workflowId: row.workflowId,
        scheduleId: row.id,
        slot: slot.fire,
      });
    }
    if (slot.skipped) plan.skipped.push({ scheduleId: row.id, workflowId: row.workflowId, ...slot.skipped });
  }
  return plan;
}

function logPlanProblems(
  logger: Logger,
  plan: BatchPlan,
  catchUpWindowMs: number,
  logSkipped: boolean,
): void {
  for (const invalid of plan.invalid) {
    logger.error(
      { scheduleId: invalid.scheduleId, cron: invalid.cron, timezone: invalid.timezone, err: invalid.error },
      "invalid schedule; not dispatched",
    );
  }
  for (const skipped of logSkipped ? plan.skipped : []) {
    logger.warn(
      {
        scheduleId: skipped.scheduleId,
        workflowId: skipped.workflowId,
        skipped: skipped.count ?? "more than 100",
        from: skipped.first.toISOString(),
        before: skipped.before?.toISOString() ?? null,
        catchUpWindowMs,
      },
      skipped.reason === "superseded"
        ? "missed slots skipped: superseded by a later missed slot, which fires instead"
        : "missed slots skipped: outside the catch-up window",
    );
  }
}

async function claimDue(client: PoolClient, now: Date, limit: number): Promise<ClaimedSchedule[]> {
  const { rows } = await client.query<{
    id: string;
    workflow_id: string;
    workflow_enabled: boolean;
    cron_expression: string;
    timezone: string;
    next_run_at: Date;
  }>(
    `SELECT s.id, s.workflow_id, s.cron_expression, s.timezone, s.next_run_at, w.enabled AS workflow_enabled
     FROM workflow_schedules s JOIN workflows w ON w.id = s.workflow_id
     WHERE s.enabled AND s.next_run_at <= $1
     ORDER BY s.next_run_at
     LIMIT $2
     FOR UPDATE OF s SKIP LOCKED`,
    [now, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    workflowId: row.workflow_id,
    workflowEnabled: row.workflow_enabled,
    cron: row.cron_expression,
    timezone: row.timezone,
    nextRunAt: row.next_run_at,
  }));
}

/** One execution per fired slot; a slot that already has one (another pass) is left alone. */
async function insertExecutions(client: PoolClient, fire: BatchPlan["fire"]): Promise<DispatchedExecution[]> {
  if (fire.length === 0) return [];
  const { rows } = await client.query<{
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
    [
      fire.map((f) => f.executionId),
      fire.map((f) => f.workflowId),
      fire.map((f) => f.scheduleId),
      fire.map((f) => f.slot),
    ],
  );
  return rows.map((row) => ({
    executionId: row.id,
    workflowId: row.workflow_id,
    scheduleId: row.schedule_id,
    scheduledFor: row.scheduled_for,
  }));
}

async function advanceSchedules(client: PoolClient, advance: BatchPlan["advance"]): Promise<void> {
  if (advance.length === 0) return;
  await setNextRuns(
    client,
    advance.map((a) => a.scheduleId),
    advance.map((a) => a.nextRunAt),
  );
}

async function setNextRuns(client: PoolClient, ids: string[], slots: (Date | null)[]): Promise<void> {
  await client.query(
    `UPDATE workflow_schedules s SET next_run_at = u.next_run_at
     FROM unnest($1::text[], $2::timestamptz[]) AS u(id, next_run_at)
     WHERE s.id = u.id`,
    [ids, slots],
  );
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
    if (ids.length > 0) await setNextRuns(client, ids, slots);
    return invalid;
  });
}

/** How long after a slot the loop wakes for it, ms: the slot is due by then on the database's clock too. */
const SLOT_WAKE_MARGIN_MS = 20;

/**
 * Runs dispatchOnce at each next slot (at most intervalMs apart: schedules added meanwhile are found then)
 * until stopped (core/periodic.ts: a failed pass is logged and the next
 * one backs off); onPass sees each report (khctl dev prints them).
 */
export function startDispatcherLoop(
  options: DispatcherOptions & { intervalMs?: number; onPass?: (report: DispatchReport) => void },
): Periodic {
  return startPeriodic(
    async () => {
      const report = await dispatchOnce(options);
      options.onPass?.(report);
      // Wake for the next slot rather than up to an interval after it; a few ms late, so it is due.
      return report.nextDueInMs === null ? undefined : report.nextDueInMs + SLOT_WAKE_MARGIN_MS;
    },
    {
      intervalMs: options.intervalMs ?? DISPATCHER_SETTINGS.intervalSeconds.default * 1000,
      logger: options.logger,
      what: "dispatch pass",
    },
  );
}
