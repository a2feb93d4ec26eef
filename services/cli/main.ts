#!/usr/bin/env node
import module from "node:module";
import { CommanderError } from "commander";
import { ConfigError, describeError } from "../core/errors.js";
import { useRunningDev } from "./dev-discovery.js";
import { CliError } from "./errors.js";
import { buildProgram, commandOf } from "./program.js";

// Node 22.1+: V8 keeps the code it compiles in a cache (under the temp dir) and reuses it on the next start,
// so a runner or a CLI call compiles little of its modules (loaded below, on demand). Node 20 has no cache.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// Exit codes: 0 done, 1 failure or invalid input (one line on stderr), 2 usage error.
async function main(argv: string[]): Promise<number> {
  const asksHelp = argv.includes("--help") || argv.includes("-h") || argv[2] === "help";
  if (!asksHelp) await useRunningDev(commandOf(argv));
  const program = await buildProgram(argv);
  const overrideExit = (command: typeof program): void => {
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
    if (error instanceof CliError || error instanceof ConfigError) {
      process.stderr.write(`khctl: ${error.message}\n`);
      return error instanceof CliError ? error.exitCode : 1;
    }
    process.stderr.write(`khctl: ${describeError(error)}\n`);
    return 1;
  }
}

// `khctl … | head` closes stdout early: that is the reader's choice, not an error to print a stack for.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv);
