import type { Command } from "commander";
import { runnerPodLookup } from "../../console/pods.js";
import { startConsole } from "../../console/server.js";
import { ENV, STACK_OF_PROFILE } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { loadKubeConfig } from "../../core/kube-config.js";
import { handleStopSignals } from "../../core/lifecycle.js";
import { createLogger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { findRunningDev } from "../../dev/instance.js";
import { createSqsClient } from "../../queue/client.js";
import { createKubeApi } from "../../spawner/kube.js";
import { collectStatus, type StatusOptions, systemStatusDeps } from "../../status/report.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine, SQS_CONNECTION } from "../env-help.js";
import { CliError } from "../errors.js";
import { commandSettings, settingOption } from "../settings.js";
import { PROFILE_HELP, type StatusFlags, statusOptionsFor } from "../status-options.js";

interface ConsoleFlags extends StatusFlags {
  host: string;
}

const HELP = `${envHelp([
  foundLine(ENV.databaseUrl, "the pipeline's Postgres"),
  foundLine(
    ENV.sqsQueueUrl,
    "its queue, whose DLQ its RedrivePolicy names; else the stacks' LocalStack queue",
  ),
  ...SQS_CONNECTION,
  [ENV.k8sNamespace, "the runner Jobs' namespace (profiles minikube and cluster), default local"],
  [ENV.kubeContext, "kubeconfig context when --context is not given"],
])}

Pages: Workflows (trigger now, enable, disable), Executions (live: new runs and status changes appear
without a reload; filter by workflow and status), one execution (its graph coloured by step status, the
step table with inputs and outputs masked, the Job and runner pod in the hybrid stack; re-run, cancel),
Queue (depths, the DLQ's messages; redrive one, all or the selected; delete the selected, purge, each after
a confirmation page), Health (the khctl status report).

khctl dev serves the console itself (its banner prints the URL). Against a stack, run this on the host
with the stack's settings (pulumi stack output nextCommands). Only this machine can reach it unless
--host says otherwise; its buttons are POSTs that other sites cannot send. Ctrl-C stops it.`;

export function register(program: Command): void {
  program
    .command("console")
    .description(COMMAND_LIST.console.summary)
    .addOption(settingOption(FLAG_SETTINGS.consolePort))
    .option(
      "--host <address>",
      "address to listen on (0.0.0.0: every interface, only where something else guards it)",
      "127.0.0.1",
    )
    .option("--profile <profile>", PROFILE_HELP)
    .option("--context <name>", "kubeconfig context (default: KUBE_CONTEXT, else the current context)")
    .option("--minikube-profile <name>", "minikube profile", "minikube")
    .addHelpText("after", HELP)
    .action(serve);
}

/** What the header says the console shows: the profile, and where the database is (never its password). */
function describePipeline(options: StatusOptions, databaseUrl: string): string {
  const where = new URL(databaseUrl);
  const database = `database ${where.hostname}:${where.port || 5432}${where.pathname}`;
  if (options.profile === "embedded") return `khctl dev on ${options.dev?.dataDir ?? "?"} · ${database}`;
  if (options.profile)
    return `stack ${STACK_OF_PROFILE[options.profile]} (profile ${options.profile}) · ${database}`;
  return `the running stack · ${database}`;
}

async function serve(flags: ConsoleFlags, self: Command): Promise<void> {
  const { port } = commandSettings(self, { port: FLAG_SETTINGS.consolePort });
  const options = await statusOptionsFor(flags);
  const databaseUrl = options.databaseUrl;
  if (!databaseUrl) {
    throw new CliError(
      `${ENV.databaseUrl} is not set and no khctl dev runs in this checkout: start one (npm start), or export ${ENV.databaseUrl}=$(pulumi stack output databaseUrl --show-secrets)`,
    );
  }
  // For a person on the host (never a pod): its records as human lines, as khctl dev writes them.
  const logger = createLogger("console", process.env, { human: true });
  const pool = createPool(databaseUrl, { applicationName: "khctl-console", max: 5, logger });
  const sqs = createSqsClient(options.sqs);
  const dataDir = options.dev?.dataDir;
  try {
    const running = await startConsole(
      {
        pool,
        sqs,
        queueUrl: options.queueUrl,
        // Read afresh for each page: khctl dev's heartbeat moves on.
        health: async () =>
          collectStatus(
            dataDir ? { ...options, dev: { dataDir, state: await findRunningDev(dataDir) } } : options,
            systemStatusDeps,
          ),
        ...(options.profile === "embedded"
          ? {}
          : {
              runnerPod: runnerPodLookup(() =>
                createKubeApi(loadKubeConfig({ context: options.kubeContext }), {
                  namespace: options.namespace,
                  requestTimeoutMs: 5_000,
                }),
              ),
            }),
        logger,
        pipeline: describePipeline(options, databaseUrl),
      },
      { host: flags.host, port },
    );
    console.log(`KeeperHub console: ${running.url}  (${describePipeline(options, databaseUrl)})`);
    for (const notice of running.notices) console.log(`  notice: ${notice}`);
    if (!["127.0.0.1", "localhost", "::1"].includes(flags.host)) {
      console.log(`  notice: listening on ${flags.host}: whoever reaches that address can use the console`);
    }
    console.log("Ctrl-C stops it.");
    await untilStopped(() => running.stop());
  } finally {
    sqs.destroy();
    await pool.end();
  }
}

/** Resolves after the first SIGINT or SIGTERM, once `stop` is done (core/lifecycle.ts). */
async function untilStopped(stop: () => Promise<void>): Promise<void> {
  let ended = () => {};
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const signals = handleStopSignals(
    { done, stop: () => stop().then(ended) },
    {
      shutdownTimeoutMs: 0,
      stopping: "closing the console",
      say: (line) => process.stderr.write(`${line}\n`),
    },
  );
  try {
    await done;
  } finally {
    signals.dispose();
  }
}
