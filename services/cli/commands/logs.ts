import type { Command } from "commander";
import { DEFAULT_NAMESPACE, ENV } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { loadKubeConfig } from "../../core/kube-config.js";
import { type ExecutionRow, getExecution } from "../../db/executions.js";
import { createKubeApi, type KubeApi } from "../../spawner/kube.js";
import { ExecutionNotFoundError, showExecutionLogs } from "../../spawner/logs.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine } from "../env-help.js";
import { CliError } from "../errors.js";
import { withDatabase } from "../shared.js";

interface LogsFlags {
  follow?: boolean;
  namespace?: string;
  context?: string;
  kubeconfig?: string;
}

export function register(program: Command): void {
  program
    .command("logs")
    .description(COMMAND_LIST.logs.summary)
    .argument("<executionId>", "the execution (khctl trigger and khctl status print ids)")
    .option("-f, --follow", "keep streaming until the run ends (Ctrl-C stops)")
    .option(
      "--namespace <name>",
      `Kubernetes namespace of the runner Jobs (env ${ENV.k8sNamespace}, default ${DEFAULT_NAMESPACE})`,
    )
    .option("--context <name>", "kubeconfig context (env KUBE_CONTEXT; default: the current context)")
    .option("--kubeconfig <file>", "kubeconfig file (env KUBECONFIG; default ~/.kube/config)")
    .addHelpText(
      "after",
      `${envHelp([
        foundLine(ENV.databaseUrl, "the step log and the execution's status"),
        [ENV.k8sNamespace, `namespace of the runner Jobs (default ${DEFAULT_NAMESPACE})`],
        ["KUBE_CONTEXT, KUBECONFIG", "which cluster; in a pod, the in-cluster service account"],
      ])}

With no cluster configured, or when the Job is gone (JOB_TTL_SECONDS after it finished), the step log
from Postgres is shown instead; a note on stderr says which source you are reading.`,
    )
    .action(async (executionId: string, flags: LogsFlags) => {
      const note = (line: string) => process.stderr.write(`khctl: ${line}\n`);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await withDatabase(async (pool) => {
          const execution = await getExecution(pool, executionId);
          if (!execution) throw new CliError(`execution ${executionId} not found`);
          const kube = runnerJobPossible(execution) ? connectKubernetes(flags, note) : undefined;
          if (!runnerJobPossible(execution)) {
            note("no Kubernetes Job ran this execution (an executor did); step log from Postgres");
          }
          await showExecutionLogs({ db: pool, kube, out: process.stdout, note }, executionId, {
            follow: flags.follow,
            signal: stop.signal,
          });
        });
      } catch (error) {
        if (error instanceof ExecutionNotFoundError) throw new CliError(error.message);
        throw error;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}

/**
 * Whether a runner Job may hold this execution's log: the spawner records the Job's name when it creates
 * one, so a started execution without one was run by an executor (khctl dev, the local stack), and
 * Kubernetes is not asked at all. A pending one may still get a Job.
 */
function runnerJobPossible(execution: ExecutionRow): boolean {
  return execution.job_name !== null || execution.status === "pending";
}

/** The Kubernetes API, or undefined with one note when none is configured. */
function connectKubernetes(flags: LogsFlags, note: (line: string) => void): KubeApi | undefined {
  try {
    const kc = loadKubeConfig({
      context: flags.context ?? (process.env[ENV.kubeContext] || undefined),
      kubeconfig: flags.kubeconfig,
    });
    return createKubeApi(kc, {
      namespace: flags.namespace ?? (process.env[ENV.k8sNamespace] || DEFAULT_NAMESPACE),
      requestTimeoutMs: 5000,
    });
  } catch (error) {
    const message = errorMessage(error);
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT"; // KUBECONFIG names no file
    note(
      missing || message.startsWith("no Kubernetes cluster configured")
        ? "no Kubernetes configured; step log from Postgres"
        : `Kubernetes configuration not usable (${message}); step log from Postgres`,
    );
    return undefined;
  }
}
