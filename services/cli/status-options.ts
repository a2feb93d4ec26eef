import { DEFAULT_NAMESPACE, DEFAULT_PORTS, ENV, QUEUE_NAME } from "../contracts/names.js";
import { defaultDataDir } from "../dev/data-dir.js";
import { findRunningDev } from "../dev/instance.js";
import { loadSqsConnection } from "../queue/client.js";
import { STATUS_PROFILES, type StatusOptions, type StatusProfile } from "../status/report.js";
import { discoveredDev } from "./dev-discovery.js";
import { CliError } from "./errors.js";

/**
 * Which pipeline `khctl status` (and `khctl console`, whose health page is that report) looks at, from
 * its flags and the environment: khctl dev when one runs in this checkout, else the stack whose
 * containers run, with the stacks' default endpoints when nothing is set.
 */

/** LocalStack on the host, as both stacks publish it. */
export const DEFAULT_ENDPOINT = `http://localhost:${DEFAULT_PORTS.localstack}`;
// LocalStack's default account; the SDK sends to the endpoint, so the URL's host does not matter.
export const DEFAULT_QUEUE_URL = `${DEFAULT_ENDPOINT}/000000000000/${QUEUE_NAME}`;

export interface StatusFlags {
  profile?: string;
  context?: string;
  minikubeProfile: string;
}

export const PROFILE_HELP =
  "embedded (khctl dev), dev, minikube or cluster (default: embedded when khctl dev runs in this checkout, else from the running stack's containers, else dev); cluster reads KUBE_CONTEXT, K8S_NAMESPACE, DATABASE_URL, SQS_QUEUE_URL and AWS_* as the stack's nextCommands export them";

export async function statusOptionsFor(
  flags: StatusFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<StatusOptions> {
  if (flags.profile !== undefined && !(STATUS_PROFILES as readonly string[]).includes(flags.profile)) {
    throw new CliError(`--profile must be one of ${STATUS_PROFILES.join(", ")} (got "${flags.profile}")`, 2);
  }
  // The khctl dev of this checkout, when one was found (cli/dev-discovery.ts) or is asked for.
  const found = discoveredDev();
  const profile = (flags.profile ?? (found ? "embedded" : undefined)) as StatusProfile | undefined;
  const dataDir = found?.dataDir ?? defaultDataDir();
  const dev =
    profile === "embedded" ? { state: found ?? (await findRunningDev(dataDir)), dataDir } : undefined;
  const devConnection = dev?.state?.connection;
  const connection = loadSqsConnection(env);
  return {
    profile,
    dev,
    minikubeProfile: flags.minikubeProfile,
    kubeContext: flags.context ?? (env[ENV.kubeContext] || undefined),
    namespace: env[ENV.k8sNamespace] || DEFAULT_NAMESPACE,
    databaseUrl: env[ENV.databaseUrl] || devConnection?.databaseUrl,
    queueUrl: env[ENV.sqsQueueUrl] || devConnection?.sqsQueueUrl || DEFAULT_QUEUE_URL,
    // The cluster profile's SQS is AWS itself unless AWS_ENDPOINT_URL names an emulator: no LocalStack default.
    sqs:
      profile === "cluster"
        ? connection
        : {
            ...connection,
            endpoint: connection.endpoint ?? devConnection?.awsEndpointUrl ?? DEFAULT_ENDPOINT,
          },
  };
}
