import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ENV } from "../contracts/names.js";
import { defaultDataDir } from "../dev/data-dir.js";
import { type DevState, describeInstance, findRunningDev, TERMINALS_DIR } from "../dev/instance.js";
import type { CommandName } from "./command-list.js";
import { terminalKey } from "./terminal.js";

/**
 * A second terminal that just works: when none of DATABASE_URL, SQS_QUEUE_URL and AWS_ENDPOINT_URL is
 * set, the commands that talk to a pipeline use the khctl dev running on this checkout's data dir (its
 * dev.json), and say so on stderr: the first time in each terminal for each dev started, or every time
 * with --verbose. Anything set in the environment wins: then nothing is looked up.
 */

/** Commands that read or change a pipeline's data; never the services a stack runs (dispatch, spawner, …). */
export const CLIENT_COMMANDS: ReadonlySet<CommandName> = new Set([
  "console",
  "execution",
  "dlq",
  "logs",
  "queue",
  "run",
  "status",
  "trigger",
  "workflow",
]);

const CONNECTION_ENV = [ENV.databaseUrl, ENV.sqsQueueUrl, ENV.awsEndpointUrl] as const;

let used: DevState | undefined;

/** The khctl dev this process is using, if useRunningDev found one. */
export function discoveredDev(): DevState | undefined {
  return used;
}

/**
 * For a client command with no connection settings in `env`: fills them in from the running khctl dev
 * and notes which one on stderr. Returns it, or undefined (nothing changed).
 */
export async function useRunningDev(
  command: CommandName | undefined,
  options: { env?: NodeJS.ProcessEnv; verbose?: boolean; note?: (line: string) => void } = {},
): Promise<DevState | undefined> {
  const { env = process.env, note = (line: string) => process.stderr.write(`khctl: ${line}\n`) } = options;
  if (!command || !CLIENT_COMMANDS.has(command)) return undefined;
  if (CONNECTION_ENV.some((name) => env[name])) return undefined;
  const dev = await findRunningDev(defaultDataDir(env));
  if (!dev?.connection) return undefined;
  const { connection } = dev;
  env[ENV.databaseUrl] = connection.databaseUrl;
  env[ENV.sqsQueueUrl] = connection.sqsQueueUrl;
  env[ENV.awsEndpointUrl] = connection.awsEndpointUrl;
  env[ENV.awsRegion] ||= connection.awsRegion;
  env[ENV.awsAccessKeyId] ||= "test";
  env[ENV.awsSecretAccessKey] ||= "test";
  if (options.verbose || firstTimeInThisTerminal(dev)) {
    note(`using khctl dev on ${dev.dataDir} (${describeInstance(dev)})`);
  }
  used = dev;
  return dev;
}

/**
 * Whether this terminal has not yet been told about this dev; marks it told. The mark is a file per
 * terminal (terminal.ts) under the data dir's terminals/, holding the dev's pid and start: a dev started
 * later is news again (and clears the folder when it starts). Any file error: say it, as before.
 */
function firstTimeInThisTerminal(dev: DevState): boolean {
  const mark = path.join(dev.dataDir, TERMINALS_DIR, terminalKey());
  const instance = `${dev.pid} ${dev.startedAt}\n`;
  try {
    if (readFileSync(mark, "utf8") === instance) return false;
  } catch {
    // Not told yet.
  }
  try {
    mkdirSync(path.dirname(mark), { recursive: true, mode: 0o700 });
    writeFileSync(mark, instance, { mode: 0o600 });
  } catch {
    // A data dir we cannot write to: the note comes every time.
  }
  return true;
}
