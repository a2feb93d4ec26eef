import pg from "pg";
import { describe, expect, it } from "vitest";
import { migrate } from "../../services/db/migrate.js";
import { createEmptyDatabase } from "../helpers/database.js";

async function tables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    return rows.map((row) => row.table_name);
  } finally {
    await client.end();
  }
}

describe("migrate", () => {
  it("creates the four tables from an empty database, and a re-run applies nothing", async () => {
    const url = await createEmptyDatabase();
    const first = await migrate(url);
    expect(first.applied).toContain("0001_initial");
    expect(await tables(url)).toEqual([
      "pgmigrations",
      "workflow_execution_logs",
      "workflow_executions",
      "workflow_schedules",
      "workflows",
    ]);
    const second = await migrate(url);
    expect(second.applied).toEqual([]);
  });

  it("is safe from two processes at once: one applies, the other waits and finds nothing", async () => {
    const url = await createEmptyDatabase();
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    expect([...a.applied, ...b.applied].filter((name) => name === "0001_initial")).toHaveLength(1);
  });

  it("enforces one execution per schedule slot and the status CHECK", async () => {
    const url = await createEmptyDatabase();
    await migrate(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("INSERT INTO workflows (id, name) VALUES ('w', 'w')");
      await client.query(
        "INSERT INTO workflow_schedules (id, workflow_id, cron_expression) VALUES ('s', 'w', '* * * * *')",
      );
      const slot =
        "INSERT INTO workflow_executions (id, workflow_id, schedule_id, scheduled_for, trigger_type) VALUES ($1, 'w', 's', '2026-01-01T00:00:00Z', 'schedule')";
      await client.query(slot, ["e1"]);
      await expect(client.query(slot, ["e2"])).rejects.toThrow(/workflow_executions_slot_key/);
      await expect(
        client.query("UPDATE workflow_executions SET status = 'done' WHERE id = 'e1'"),
      ).rejects.toThrow(/check constraint/);
    } finally {
      await client.end();
    }
  });
});
