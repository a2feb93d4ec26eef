import { ENV, SERVICE_DEFAULTS } from "../contracts/names.js";

/**
 * The "Environment:" part of a command's --help, from lines that say one thing each, so the variables
 * every SQS or database user reads are described (with their defaults) in one place.
 */

/** One variable (or several, comma-separated) and what it is. */
export type EnvLine = readonly [names: string, meaning: string];

/** DATABASE_URL, required; `what` says what the command uses it for. */
export const databaseLine = (what = "postgres:// URL"): EnvLine => [ENV.databaseUrl, `(required) ${what}`];

/**
 * What a command that reads or changes a pipeline's data (cli/dev-discovery.ts CLIENT_COMMANDS) does
 * with its connection variables unset: it uses the running khctl dev, so they are never "required".
 */
export const FOUND_BY_ITSELF = "found by itself when khctl dev runs in this checkout";

/** A connection variable of such a command: what it is, and that it is found by itself. */
export const foundLine = (name: string, what: string): EnvLine => [name, `${what} (${FOUND_BY_ITSELF})`];

/** SQS_QUEUE_URL, required. */
export const queueLine = (what = "the workflow queue (khctl queue ensure prints it)"): EnvLine => [
  ENV.sqsQueueUrl,
  `(required) ${what}`,
];

/** How every SQS user connects. */
export const SQS_CONNECTION: readonly EnvLine[] = [
  [ENV.awsEndpointUrl, "SQS endpoint (LocalStack http://localhost:4566, fauxqs); unset = AWS"],
  [ENV.awsRegion, `default ${SERVICE_DEFAULTS.awsRegion}`],
  [`${ENV.awsAccessKeyId}, ${ENV.awsSecretAccessKey}`, `default test/test when ${ENV.awsEndpointUrl} is set`],
];

export const LOG_LEVEL_LINE: EnvLine = [ENV.logLevel, `default ${SERVICE_DEFAULTS.logLevel}`];

/** The lines as an aligned block headed "Environment" (with `note` after the heading, e.g. about flags). */
export function envHelp(lines: readonly EnvLine[], note = ""): string {
  const width = Math.max(...lines.map(([names]) => names.length)) + 2;
  const body = lines.map(([names, meaning]) => `  ${names.padEnd(width)}${meaning}`).join("\n");
  return `\nEnvironment${note ? ` (${note})` : ""}:\n${body}`;
}

/** The note for commands whose flags each have a variable. */
export const FLAGS_OVER_ENV = "a flag overrides its variable, shown with each flag above";

/** What the commands that consume or send to the queue do when it is gone (queue/ensure.ts restoreQueues). */
export const QUEUE_RESTORE_HELP = `Missing queues: against an SQS emulator (AWS_ENDPOINT_URL set), a queue that does not exist (LocalStack
keeps none across a restart) is created again with its DLQ, at start and whenever SQS says it is gone.`;
