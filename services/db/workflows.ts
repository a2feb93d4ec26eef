import { newId } from "../core/ids.js";
import type { WorkflowDefinition } from "../workflow/definition.js";
import { likePattern } from "./like.js";
import { type Pool, type Queryable, withTransaction } from "./pool.js";
import { createSchedule, type ScheduleRow } from "./schedules.js";

/** A workflows row as stored (nodes and edges as KeeperHub writes them). */
export interface WorkflowRow {
  id: string;
  name: string;
  description: string | null;
  nodes: unknown[];
  edges: unknown[];
  enabled: boolean;
  user_id: string | null;
  organization_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A workflow with its schedule's summary, for listings. */
export interface WorkflowSummaryRow extends WorkflowRow {
  schedule_id: string | null;
  cron_expression: string | null;
  timezone: string | null;
  schedule_enabled: boolean | null;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_status: string | null;
}

export interface NewWorkflow {
  /** A definition already checked by validateWorkflow. */
  readonly definition: WorkflowDefinition;
  readonly enabled?: boolean;
  readonly userId?: string | null;
  readonly organizationId?: string | null;
}

export async function insertWorkflow(db: Queryable, workflow: NewWorkflow): Promise<WorkflowRow> {
  const { definition } = workflow;
  const { rows } = await db.query<WorkflowRow>(
    `INSERT INTO workflows (id, name, description, nodes, edges, enabled, user_id, organization_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     RETURNING *`,
    [
      newId(),
      definition.name,
      definition.description ?? null,
      // jsonb arrays must be sent as JSON text: pg would turn a JS array into a Postgres array.
      JSON.stringify(definition.nodes),
      JSON.stringify(definition.edges),
      workflow.enabled ?? true,
      workflow.userId ?? null,
      workflow.organizationId ?? null,
    ],
  );
  return rows[0] as WorkflowRow;
}

/** A workflow name another workflow has already (khctl names workflows by name: they must be unique). */
export class DuplicateNameError extends Error {
  override name = "DuplicateNameError";
  constructor(
    readonly workflowName: string,
    /** The workflows that have the name, oldest first. */
    readonly ids: readonly string[],
  ) {
    super(`a workflow named "${workflowName}" exists already (${ids.join(", ")})`);
  }
}

/**
 * Throws DuplicateNameError when a workflow other than `exceptId` has `name`. Takes a transaction-long
 * advisory lock on the name first, so two saves of the same name at once cannot both pass the check
 * (no unique index: KeeperHub's own rows may repeat names, and `--allow-duplicate` keeps that case).
 */
async function checkNameFree(client: Queryable, name: string, exceptId?: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('keeperhub:workflow-name'), hashtext($1))", [
    name,
  ]);
  const { rows } = await client.query<{ id: string }>(
    "SELECT id FROM workflows WHERE name = $1 AND id IS DISTINCT FROM $2 ORDER BY created_at, id",
    [name, exceptId ?? null],
  );
  if (rows.length > 0)
    throw new DuplicateNameError(
      name,
      rows.map((row) => row.id),
    );
}

/**
 * Whether a save refuses a name another workflow has: khctl asks for it (unless `--allow-duplicate`);
 * other writers (the seed, an app writing KeeperHub rows, the tests) decide for themselves.
 */
export interface NameRule {
  readonly uniqueName?: boolean;
}

/**
 * Stores a workflow and, when `schedule` is given, its schedule, in one transaction; refuses a name
 * another workflow has (DuplicateNameError) when uniqueName.
 * The schedule's next_run_at is computed by the caller (the next slot after now).
 */
export async function createWorkflow(
  pool: Pool,
  workflow: NewWorkflow &
    NameRule & {
      readonly schedule?: { cron: string; timezone: string; nextRunAt: Date | null; enabled?: boolean };
    },
): Promise<{ workflow: WorkflowRow; schedule: ScheduleRow | null }> {
  return withTransaction(pool, async (client) => {
    if (workflow.uniqueName) await checkNameFree(client, workflow.definition.name);
    const row = await insertWorkflow(client, workflow);
    const schedule = workflow.schedule
      ? await createSchedule(client, { workflowId: row.id, ...workflow.schedule })
      : null;
    return { workflow: row, schedule };
  });
}

export async function getWorkflow(db: Queryable, id: string): Promise<WorkflowRow | null> {
  const { rows } = await db.query<WorkflowRow>("SELECT * FROM workflows WHERE id = $1", [id]);
  return rows[0] ?? null;
}

/** All workflows, newest first, with their schedule (if any). */
export async function listWorkflows(db: Queryable): Promise<WorkflowSummaryRow[]> {
  const { rows } = await db.query<WorkflowSummaryRow>(
    `SELECT w.*, s.id AS schedule_id, s.cron_expression, s.timezone, s.enabled AS schedule_enabled,
            s.next_run_at, s.last_run_at, s.last_status
     FROM workflows w
     LEFT JOIN workflow_schedules s ON s.workflow_id = w.id
     ORDER BY w.created_at DESC, w.id`,
  );
  return rows;
}

/** Executions newest first: the first one of a workflow's is its last run (listWorkflowOverview). */
export const LAST_RUN_ORDER = "created_at DESC, id DESC";

/** A workflow for an overview: its schedule, its latest execution and how many it has had. */
export interface WorkflowOverviewRow extends WorkflowSummaryRow {
  /** The schedule's runs so far (null without a schedule). */
  run_count: number | null;
  /** Every execution of the workflow, manual ones too. */
  execution_count: number;
  last_execution_id: string | null;
  last_execution_status: string | null;
  last_execution_duration_ms: number | null;
  last_execution_at: Date | null;
}

/**
 * All workflows, newest first, each with its schedule, its latest execution and its number of
 * executions. A workflow's "last run" is its newest execution by created_at, whatever triggered it
 * (manual runs count): the console, `khctl workflow list` and `workflow show` all take it from here or
 * in LAST_RUN_ORDER. The latest comes through the (workflow_id, created_at) index, the counts in one pass.
 * With `matching`, only the workflows the console's search finds.
 */
export async function listWorkflowOverview(
  db: Queryable,
  filter: { readonly matching?: string } = {},
): Promise<WorkflowOverviewRow[]> {
  // matching: a name that contains it (any case), or an id that starts with it (the console's search).
  const matching = filter.matching
    ? [likePattern(filter.matching, "contains"), likePattern(filter.matching, "prefix")]
    : [null, null];
  const { rows } = await db.query<WorkflowOverviewRow>(
    `WITH counts AS (
       SELECT workflow_id, count(*)::int AS n FROM workflow_executions GROUP BY workflow_id
     )
     SELECT w.*, s.id AS schedule_id, s.cron_expression, s.timezone, s.enabled AS schedule_enabled,
            s.next_run_at, s.last_run_at, s.last_status, s.run_count,
            coalesce(c.n, 0) AS execution_count,
            last.id AS last_execution_id, last.status AS last_execution_status,
            last.duration_ms AS last_execution_duration_ms, last.created_at AS last_execution_at
     FROM workflows w
     LEFT JOIN workflow_schedules s ON s.workflow_id = w.id
     LEFT JOIN counts c ON c.workflow_id = w.id
     LEFT JOIN LATERAL (
       SELECT e.id, e.status, e.duration_ms, e.created_at FROM workflow_executions e
       WHERE e.workflow_id = w.id ORDER BY ${LAST_RUN_ORDER} LIMIT 1
     ) last ON true
     WHERE $1::text IS NULL OR w.name ILIKE $1 OR w.id LIKE $2
     ORDER BY w.created_at DESC, w.id`,
    matching,
  );
  return rows;
}

/** Workflows whose id or name is `ref` (names need not be unique), oldest first. */
export async function findWorkflows(db: Queryable, ref: string): Promise<WorkflowRow[]> {
  const { rows } = await db.query<WorkflowRow>(
    "SELECT * FROM workflows WHERE id = $1 OR name = $1 ORDER BY created_at, id",
    [ref],
  );
  return rows;
}

/** A schedule as a workflow should have it; its first slot is computed from the database clock. */
export interface WantedSchedule {
  readonly cron: string;
  readonly timezone: string;
  /** The next slot after `now` (the caller's cron evaluation). */
  readonly nextSlot: (now: Date) => Date | null;
}

/** What updateWorkflow did to the schedule. */
export type ScheduleChange = "created" | "changed" | "unchanged" | "removed" | "none";

/**
 * Replaces a workflow's definition, and brings its schedule in line in the same transaction: created,
 * changed (cron or time zone; next_run_at recomputed from now), kept as it is (next_run_at too, so no
 * slot is lost), or removed (a Manual trigger now; past executions keep their rows). Locks the schedule
 * row, so a dispatcher pass never sees half of it. Null when the workflow does not exist. With
 * uniqueName, a name another workflow has is refused as createWorkflow refuses it.
 */
export async function updateWorkflow(
  pool: Pool,
  id: string,
  definition: WorkflowDefinition,
  schedule: WantedSchedule | undefined,
  rule: NameRule = {},
): Promise<{ workflow: WorkflowRow; schedule: ScheduleRow | null; change: ScheduleChange } | null> {
  return withTransaction(pool, async (client) => {
    if (rule.uniqueName) await checkNameFree(client, definition.name, id);
    const { rows } = await client.query<WorkflowRow>(
      `UPDATE workflows SET name = $2, description = $3, nodes = $4, edges = $5 WHERE id = $1 RETURNING *`,
      [
        id,
        definition.name,
        definition.description ?? null,
        JSON.stringify(definition.nodes),
        JSON.stringify(definition.edges),
      ],
    );
    const workflow = rows[0];
    if (!workflow) return null;
    const existing = await client.query<ScheduleRow>(
      "SELECT * FROM workflow_schedules WHERE workflow_id = $1 FOR UPDATE",
      [id],
    );
    const current = existing.rows[0];
    if (!schedule) {
      if (current) await client.query("DELETE FROM workflow_schedules WHERE id = $1", [current.id]);
      return { workflow, schedule: null, change: current ? "removed" : "none" };
    }
    if (current && current.cron_expression === schedule.cron && current.timezone === schedule.timezone) {
      return { workflow, schedule: current, change: "unchanged" };
    }
    const nextRunAt = schedule.nextSlot(await databaseNow(client));
    if (!current) {
      const created = await createSchedule(client, {
        workflowId: id,
        cron: schedule.cron,
        timezone: schedule.timezone,
        nextRunAt,
        enabled: workflow.enabled,
      });
      return { workflow, schedule: created, change: "created" };
    }
    const changed = await client.query<ScheduleRow>(
      `UPDATE workflow_schedules SET cron_expression = $2, timezone = $3, next_run_at = $4
       WHERE id = $1 RETURNING *`,
      [current.id, schedule.cron, schedule.timezone, nextRunAt],
    );
    return { workflow, schedule: changed.rows[0] as ScheduleRow, change: "changed" };
  });
}

/**
 * Enables or disables a workflow and its schedule together. Enabling sets the schedule's next run to its
 * next slot after now: slots that passed while it was disabled do not run late. Null when it does not exist.
 */
export async function setWorkflowEnabled(
  pool: Pool,
  id: string,
  enabled: boolean,
  nextSlot: (cron: string, timezone: string, now: Date) => Date | null,
): Promise<{ workflow: WorkflowRow; schedule: ScheduleRow | null } | null> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<WorkflowRow>(
      "UPDATE workflows SET enabled = $2 WHERE id = $1 RETURNING *",
      [id, enabled],
    );
    const workflow = rows[0];
    if (!workflow) return null;
    const current = (
      await client.query<ScheduleRow>("SELECT * FROM workflow_schedules WHERE workflow_id = $1 FOR UPDATE", [
        id,
      ])
    ).rows[0];
    if (!current) return { workflow, schedule: null };
    const nextRunAt =
      enabled && !current.enabled
        ? nextSlot(current.cron_expression, current.timezone, await databaseNow(client))
        : current.next_run_at;
    const updated = await client.query<ScheduleRow>(
      "UPDATE workflow_schedules SET enabled = $2, next_run_at = $3 WHERE id = $1 RETURNING *",
      [current.id, enabled, nextRunAt],
    );
    return { workflow, schedule: updated.rows[0] as ScheduleRow };
  });
}

/** Every execution of the workflow, finished or not (what deleting it takes with it). */
export async function countExecutions(db: Queryable, workflowId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM workflow_executions WHERE workflow_id = $1",
    [workflowId],
  );
  return rows[0]?.n ?? 0;
}

/** Executions of the workflow that have not finished (pending or running). */
export async function countUnfinishedExecutions(db: Queryable, workflowId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM workflow_executions WHERE workflow_id = $1 AND status IN ('pending', 'running')",
    [workflowId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Deletes a workflow with its schedule, its executions and their step logs (the tables' ON DELETE
 * CASCADE). Returns how many executions went with it; null when it does not exist.
 */
export async function deleteWorkflow(pool: Pool, id: string): Promise<{ executions: number } | null> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM workflow_executions WHERE workflow_id = $1",
      [id],
    );
    const deleted = await client.query("DELETE FROM workflows WHERE id = $1", [id]);
    return deleted.rowCount ? { executions: rows[0]?.n ?? 0 } : null;
  });
}

/** The database's clock: what schedules and updated_at are compared with, never this machine's. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>("SELECT now() AS now");
  return (rows[0] as { now: Date }).now;
}
