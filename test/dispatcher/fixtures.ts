import type { WorkflowMessage } from "../../services/contracts/message.js";
import { newId } from "../../services/core/ids.js";
import type { Queryable } from "../../services/db/pool.js";
import type { MessageSender } from "../../services/dispatcher/outbox.js";

/** A workflow with one schedule, written straight to the tables (as the KeeperHub app would). */
export async function insertScheduledWorkflow(
  db: Queryable,
  schedule: { cron: string; timezone?: string; nextRunAt: Date | null; enabled?: boolean },
): Promise<{ workflowId: string; scheduleId: string }> {
  const workflowId = newId();
  const scheduleId = newId();
  await db.query("INSERT INTO workflows (id, name) VALUES ($1, $2)", [workflowId, `wf ${workflowId}`]);
  await db.query(
    `INSERT INTO workflow_schedules (id, workflow_id, cron_expression, timezone, next_run_at, enabled)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      scheduleId,
      workflowId,
      schedule.cron,
      schedule.timezone ?? "UTC",
      schedule.nextRunAt,
      schedule.enabled ?? true,
    ],
  );
  return { workflowId, scheduleId };
}

/** A sender that records what it was given; `fail` makes every entry fail (SQS down). */
export function recordingSender(): MessageSender & { messages: WorkflowMessage[]; fail: boolean } {
  const sender = Object.assign(
    async (messages: readonly WorkflowMessage[]) => {
      if (sender.fail)
        return { sent: [], failed: messages.map((message) => ({ message, error: "injected" })) };
      sender.messages.push(...messages);
      return { sent: [...messages], failed: [] };
    },
    { messages: [] as WorkflowMessage[], fail: false },
  );
  return sender;
}
