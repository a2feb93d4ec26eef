import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { COMMAND_LIST } from "../command-list.js";
import { loadReport, renderReport } from "../execution-report.js";
import { printJson, withDatabase } from "../shared.js";

export function register(program: Command): void {
  program
    .command("execution")
    .description(COMMAND_LIST.execution.summary)
    .argument("<executionId>", "the execution's id")
    .option("--json", "print the execution and its steps as JSON ({execution, steps})")
    .addHelpText(
      "after",
      `
Environment:
  ${ENV.databaseUrl}   (required) the Postgres holding the executions

Exit codes: 0 shown (whatever the execution's status), 1 not found or database unreachable.`,
    )
    .action(async (executionId: string, options: { json?: boolean }) => {
      const report = await withDatabase((pool) => loadReport(pool, executionId));
      if (options.json) printJson(report);
      else process.stdout.write(`${renderReport(report)}\n`);
    });
}
