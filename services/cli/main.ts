#!/usr/bin/env node
import { exitUnlessSupportedNode } from "../core/node-support.js";
import { loadSecretFiles } from "../core/secret-files.js";
import { enableCompileCache } from "./compile-cache.js";
import { runnerForm } from "./runner-form.js";

// Before anything else: an old Node gets one line naming the versions that work.
exitUnlessSupportedNode("khctl");
enableCompileCache();

// `khctl … | head` closes stdout early: that is the reader's choice, not an error to print a stack for.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

// Exit codes: 0 done, 1 failure or invalid input (one line on stderr), 2 usage error. A runner (one per
// execution: Jobs, the executor's children) loads only the runner; every other command line, commander.
// DATABASE_URL_FILE and INTEGRATION_ENCRYPTION_KEY_FILE (the stacks' containers) before any command reads env.
const form = runnerForm(process.argv.slice(2));
process.exitCode = !secretFilesLoaded()
  ? 1
  : form
    ? await (await import("./runner-entry.js")).runRunner(form)
    : await (await import("./program.js")).runProgram(process.argv);

function secretFilesLoaded(): boolean {
  try {
    loadSecretFiles();
    return true;
  } catch (error) {
    // A ConfigError, in one line, as main reports every bad input (not through errors.ts: a runner's start
    // loads nothing it does not need).
    process.stderr.write(`khctl: ${(error as Error).message}\n`);
    return false;
  }
}
