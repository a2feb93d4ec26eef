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
