import type { Command } from "commander";
import { DLQ_NAME, ENV, MAX_RECEIVE_COUNT, QUEUE_NAME } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { loadQueueConfig } from "../../core/config.js";
import { checkQueues, type QueueCheck } from "../../queue/check.js";
import { createSqsClient, loadSqsConnection } from "../../queue/client.js";
import { ensureQueues, findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { getQueueStats } from "../../queue/stats.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine, SQS_CONNECTION } from "../env-help.js";
import { CliError } from "../errors.js";
import { commandSettings, settingOption } from "../settings.js";
import { printJson, renderTable } from "../shared.js";

const CONNECTION_HELP = envHelp(SQS_CONNECTION);

export function register(program: Command): void {
  const queue = program.command("queue").description(COMMAND_LIST.queue.summary);
  registerEnsure(queue);
  registerCheck(queue);
  registerStats(queue);
}

/** `khctl queue ensure` */
function registerEnsure(queue: Command): void {
  queue
    .command("ensure")
    .description(
      `create ${QUEUE_NAME} and ${DLQ_NAME} (RedrivePolicy maxReceiveCount ${MAX_RECEIVE_COUNT}) if missing, or set their attributes; print both URLs`,
    )
    .addOption(settingOption(FLAG_SETTINGS.queueVisibilitySeconds))
    .option("--json", "print {queueUrl, deadLetterQueueUrl, deadLetterQueueArn} as JSON")
    .addHelpText(
      "after",
      `${CONNECTION_HELP}

Attributes set explicitly: VisibilityTimeout 60, MessageRetentionPeriod 4 days (DLQ: 14 days),
ReceiveMessageWaitTimeSeconds 20, RedrivePolicy to the DLQ after ${MAX_RECEIVE_COUNT} receives. Idempotent.`,
    )
    .action(async (flags: { json?: boolean }, self: Command) => {
      const { visibilityTimeoutSeconds } = commandSettings(self, {
        visibilityTimeoutSeconds: FLAG_SETTINGS.queueVisibilitySeconds,
      });
      const sqs = createSqsClient(loadSqsConnection());
      try {
        const queues = await ensureQueues(sqs, { visibilityTimeoutSeconds });
        if (flags.json) printJson(queues);
        else {
          console.log(`queue  ${queues.queueUrl}`);
          console.log(`dlq    ${queues.deadLetterQueueUrl}`);
          console.log(`\nexport ${ENV.sqsQueueUrl}=${queues.queueUrl}`);
        }
      } finally {
        sqs.destroy();
      }
    });
}

/** `khctl queue check` (read-only) */
function registerCheck(queue: Command): void {
  queue
    .command("check")
    .description(
      `read-only: whether ${QUEUE_NAME} and ${DLQ_NAME} exist (LocalStack keeps none across a restart); exit 1 when one is missing or SQS does not answer`,
    )
    .addOption(settingOption(FLAG_SETTINGS.queueCheckTimeoutSeconds))
    .option(
      "--json",
      "print {endpoint, reachable, error?, queues: [{name, url}]} (url null when missing) as JSON",
    )
    .addHelpText(
      "after",
      `${CONNECTION_HELP}\n\n\`pulumi up\` runs this on every preview and update, and re-creates missing queues.`,
    )
    .action(async (flags: { json?: boolean }, self: Command) => {
      const { timeoutSeconds } = commandSettings(self, {
        timeoutSeconds: FLAG_SETTINGS.queueCheckTimeoutSeconds,
      });
      const timeoutMs = timeoutSeconds * 1000;
      const connection = loadSqsConnection();
      const sqs = createSqsClient(connection);
      let report: QueueCheck;
      try {
        report = await checkQueues(sqs, connection.endpoint, [QUEUE_NAME, DLQ_NAME], timeoutMs);
      } finally {
        sqs.destroy();
      }
      if (flags.json) printJson(report);
      else if (report.reachable) {
        for (const q of report.queues) console.log(q.url ? `present  ${q.url}` : `missing  ${q.name}`);
      }
      const where = connection.endpoint ?? "AWS";
      if (!report.reachable) throw new CliError(`SQS at ${where} does not answer: ${report.error}`);
      const missing = report.queues.filter((q) => !q.url).map((q) => q.name);
      if (missing.length > 0) {
        throw new CliError(
          `missing at ${where}: ${missing.join(", ")}; create them with \`khctl queue ensure\``,
        );
      }
    });
}

/** `khctl queue stats` */
function registerStats(queue: Command): void {
  queue
    .command("stats")
    .description("approximate depths: visible, in flight (received, not deleted), delayed, and the DLQ")
    .option("--json", "print the numbers as JSON")
    .addHelpText(
      "after",
      envHelp([
        foundLine(ENV.sqsQueueUrl, "the queue; its DLQ is found from its RedrivePolicy"),
        ...SQS_CONNECTION,
      ]),
    )
    .action(async (flags: { json?: boolean }) => {
      const config = loadQueueConfig();
      const sqs = createSqsClient(config);
      try {
        const dlq = await findDeadLetterQueueUrl(sqs, config.queueUrl);
        const stats = await getQueueStats(sqs, config.queueUrl, dlq);
        if (flags.json) printJson({ queueUrl: config.queueUrl, deadLetterQueueUrl: dlq ?? null, ...stats });
        else {
          console.log(
            renderTable(
              ["queue", "visible", "in flight", "delayed"],
              [[config.queueUrl, stats.visible, stats.inFlight, stats.delayed]],
            ),
          );
          console.log(
            dlq ? `dead-letter queue: ${stats.deadLetter} message(s)  (${dlq})` : "no dead-letter queue",
          );
        }
      } finally {
        sqs.destroy();
      }
    });
}
