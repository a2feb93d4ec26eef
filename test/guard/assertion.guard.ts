import { expect, test } from "vitest";
import { createTestDatabase } from "../helpers/database.js";

// Fails on purpose (.ci/run checks that vitest reports it): an assertion fails in a file that uses the
// suite's Postgres, as most test files do.
const { pool } = await createTestDatabase();

test("a failing assertion fails the run", async () => {
  const { rows } = await pool.query<{ one: number }>("SELECT 1 AS one");
  expect(rows[0]?.one).toBe(2);
});
