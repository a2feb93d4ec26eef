import pg from "pg";
import { describe, expect, it } from "vitest";
import { describeError } from "../../services/core/errors.js";
import { freePort } from "../../services/embedded/postgres.js";
import { createEmptyDatabase } from "../helpers/database.js";

async function failureOf(connectionString: string, sql = "SELECT 1"): Promise<unknown> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    await client.query(sql);
  } catch (error) {
    return error;
  } finally {
    await client.end().catch(() => {});
  }
  throw new Error("expected the query to fail");
}

describe("describeError: one line for what went wrong", () => {
  it("names the address a refused connection went to, and where to look", async () => {
    const port = await freePort();
    const error = await failureOf(`postgres://u:p@127.0.0.1:${port}/db`);
    expect(describeError(error)).toBe(
      `cannot reach 127.0.0.1:${port}: connection refused (is it running? \`khctl status\` shows what is up)`,
    );
  });

  it("points a query on an unmigrated database at khctl migrate", async () => {
    const url = await createEmptyDatabase();
    const error = await failureOf(url, "SELECT * FROM workflows");
    expect(describeError(error)).toBe(
      'relation "workflows" does not exist: the schema is missing or old: run `khctl migrate`',
    );
  });

  it("keeps any other error's own message, first line only", () => {
    expect(describeError(new Error("workflow x does not exist\n    at stack"))).toBe(
      "workflow x does not exist",
    );
    expect(describeError("plain")).toBe("plain");
  });
});
