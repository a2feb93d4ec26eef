import { describe, expect, it } from "vitest";
import { createPool, withTransaction } from "../../services/db/pool.js";
import { createTestDatabase } from "../helpers/database.js";
import { capturedLogger } from "../helpers/logs.js";
import { until } from "../helpers/wait.js";

const { url, pool: admin } = await createTestDatabase();

describe("the pool", () => {
  it("logs an idle connection the server dropped (at debug: an administrator's doing), and the next query reconnects", async () => {
    const { logger, lines } = capturedLogger("debug");
    const pool = createPool(url, { max: 1, applicationName: "kh-pool-test", logger });
    try {
      await pool.query("SELECT 1");
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kh-pool-test'",
      );
      const line = await until("the dropped connection logged", () =>
        lines.find((text) => text.includes("an idle database connection failed")),
      );
      // pg_terminate_backend is 57P01, as a stopping server's notice is: not a warning (pino's 40).
      expect(JSON.parse(line)).toMatchObject({ level: 20, code: "57P01" });
      expect((await pool.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it("fails a transaction whose connection the server dropped between two queries, and nothing else", async () => {
    // Without a listener on the checked-out client, the server's termination notice would be an unhandled
    // 'error' event (the run fails on it); with one, the next query fails and the pool goes on.
    const pool = createPool(url, { max: 1, applicationName: "kh-pool-tx-test" });
    try {
      const transaction = withTransaction(pool, async (client) => {
        await client.query("SELECT 1");
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kh-pool-tx-test'",
        );
        await until(
          "the client saw the termination",
          () => !(client as unknown as { _queryable: boolean })._queryable,
        );
        await client.query("SELECT 2");
      });
      await expect(transaction).rejects.toThrow();
      expect((await pool.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
