import type { Command } from "commander";
import { loadDatabaseConfig } from "../../core/config.js";
import { migrate } from "../../db/migrate.js";
import { COMMAND_LIST } from "../command-list.js";
import { printJson } from "../shared.js";

export function register(program: Command): void {
  program
    .command("migrate")
    .description(COMMAND_LIST.migrate.summary)
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { databaseUrl } = loadDatabaseConfig();
      const result = await migrate(databaseUrl);
      if (options.json) printJson(result);
      else if (result.applied.length === 0) console.log("Schema is up to date.");
      else console.log(`Applied ${result.applied.length} migration(s): ${result.applied.join(", ")}`);
    });
}
