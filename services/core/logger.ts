import { pino } from "pino";
import { ENV, SERVICE_DEFAULTS } from "../contracts/names.js";
import { humanLogDestination } from "./human-log.js";

/**
 * Structured logs on stderr (stdout belongs to command output). LOG_LEVEL sets the level;
 * on a terminal the lines are made readable, in a pod they stay JSON for the log pipeline.
 * `human` (khctl dev, whose every other line is for a person): each record is one line in the layout
 * of those lines (human-log.ts), on a terminal or not. LOG_FORMAT=json keeps JSON in every case.
 */
export type Logger = pino.Logger;

export function createLogger(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { human?: boolean } = {},
): Logger {
  const level = env[ENV.logLevel] ?? SERVICE_DEFAULTS.logLevel;
  const json = env[ENV.logFormat] === "json";
  if (options.human && !json) return pino({ level, base: { service } }, humanLogDestination());
  const pretty = process.stderr.isTTY && !json;
  return pino(
    { level, base: { service } },
    pretty
      ? pino.transport({ target: "pino-pretty", options: { destination: 2, ignore: "pid,hostname" } })
      : // Synchronous, as console.error is: a command's last line ("khctl: …", written straight to stderr)
        // must come after the log lines that led to it, never before.
        pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything: for tests and library callers that do not want logs. */
export const silentLogger: Logger = pino({ level: "silent" });
