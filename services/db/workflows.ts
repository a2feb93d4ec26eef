import { newId } from "../core/ids.js";
import type { WorkflowDefinition } from "../workflow/definition.js";
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

/**
 * Stores a workflow and, when `schedule` is given, its schedule, in one transaction.
 * The schedule's next_run_at is computed by the caller (the next slot after now).
 */
export async function createWorkflow(
  pool: Pool,
  workflow: NewWorkflow & {
    readonly schedule?: { cron: string; timezone: string; nextRunAt: Date | null; enabled?: boolean };
  },
): Promise<{ workflow: WorkflowRow; schedule: ScheduleRow | null }> {
  return withTransaction(pool, async (client) => {
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
