import Table from "cli-table3";
import { type DatabaseConfig, loadDatabaseConfig } from "../core/config.js";
import { createPool, type Pool } from "../db/pool.js";

/** Opens a pool on DATABASE_URL for the length of fn. */
export async function withDatabase<T>(
  fn: (pool: Pool, config: DatabaseConfig) => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const config = loadDatabaseConfig(env);
  const pool = createPool(config.databaseUrl, { applicationName: "khctl" });
  try {
    return await fn(pool, config);
  } finally {
    await pool.end();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain table for people; data commands also offer --json for scripts. */
export function renderTable(head: string[], rows: (string | number | null | undefined)[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows)
    table.push(row.map((cell) => (cell === null || cell === undefined ? "" : String(cell))));
  return table.toString();
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}
