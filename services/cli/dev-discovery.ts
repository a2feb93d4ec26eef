import { ENV } from "../contracts/names.js";
import { defaultDataDir } from "../dev/data-dir.js";
import { type DevState, describeInstance, findRunningDev } from "../dev/instance.js";
import type { CommandName } from "./command-list.js";

/**
 * A second terminal that just works: when none of DATABASE_URL, SQS_QUEUE_URL and AWS_ENDPOINT_URL is
 * set, the commands that talk to a pipeline use the khctl dev running on this checkout's data dir (its
 * dev.json), and say so on stderr. Anything set in the environment wins: then nothing is looked up.
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
  env: NodeJS.ProcessEnv = process.env,
  note: (line: string) => void = (line) => process.stderr.write(`khctl: ${line}\n`),
): Promise<DevState | undefined> {
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
  note(`using khctl dev on ${dev.dataDir} (${describeInstance(dev)})`);
  used = dev;
  return dev;
}
