import { Command, CommanderError } from "commander";
import { reportFailure } from "./errors.js";

/** A command file under commands/: registers one top-level command named like the file. */
interface CommandModule {
  register(program: Command): void;
}

/**
 * The khctl commands, loaded on demand: `khctl run <id>` is started once per workflow run (executor
 * children, Kubernetes Jobs), so it should not pay for loading the Kubernetes and SQS clients of every
 * other command. Keep this list sorted; the key is the command's name.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  dev: () => import("./commands/dev.js"),
  dispatch: () => import("./commands/dispatch.js"),
  dlq: () => import("./commands/dlq.js"),
  doctor: () => import("./commands/doctor.js"),
  execution: () => import("./commands/execution.js"),
  executor: () => import("./commands/executor.js"),
  logs: () => import("./commands/logs.js"),
  migrate: () => import("./commands/migrate.js"),
  queue: () => import("./commands/queue.js"),
  run: () => import("./commands/run.js"),
  spawner: () => import("./commands/spawner.js"),
  status: () => import("./commands/status.js"),
  trigger: () => import("./commands/trigger.js"),
  workflow: () => import("./commands/workflow.js"),
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

/**
 * The khctl command tree. One file per command under commands/, each with a `register(program)`;
 * actions throw (CliError or ConfigError) instead of exiting, so commands are testable and
 * main.ts is the only place that exits. Given the argv, only the command it names is loaded
 * (all of them for the top-level help or an unknown verb, so help and errors list every verb).
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command("khctl")
    .description(
      "KeeperHub scheduled workflows, locally: embedded default, Docker (local) and minikube (hybrid)",
    )
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ showGlobalOptions: true });
  const verb = argv?.[2];
  const names = verb !== undefined && verb in COMMANDS ? [verb] : COMMAND_NAMES;
  const modules = await Promise.all(names.map((name) => COMMANDS[name]?.()));
  for (const module of modules) module?.register(program);
  return program;
}

/**
 * Runs khctl's command line through commander and returns the exit code: 0 done, 1 failure or invalid
 * input (one line on stderr), 2 usage error.
 */
export async function runProgram(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" to commander; usage mistakes exit 2, and commander already printed them.
      return error.exitCode === 0 ? 0 : 2;
    }
    return reportFailure(error);
  }
}
