import type { Command } from "commander";
import { DEFAULT_NAMESPACE, ENV } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { loadKubeConfig } from "../../core/kube-config.js";
import { createKubeApi, type KubeApi } from "../../spawner/kube.js";
import { ExecutionNotFoundError, showExecutionLogs } from "../../spawner/logs.js";
import { COMMAND_LIST } from "../command-list.js";
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
      `
Environment:
  ${ENV.databaseUrl}    (required) the step log and the execution's status
  ${ENV.k8sNamespace}   namespace of the runner Jobs (default ${DEFAULT_NAMESPACE})
  KUBE_CONTEXT, KUBECONFIG   which cluster; in a pod, the in-cluster service account

With no cluster configured, or when the Job is gone (JOB_TTL_SECONDS after it finished), the step log
from Postgres is shown instead; a note on stderr says which source you are reading.`,
    )
    .action(async (executionId: string, flags: LogsFlags) => {
      let kube: KubeApi | undefined;
      const note = (line: string) => process.stderr.write(`khctl: ${line}\n`);
      try {
        const kc = loadKubeConfig({
          context: flags.context ?? (process.env[ENV.kubeContext] || undefined),
          kubeconfig: flags.kubeconfig,
        });
        kube = createKubeApi(kc, {
          namespace: flags.namespace ?? (process.env[ENV.k8sNamespace] || DEFAULT_NAMESPACE),
          requestTimeoutMs: 5000,
        });
      } catch (error) {
        note(`no Kubernetes cluster (${errorMessage(error)}); showing the step log from Postgres`);
      }
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await withDatabase((pool) =>
          showExecutionLogs({ db: pool, kube, out: process.stdout, note }, executionId, {
            follow: flags.follow,
            signal: stop.signal,
          }),
        );
      } catch (error) {
        if (error instanceof ExecutionNotFoundError) throw new CliError(error.message);
        throw error;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
