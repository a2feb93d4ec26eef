import { newId } from "../core/ids.js";
import type { Queryable } from "./pool.js";

/** A workflow_schedules row as stored. */
export interface ScheduleRow {
  id: string;
  workflow_id: string;
  cron_expression: string;
  timezone: string;
  enabled: boolean;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_status: "success" | "error" | "cancelled" | null;
  last_error: string | null;
  run_count: number;
  created_at: Date;
  updated_at: Date;
}

export interface NewSchedule {
  readonly workflowId: string;
  /** A cron expression already checked by validateSchedule (scheduling/cron.ts). */
  readonly cron: string;
  /** IANA time zone. */
  readonly timezone: string;
  /** The first slot the dispatcher will pick up. */
  readonly nextRunAt: Date | null;
  /** Default true. */
  readonly enabled?: boolean;
}

export async function createSchedule(db: Queryable, schedule: NewSchedule): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `INSERT INTO workflow_schedules (id, workflow_id, cron_expression, timezone, enabled, next_run_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING *`,
    [
      newId(),
      schedule.workflowId,
      schedule.cron,
      schedule.timezone,
      schedule.enabled ?? true,
      schedule.nextRunAt,
    ],
  );
  return rows[0] as ScheduleRow;
}

export async function getScheduleForWorkflow(db: Queryable, workflowId: string): Promise<ScheduleRow | null> {
  const { rows } = await db.query<ScheduleRow>("SELECT * FROM workflow_schedules WHERE workflow_id = $1", [
    workflowId,
  ]);
  return rows[0] ?? null;
}

/**
 * Records how a scheduled execution ended on its schedule: last_run_at (the execution's start),
 * last_status, last_error, and one more run_count, in one UPDATE (no read-modify-write).
 */
export async function recordScheduleOutcome(
  db: Queryable,
  scheduleId: string,
  outcome: { status: "success" | "error" | "cancelled"; error?: string | null; ranAt: Date },
): Promise<void> {
  await db.query(
    `UPDATE workflow_schedules
     SET last_run_at = $2, last_status = $3, last_error = $4, run_count = run_count + 1
     WHERE id = $1`,
    [scheduleId, outcome.ranAt, outcome.status, outcome.error ?? null],
  );
}
