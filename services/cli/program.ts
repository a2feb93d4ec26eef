import { Command } from "commander";
import { register as registerDev } from "./commands/dev.js";
import { register as registerDispatch } from "./commands/dispatch.js";
import { register as registerDlq } from "./commands/dlq.js";
import { register as registerDoctor } from "./commands/doctor.js";
import { register as registerExecution } from "./commands/execution.js";
import { register as registerExecutor } from "./commands/executor.js";
import { register as registerLogs } from "./commands/logs.js";
import { register as registerMigrate } from "./commands/migrate.js";
import { register as registerQueue } from "./commands/queue.js";
import { register as registerRun } from "./commands/run.js";
import { register as registerSpawner } from "./commands/spawner.js";
import { register as registerStatus } from "./commands/status.js";
import { register as registerTrigger } from "./commands/trigger.js";
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
  registerDev(program);
  registerDispatch(program);
  registerDlq(program);
  registerDoctor(program);
  registerExecution(program);
  registerExecutor(program);
  registerLogs(program);
  registerMigrate(program);
  registerQueue(program);
  registerRun(program);
  registerSpawner(program);
  registerStatus(program);
  registerTrigger(program);
  registerWorkflow(program);
  return program;
}
