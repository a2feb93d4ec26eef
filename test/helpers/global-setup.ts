import { mkdtemp, rm } from "node:fs/promises";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../../services/db/migrate.js";
import { type RunningPostgres, startEmbeddedPostgres } from "../../services/embedded/postgres.js";

/**
 * Once per test run: a Postgres server (embedded, or the one DATABASE_URL names) with a migrated
 * template database. Each test file clones the template (see database.ts), so files never share state.
 */
export const TEMPLATE_DATABASE = "kh_test_template";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the server's maintenance database; test databases are created beside it. */
    postgresAdminUrl: string;
  }
}

let server: RunningPostgres | undefined;
let dataRoot: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    // Under /tmp, not root's home: the server runs as `postgres` when we are root.
    dataRoot = await mkdtemp("/tmp/kh-test-pg-");
    server = await startEmbeddedPostgres({ dataDir: `${dataRoot}/data`, ephemeral: true });
    adminUrl = server.url;
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  await migrate(templateUrl.toString());
  project.provide("postgresAdminUrl", adminUrl);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}
