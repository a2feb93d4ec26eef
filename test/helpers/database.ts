import pg from "pg";
import { afterAll, inject } from "vitest";
import { newId } from "../../services/core/ids.js";
import { createPool, type Pool } from "../../services/db/pool.js";

export interface TestDatabase {
  /** URL of this file's own database. */
  readonly url: string;
  readonly pool: Pool;
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject("postgresAdminUrl") });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * A fresh, migrated database for the calling test file (cloned from the template, so it costs
 * milliseconds), dropped when the file ends. Call it at the top level of a test file or in beforeAll.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `kh_test_${newId()}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${inject("templateDatabase")}`);
  const url = new URL(inject("postgresAdminUrl"));
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 20 });
  afterAll(async () => {
    await pool.end();
    await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  return { url: url.toString(), pool };
}

/** An empty database (no migrations), for migration tests. */
export async function createEmptyDatabase(): Promise<string> {
  const name = `kh_test_${newId()}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  afterAll(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(inject("postgresAdminUrl"));
  url.pathname = `/${name}`;
  return url.toString();
}
