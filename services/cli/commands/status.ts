import type { Command } from "commander";
import { DEFAULT_NAMESPACE, ENV } from "../../contracts/names.js";
import { collectStatus, renderStatus, type StatusDeps, systemStatusDeps } from "../../status/report.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine } from "../env-help.js";
import { CliError } from "../errors.js";
import { printJson } from "../shared.js";
import {
  DEFAULT_ENDPOINT,
  DEFAULT_QUEUE_URL,
  PROFILE_HELP,
  type StatusFlags,
  statusOptionsFor,
} from "../status-options.js";

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
               runner Jobs by state (profiles minikube and cluster; cluster has no containers part)
  queue        queue and dead-letter queue depths
  executions   executions by status in the last 24 h, and the latest five

${envHelp([
  foundLine(
    ENV.databaseUrl,
    "Postgres, for the executions part; a stack's: pulumi stack output databaseUrl --show-secrets",
  ),
  foundLine(ENV.sqsQueueUrl, `the queue; else ${DEFAULT_QUEUE_URL}`),
  [ENV.awsEndpointUrl, `SQS endpoint, default ${DEFAULT_ENDPOINT}`],
  [ENV.awsRegion, "default us-east-1"],
  [ENV.k8sNamespace, `namespace, default ${DEFAULT_NAMESPACE}`],
  [ENV.kubeContext, "kubeconfig context when --context is not given"],
]).trimStart()}

Exit status: 0 when every required part is up, 1 when one is down.
`;

/** `khctl status`; `deps` stand in for Docker, minikube, the cluster and SQS in tests. */
export function register(program: Command, deps: StatusDeps = systemStatusDeps): void {
  program
    .command("status")
    .description(COMMAND_LIST.status.summary)
    .option("--profile <profile>", PROFILE_HELP)
    .option("--context <name>", "kubeconfig context (default: KUBE_CONTEXT, else the current context)")
    .option("--minikube-profile <name>", "minikube profile", "minikube")
    .option("--json", "print the report as JSON")
    .addHelpText("after", HELP)
    .action(async (flags: StatusFlags & { json?: boolean }) => {
      const report = await collectStatus(await statusOptionsFor(flags), deps);
      if (flags.json) printJson(report);
      else process.stdout.write(`${renderStatus(report)}\n`);
      if (report.down.length > 0) throw new CliError(`down: ${report.down.join(", ")}`);
    });
}
