import { ConfigError, describeError } from "../core/errors.js";

/** An expected failure: main prints `khctl: <message>` on stderr and exits with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * Reports a failed command in one line on stderr (`khctl: <message>`) and returns its exit code: a
 * CliError's own, 1 for a ConfigError or anything unexpected (described by describeError).
 */
export function reportFailure(error: unknown): number {
  if (error instanceof CliError || error instanceof ConfigError) {
    process.stderr.write(`khctl: ${error.message}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
  process.stderr.write(`khctl: ${describeError(error)}\n`);
  return 1;
}
