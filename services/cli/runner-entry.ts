import { ENV } from "../contracts/names.js";
import { resolveRunnerTimeouts } from "../runner/timeouts.js";
import { reportFailure } from "./errors.js";
import { runCommand } from "./run-command.js";
import type { RunnerForm } from "./runner-form.js";

/**
 * `khctl run` in its runner forms (runner-form.ts): it loads the runner and nothing else (no commander,
 * no other verb), and `npm run build` bundles it into one file (package.json `bundle:runner`), since
 * loading a few hundred small modules was most of a runner's start-up. It runs exactly what
 * commands/run.ts runs for the same command line (runCommand, with the timeouts from env).
 */

/** Runs the execution the form names; returns the exit code, a failure reported as main reports it. */
export async function runRunner(form: RunnerForm): Promise<number> {
  try {
    // A person's `khctl run <id>` in a second terminal uses the running khctl dev, as the other client
    // commands do; a Job or an executor's child always has DATABASE_URL, and never loads the lookup.
    if (!process.env[ENV.databaseUrl]) await (await import("./dev-discovery.js")).useRunningDev("run");
    await runCommand(form.executionId, form.flags, resolveRunnerTimeouts(process.env));
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportFailure(error);
  }
}
