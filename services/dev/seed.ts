import type { Pool } from "../db/pool.js";
import { createWorkflow } from "../db/workflows.js";
import { nextSlotAfter } from "../scheduling/cron.js";
import { validateWorkflow } from "../workflow/definition.js";

/** Seeded workflows carry this user_id, so dev can find them again (and point them at its demo API). */
export const SEED_USER = "khctl-dev";
export const SCHEDULED_EXAMPLE = "Every minute: check the demo API";
export const MANUAL_EXAMPLE = "Manual: say hello";

const node = (id: string, type: "trigger" | "action", label: string, config: Record<string, unknown>) => ({
  id,
  type,
  data: { type, label, config },
});

export function exampleWorkflows(base: string) {
  const scheduled = {
    name: SCHEDULED_EXAMPLE,
    description: "Seeded by khctl dev: every minute, GET the demo API's /health and check the answer.",
    nodes: [
      node("trigger", "trigger", "Every Minute", {
        triggerType: "Schedule",
        scheduleCron: "* * * * *",
        scheduleTimezone: "UTC",
      }),
      node("check", "action", "Check API", {
        actionType: "HTTP Request",
        endpoint: `${base}/health`,
        httpMethod: "GET",
      }),
      node("is-up", "action", "Is Up", {
        actionType: "Condition",
        condition: "{{@check:Check API.status}} === 200 && {{@check:Check API.data.ok}}",
      }),
    ],
    edges: [
      { id: "trigger-check", source: "trigger", target: "check" },
      { id: "check-is-up", source: "check", target: "is-up" },
    ],
  };
  const manual = {
    name: MANUAL_EXAMPLE,
    description: "Seeded by khctl dev: POST a greeting to the demo API and check that it came back.",
    nodes: [
      node("trigger", "trigger", "Manual Trigger", { triggerType: "Manual" }),
      node("greet", "action", "Greet", {
        actionType: "HTTP Request",
        endpoint: `${base}/echo`,
        httpMethod: "POST",
        httpBody: { message: "hello from khctl dev", at: "{{@trigger:Manual Trigger.triggeredAt}}" },
      }),
      node("echoed", "action", "Echoed", {
        actionType: "Condition",
        condition: "{{@greet:Greet.data.received.message}} === 'hello from khctl dev'",
      }),
    ],
    edges: [
      { id: "trigger-greet", source: "trigger", target: "greet" },
      { id: "greet-echoed", source: "greet", target: "echoed" },
    ],
  };
  return { scheduled, manual };
}

export interface SeedResult {
  /** True when this call created the examples (the database had no workflows). */
  readonly created: boolean;
  readonly scheduledId: string | null;
  readonly manualId: string | null;
}

/**
 * Creates the two example workflows when the database has none; on later runs points the existing
 * examples at this run's demo API (its port changes from run to run).
 */
export async function seedExamples(pool: Pool, base: string, now: Date): Promise<SeedResult> {
  const { rows: counts } = await pool.query<{ n: number }>("SELECT count(*) AS n FROM workflows");
  let created = false;
  if ((counts[0]?.n ?? 0) === 0) {
    const { scheduled, manual } = exampleWorkflows(base);
    await createWorkflow(pool, {
      definition: validateWorkflow(scheduled),
      userId: SEED_USER,
      schedule: { cron: "* * * * *", timezone: "UTC", nextRunAt: nextSlotAfter("* * * * *", "UTC", now) },
    });
    await createWorkflow(pool, { definition: validateWorkflow(manual), userId: SEED_USER });
    created = true;
  } else {
    await pool.query(
      `UPDATE workflows SET nodes = regexp_replace(nodes::text, 'http://127\\.0\\.0\\.1:[0-9]+', $1, 'g')::jsonb
       WHERE user_id = $2`,
      [base, SEED_USER],
    );
  }
  const { rows } = await pool.query<{ id: string; name: string }>(
    "SELECT id, name FROM workflows WHERE user_id = $1 AND name = ANY($2) ORDER BY created_at",
    [SEED_USER, [SCHEDULED_EXAMPLE, MANUAL_EXAMPLE]],
  );
  return {
    created,
    scheduledId: rows.find((row) => row.name === SCHEDULED_EXAMPLE)?.id ?? null,
    manualId: rows.find((row) => row.name === MANUAL_EXAMPLE)?.id ?? null,
  };
}
