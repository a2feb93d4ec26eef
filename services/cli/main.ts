#!/usr/bin/env node
import module from "node:module";
import { runnerForm } from "./runner-form.js";

// Node 22.1+: V8 keeps the code it compiles in a cache (NODE_COMPILE_CACHE, else under the temp dir) and reuses
// it on the next start, so a runner or a CLI call compiles little of its modules (loaded below, on demand). The
// images carry the runner's, made at build time (services/Dockerfile). Node 20 has no cache.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `khctl … | head` closes stdout early: that is the reader's choice, not an error to print a stack for.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

// Exit codes: 0 done, 1 failure or invalid input (one line on stderr), 2 usage error. A runner (one per
// execution: Jobs, the executor's children) loads only the runner; every other command line, commander.
const form = runnerForm(process.argv.slice(2));
process.exitCode = form
  ? await (await import("./runner-entry.js")).runRunner(form)
  : await (await import("./program.js")).runProgram(process.argv);
