import { ID_PATTERN } from "../contracts/names.js";
import type { RunFlags } from "./run-command.js";

/**
 * The runner forms of `khctl run`, started once per execution: `run <executionId>` (a runner Job,
 * contracts/job-template.ts, and the executor's runner processes, executor/child.ts), `run --id-from-stdin`
 * (the executor's warm runners) and a bare `run` (the execution named by EXECUTION_ID or WORKFLOW_ID, as the
 * original runner took it). main.ts sends them to runner-entry.ts, which loads neither commander nor any
 * other verb. Every other command line, flags and --help included, goes through commander
 * (commands/run.ts, the one definition of the verb's arguments), which parses these forms to the same
 * argument and flags. Dependency-free at run time: main.ts reads it before loading anything else.
 */
export interface RunnerForm {
  /** The execution id given as the argument; none: EXECUTION_ID or WORKFLOW_ID, or stdin. */
  readonly executionId?: string;
  readonly flags: RunFlags;
}

/** The runner form of a khctl command line (the arguments after the script), or undefined. */
export function runnerForm(args: readonly string[]): RunnerForm | undefined {
  if (args[0] !== "run" || args.length > 2) return undefined;
  const operand = args[1];
  if (operand === undefined) return { flags: {} };
  if (operand === "--id-from-stdin") return { flags: { idFromStdin: true } };
  return ID_PATTERN.test(operand) ? { executionId: operand, flags: {} } : undefined;
}
