import type { Command } from "commander";
import { DEFAULT_NAMESPACE, DEFAULT_PORTS, ENV, QUEUE_NAME } from "../../contracts/names.js";
import { defaultDataDir } from "../../dev/data-dir.js";
import { findRunningDev } from "../../dev/instance.js";
import { loadSqsConnection } from "../../queue/client.js";
import {
  collectStatus,
  renderStatus,
  STATUS_PROFILES,
  type StatusDeps,
  type StatusProfile,
  systemStatusDeps,
} from "../../status/report.js";
import { COMMAND_LIST } from "../command-list.js";
import { discoveredDev } from "../dev-discovery.js";
import { CliError } from "../errors.js";
import { printJson } from "../shared.js";

interface StatusFlags {
  profile?: string;
  context?: string;
  minikubeProfile: string;
  json?: boolean;
}

/** LocalStack on the host, as both stacks publish it. */
const DEFAULT_ENDPOINT = `http://localhost:${DEFAULT_PORTS.localstack}`;
// LocalStack's default account; the SDK sends to the endpoint, so the URL's host does not matter.
const DEFAULT_QUEUE_URL = `${DEFAULT_ENDPOINT}/000000000000/${QUEUE_NAME}`;

const HELP = `
Parts of the embedded profile (khctl dev; found by itself when it runs in this checkout):
  dev          the khctl dev process: pid, data dir, ports, and its heartbeat
  postgres     the embedded Postgres answers
  queue        queue and dead-letter queue depths
  dispatcher   its last pass (stuck when there was none for 3 intervals)
  executor     taking work or stopping, runs in flight
  executions   executions by status in the last 24 h, and the latest five

Parts of the stacks' profiles (each one line; one that cannot be reached says why and the rest still shows):
  containers   keeperhub-* containers: state, health, ports (docker ps)
  minikube     host, kubelet and API server (profile minikube)
  kubernetes   Deployment job-spawner ready replicas, CronJob schedule-dispatcher last schedule,
               runner Jobs by state (profile minikube)
  queue        queue and dead-letter queue depths
  executions   executions by status in the last 24 h, and the latest five

Environment:
  ${ENV.databaseUrl.padEnd(22)} Postgres (pulumi stack output databaseUrl --show-secrets); the executions part needs it
  ${ENV.sqsQueueUrl.padEnd(22)} the queue, default ${DEFAULT_QUEUE_URL}
  ${ENV.awsEndpointUrl.padEnd(22)} SQS endpoint, default ${DEFAULT_ENDPOINT}
  ${ENV.awsRegion.padEnd(22)} default us-east-1
  ${ENV.k8sNamespace.padEnd(22)} namespace, default ${DEFAULT_NAMESPACE}
  KUBE_CONTEXT           kubeconfig context when --context is not given

Exit status: 0 when every required part is up, 1 when one is down.
`;

/** `khctl status`; `deps` stand in for Docker, minikube, the cluster and SQS in tests. */
export function register(program: Command, deps: StatusDeps = systemStatusDeps): void {
  program
    .command("status")
    .description(COMMAND_LIST.status.summary)
    .option(
      "--profile <profile>",
      "embedded (khctl dev), dev or minikube (default: embedded when khctl dev runs in this checkout, else from the running stack's containers, else dev)",
    )
    .option("--context <name>", "kubeconfig context (default: KUBE_CONTEXT, else the current context)")
    .option("--minikube-profile <name>", "minikube profile", "minikube")
    .option("--json", "print the report as JSON")
    .addHelpText("after", HELP)
    .action(async (flags: StatusFlags) => {
      if (flags.profile !== undefined && !(STATUS_PROFILES as readonly string[]).includes(flags.profile)) {
        throw new CliError(
          `--profile must be one of ${STATUS_PROFILES.join(", ")} (got "${flags.profile}")`,
          2,
        );
      }
      const env = process.env;
      // The khctl dev of this checkout, when one was found (cli/dev-discovery.ts) or is asked for.
      const found = discoveredDev();
      const profile = (flags.profile ?? (found ? "embedded" : undefined)) as StatusProfile | undefined;
      const dataDir = found?.dataDir ?? defaultDataDir();
      const dev =
        profile === "embedded" ? { state: found ?? (await findRunningDev(dataDir)), dataDir } : undefined;
      const devConnection = dev?.state?.connection;
      const connection = loadSqsConnection(env);
      const report = await collectStatus(
        {
          profile,
          dev,
          minikubeProfile: flags.minikubeProfile,
          kubeContext: flags.context ?? (env[ENV.kubeContext] || undefined),
          namespace: env[ENV.k8sNamespace] || DEFAULT_NAMESPACE,
          databaseUrl: env[ENV.databaseUrl] || devConnection?.databaseUrl,
          queueUrl: env[ENV.sqsQueueUrl] || devConnection?.sqsQueueUrl || DEFAULT_QUEUE_URL,
          sqs: {
            ...connection,
            endpoint: connection.endpoint ?? devConnection?.awsEndpointUrl ?? DEFAULT_ENDPOINT,
          },
        },
        deps,
      );
      if (flags.json) printJson(report);
      else process.stdout.write(`${renderStatus(report)}\n`);
      if (report.down.length > 0) throw new CliError(`down: ${report.down.join(", ")}`);
    });
}
