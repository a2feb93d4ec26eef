import { Command } from "commander";
import { register as registerDoctor } from "./commands/doctor.js";
import { register as registerExecution } from "./commands/execution.js";
import { register as registerLogs } from "./commands/logs.js";
import { register as registerMigrate } from "./commands/migrate.js";
import { register as registerRun } from "./commands/run.js";
import { register as registerSpawner } from "./commands/spawner.js";
import { register as registerStatus } from "./commands/status.js";
import { register as registerWorkflow } from "./commands/workflow.js";

/**
 * The khctl command tree. One file per command under commands/, each with a `register(program)`;
 * actions throw (CliError or ConfigError) instead of exiting, so commands are testable and
 * main.ts is the only place that exits.
 */
export function buildProgram(): Command {
  const program = new Command("khctl")
    .description(
      "KeeperHub scheduled workflows, locally: embedded default, Docker (local) and minikube (hybrid)",
    )
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ showGlobalOptions: true });
  // Keep this list sorted; each line registers one command file.
  registerDoctor(program);
  registerExecution(program);
  registerLogs(program);
  registerMigrate(program);
  registerRun(program);
  registerSpawner(program);
  registerStatus(program);
  registerWorkflow(program);
  return program;
}
