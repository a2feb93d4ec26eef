import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { WorkflowMessage } from "../../services/contracts/message.js";
import type { KubernetesConfig } from "../../services/core/config.js";
import { newId } from "../../services/core/ids.js";
import type { Queryable } from "../../services/db/pool.js";

/** Rows and messages the spawner tests share. */

export const testKubernetesConfig = (overrides: Partial<KubernetesConfig> = {}): KubernetesConfig => ({
  namespace: "local",
  runnerImage: "keeperhub-runner:0123abcd",
  jobTtlSeconds: 3600,
  jobActiveDeadlineSeconds: 300,
  maxConcurrentJobs: 50,
  ...overrides,
});

/** A workflow row; returns its id. */
export async function insertWorkflow(db: Queryable): Promise<string> {
  const id = newId();
  await db.query("INSERT INTO workflows (id, name) VALUES ($1, $2)", [id, `wf ${id}`]);
  return id;
}

export async function insertSchedule(db: Queryable, workflowId: string): Promise<string> {
  const id = newId();
  await db.query(
    "INSERT INTO workflow_schedules (id, workflow_id, cron_expression) VALUES ($1, $2, '* * * * *')",
    [id, workflowId],
  );
  return id;
}

export interface ExecutionFixture {
  readonly workflowId: string;
  readonly status?: "pending" | "running" | "success" | "error" | "cancelled";
  readonly scheduleId?: string | null;
  readonly scheduledFor?: string | null;
  readonly jobName?: string | null;
}

/** An execution row as the dispatcher or trigger would write it; returns its id. */
export async function insertExecution(db: Queryable, fixture: ExecutionFixture): Promise<string> {
  const id = newId();
  const status = fixture.status ?? "pending";
  const terminal = ["success", "error", "cancelled"].includes(status);
  await db.query(
    `INSERT INTO workflow_executions
       (id, workflow_id, schedule_id, scheduled_for, trigger_type, status, job_name, started_at, completed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 <> 'pending' THEN now() END, CASE WHEN $8 THEN now() END)`,
    [
      id,
      fixture.workflowId,
      fixture.scheduleId ?? null,
      fixture.scheduledFor ?? (fixture.scheduleId ? new Date().toISOString() : null),
      fixture.scheduleId ? "schedule" : "manual",
      status,
      fixture.jobName ?? null,
      terminal,
    ],
  );
  return id;
}

export interface ExecutionState {
  status: string;
  error: string | null;
  job_name: string | null;
}

export async function executionState(db: Queryable, id: string): Promise<ExecutionState> {
  const { rows } = await db.query<ExecutionState>(
    "SELECT status, error, job_name FROM workflow_executions WHERE id = $1",
    [id],
  );
  if (!rows[0]) throw new Error(`no execution ${id}`);
  return rows[0];
}

export function messageFor(
  executionId: string | undefined,
  workflowId: string,
  extra: Partial<WorkflowMessage> = {},
): WorkflowMessage {
  return {
    ...(executionId ? { executionId } : {}),
    workflowId,
    scheduleId: null,
    triggerType: "manual",
    triggerTime: new Date().toISOString(),
    ...extra,
  };
}

export async function sendMessage(
  sqs: SQSClient,
  queueUrl: string,
  body: WorkflowMessage | string,
): Promise<string> {
  const result = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
  return result.MessageId ?? "";
}
