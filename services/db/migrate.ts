import path from "node:path";
import { runner } from "node-pg-migrate";
import type { Logger } from "../core/logger.js";
import { packageRoot } from "../core/paths.js";

export const migrationsDir = (): string => path.join(packageRoot(), "services", "db", "migrations");

export interface MigrateResult {
  /** Names of the migrations applied by this call; empty when the schema was current. */
  readonly applied: string[];
}

/**
 * Applies pending migrations. Safe from two processes at once: node-pg-migrate takes an advisory lock,
 * and in `wait` mode the second caller waits for the first and then finds nothing to do.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<MigrateResult> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir(),
    direction: "up",
    migrationsTable: "pgmigrations",
    singleTransaction: true,
    advisoryLockMode: "wait",
    checkOrder: true,
    log: (message: string) => logger?.debug(message),
  });
  return { applied: applied.map((migration) => migration.name) };
}
