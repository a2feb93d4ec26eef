import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createPool } from "../../services/db/pool.js";
import { createTestDatabase } from "../helpers/database.js";
import { until } from "../helpers/wait.js";

const { url, pool: admin } = await createTestDatabase();

describe("the pool", () => {
  it("logs an idle connection the server dropped, and the next query reconnects", async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: "warn" },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const pool = createPool(url, { max: 1, applicationName: "kh-pool-test", logger });
    try {
      await pool.query("SELECT 1");
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kh-pool-test'",
      );
      await until("the dropped connection logged", () =>
        lines.some((line) => line.includes("an idle database connection failed")),
      );
      expect((await pool.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
