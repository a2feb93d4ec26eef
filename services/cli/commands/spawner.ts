import { type Command, Option } from "commander";
import { ENV, SPAWNER_HEALTH } from "../../contracts/names.js";
import { JOB_SETTINGS, SPAWNER_SETTINGS, STALE_RUN_SETTINGS } from "../../contracts/settings.js";
import { loadDatabaseConfig, loadKubernetesConfig, loadQueueConfig } from "../../core/config.js";
import { loadKubeConfig } from "../../core/kube-config.js";
import { holdStopSignals, runUntilStopped } from "../../core/lifecycle.js";
import { createLogger } from "../../core/logger.js";
import { createPool } from "../../db/pool.js";
import { staleRunPolicy } from "../../db/stale-run-policy.js";
import { createSqsClient } from "../../queue/client.js";
import { prepareConsumerQueues } from "../../queue/ensure.js";
import { resolveRunnerTimeouts } from "../../runner/timeouts.js";
import { createKubeApi } from "../../spawner/kube.js";
import { startSpawnerService } from "../../spawner/service.js";
import { COMMAND_LIST } from "../command-list.js";
import { QUEUE_RESTORE_HELP } from "../env-help.js";
import { addSettingOptions, commandSettings } from "../settings.js";

const pad = (name: string) => name.padEnd(27);

const HELP = `
Environment (a flag overrides its variable, shown with each flag above):
  ${pad(ENV.databaseUrl)} (required) postgres:// URL of the KeeperHub database
  ${pad(ENV.sqsQueueUrl)} (required) the workflow queue (khctl queue ensure prints it)
  ${pad(ENV.awsEndpointUrl)} SQS endpoint (LocalStack, fauxqs); unset = AWS
  ${pad(ENV.awsRegion)} default us-east-1
  ${ENV.awsAccessKeyId}, ${ENV.awsSecretAccessKey}   default test/test against an endpoint
  ${pad(ENV.runnerImage)} (required) keeperhub-runner:<content tag> (never :latest)
  ${pad(ENV.k8sNamespace)} namespace of the runner Jobs, default local
  ${pad(ENV.runnerNodeSelector)} key=value,... nodeSelector of the runner pods; unset = any node
${Object.values(JOB_SETTINGS)
  .map((setting) => `  ${pad(setting.env)} ${setting.summary}, default ${setting.default}`)
  .join("\n")}
  ${pad(ENV.kubeContext)} --context (outside a cluster)
  ${pad("KUBECONFIG")} kubeconfig file(s), as kubectl reads them; --kubeconfig picks one file
  ${pad(ENV.logLevel)} default info (JSON logs on stderr in a pod)

Kubernetes: in a pod (KUBERNETES_SERVICE_HOST set) the in-cluster service account is used unless
--context/--kubeconfig is given; elsewhere the kubeconfig and its current context.

Stale runs (the reconciler, every --reconcile-interval seconds): a pending or running execution with no
runner Job, overdue by the same policy as the executor's (the run timeout, JOB_ACTIVE_DEADLINE - 10, plus
--lost-run-grace; --pending-limit after its message was sent), is recorded as error.

HTTP (one port): ${SPAWNER_HEALTH.livenessPath} (alive), ${SPAWNER_HEALTH.readinessPath} (queue and Kubernetes API reachable;
503 while stopping), /metrics (Prometheus).

${QUEUE_RESTORE_HELP}

SIGTERM/SIGINT: stop receiving, let in-flight Job creates finish (up to --shutdown-timeout), exit 0.
A second signal releases them at once.`;

export function register(program: Command): void {
  const command = program
    .command("spawner")
    .description(COMMAND_LIST.spawner.summary)
    .addOption(new Option("--context <name>", "kubeconfig context to use").env(ENV.kubeContext))
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config)");
  addSettingOptions(command, SPAWNER_SETTINGS);
  addSettingOptions(command, STALE_RUN_SETTINGS)
    .addHelpText("after", HELP)
    .action(async (flags: { context?: string; kubeconfig?: string }, self: Command) => {
      holdStopSignals();
      // Validate everything before connecting to anything: one clear line for the first bad setting.
      const settings = {
        ...commandSettings(self, SPAWNER_SETTINGS),
        ...commandSettings(self, STALE_RUN_SETTINGS),
      };
      const { databaseUrl } = loadDatabaseConfig();
      const queue = loadQueueConfig();
      const kubernetes = loadKubernetesConfig();
      const { runTimeoutMs } = resolveRunnerTimeouts(process.env);
      const logger = createLogger("job-spawner");

      const kc = loadKubeConfig({ context: flags.context, kubeconfig: flags.kubeconfig });
      const kube = createKubeApi(kc, {
        namespace: kubernetes.namespace,
        requestTimeoutMs: settings.requestTimeoutMs,
      });
      const pool = createPool(databaseUrl, { applicationName: "job-spawner" });
      const sqs = createSqsClient({ endpoint: queue.endpoint, region: queue.region });
      const { deadLetterQueueUrl } = await prepareConsumerQueues(sqs, queue.queueUrl, logger);

      const service = await startSpawnerService(
        { db: pool, sqs, queueUrl: queue.queueUrl, deadLetterQueueUrl, kube, config: kubernetes, logger },
        {
          port: settings.port,
          concurrency: settings.concurrency,
          reconcileIntervalMs: settings.reconcileIntervalSeconds * 1000,
          stuckPullLimitMs: settings.stuckPullLimitSeconds * 1000,
          staleRunPolicy: staleRunPolicy({ runTimeoutMs, ...settings }),
        },
      );
      try {
        await runUntilStopped(service, {
          shutdownTimeoutMs: settings.shutdownTimeoutSeconds * 1000,
          say: (line) => logger.info(line),
        });
      } finally {
        sqs.destroy();
        await pool.end();
        logger.flush();
      }
    });
}
