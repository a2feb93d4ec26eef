import Table from "cli-table3";
import { type DatabaseConfig, loadDatabaseConfig } from "../core/config.js";
import { errorMessage } from "../core/errors.js";
import { parseJson } from "../core/json.js";
import { createPool, type Pool } from "../db/pool.js";
import { checkStorableText, visitStrings } from "../workflow/values.js";
import { CliError } from "./errors.js";

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

/**
 * A run input (`--input`, WORKFLOW_INPUT): a JSON object; nothing or blank is `{}`. A bad one is refused
 * in one line naming its source: a usage error (exit 2) for a flag, exit 1 for a variable.
 */
export function parseRunInput(text: string | undefined, source: string): Record<string, unknown> {
  if (text === undefined || text.trim() === "") return {};
  const exitCode = source.startsWith("--") ? 2 : 1;
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (error) {
    throw new CliError(`${source} is not valid JSON: ${errorMessage(error)}`, exitCode);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CliError(`${source} must be a JSON object, e.g. '{"key": "value"}'`, exitCode);
  }
  try {
    visitStrings(value, source, checkStorableText);
  } catch (error) {
    throw new CliError(errorMessage(error), exitCode);
  }
  return value as Record<string, unknown>;
}
