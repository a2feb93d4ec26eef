import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError, Help } from "commander";
import { packageRoot } from "../core/paths.js";
import { COMMAND_LIST, type CommandName } from "./command-list.js";
import { useRunningDev } from "./dev-discovery.js";
import { reportFailure } from "./errors.js";

/** A command file under commands/: registers one top-level command named like the file. */
interface CommandModule {
  register(program: Command): void;
}

/**
 * The khctl commands, loaded on demand: `khctl run <id>` is started once per workflow run (executor
 * children, Kubernetes Jobs), so it should not pay for loading the Kubernetes and SQS clients of every
 * other command, and `khctl --help` loads none. Keep this list sorted; the key is the command's name.
 */
const COMMANDS: Record<CommandName, () => Promise<CommandModule>> = {
  console: () => import("./commands/console.js"),
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

export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

const isCommand = (name: string | undefined): name is CommandName => name !== undefined && name in COMMANDS;

const VERBOSE_HELP =
  "say which khctl dev the command uses every time (else once per terminal for each dev started)";

/** The version in package.json (`khctl --version`). */
export function khctlVersion(): string {
  const file = path.join(packageRoot(), "package.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/** The command an argv runs, if it names one: `khctl <verb> …` or `khctl help <verb>`. */
export function commandOf(argv: readonly string[]): CommandName | undefined {
  const [verb, next] = [argv[2], argv[3]];
  if (isCommand(verb)) return verb;
  if (verb === "help" && isCommand(next)) return next;
  return undefined;
}

/**
 * The khctl command tree. One file per command under commands/, each with a `register(program)`;
 * actions throw (CliError or ConfigError) instead of exiting, so commands are testable and
 * main.ts is the only place that exits. Given an argv, only the command it names is loaded; without one
 * (the top-level help, an unknown verb) every command is listed from COMMAND_LIST and none is loaded.
 * With no argv (tests), every command is loaded.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command("khctl")
    .description(
      "KeeperHub scheduled workflows, locally: embedded default, Docker (local) and minikube (hybrid)",
    )
    .version(khctlVersion(), "-V, --version", "print the version")
    .option("--verbose", VERBOSE_HELP)
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ showGlobalOptions: true });
  const named = argv === undefined ? undefined : commandOf(argv);
  if (argv !== undefined && named === undefined) {
    listCommands(program);
    return program;
  }
  const modules = await Promise.all((named ? [named] : COMMAND_NAMES).map((name) => COMMANDS[name]()));
  for (const module of modules) module.register(program);
  return program;
}

/** Every command as a placeholder that help lists (term and summary) and commander can name in errors. */
function listCommands(program: Command): void {
  const terms = new Map<Command, string>();
  for (const name of COMMAND_NAMES) {
    terms.set(program.command(name).description(COMMAND_LIST[name].summary), COMMAND_LIST[name].term);
  }
  program.configureHelp({
    showGlobalOptions: true,
    subcommandTerm: (command) =>
      terms.get(command) ?? Help.prototype.subcommandTerm.call(program.createHelp(), command),
  });
}

/**
 * Runs khctl's command line through commander and returns the exit code: 0 done, 1 failure or invalid
 * input (one line on stderr), 2 usage error.
 */
export async function runProgram(argv: string[]): Promise<number> {
  const asksHelp = argv.includes("--help") || argv.includes("-h") || argv[2] === "help";
  if (!asksHelp) await useRunningDev(commandOf(argv), { verbose: argv.includes("--verbose") });
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
