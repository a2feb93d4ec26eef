import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { loadQueueConfig } from "../../core/config.js";
import { createSqsClient } from "../../queue/client.js";
import { listDeadLetters, redriveDeadLetter, redriveDeadLetters } from "../../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { COMMAND_LIST } from "../command-list.js";
import { envHelp, foundLine, SQS_CONNECTION } from "../env-help.js";
import { CliError } from "../errors.js";
import { commandSettings, settingOption } from "../settings.js";
import { printJson, renderTable } from "../shared.js";

const HELP = envHelp([
  foundLine(ENV.sqsQueueUrl, "the workflow queue; its DLQ is found from its RedrivePolicy"),
  ...SQS_CONNECTION,
]);

async function withDeadLetterQueue<T>(
  fn: (sqs: ReturnType<typeof createSqsClient>, queueUrl: string, dlqUrl: string) => Promise<T>,
): Promise<T> {
  const config = loadQueueConfig();
  const sqs = createSqsClient(config);
  try {
    const dlqUrl = await findDeadLetterQueueUrl(sqs, config.queueUrl);
    if (!dlqUrl) throw new CliError(`queue ${config.queueUrl} has no RedrivePolicy (run khctl queue ensure)`);
    return await fn(sqs, config.queueUrl, dlqUrl);
  } finally {
    sqs.destroy();
  }
}

const shorten = (text: string, max = 70) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function register(program: Command): void {
  const dlq = program.command("dlq").description(COMMAND_LIST.dlq.summary);

  dlq
    .command("list")
    .description("show the messages in the DLQ without removing them")
    .addOption(settingOption(FLAG_SETTINGS.dlqListMax))
    .option("--json", "print them as JSON")
    .addHelpText("after", HELP)
    .action(async (flags: { json?: boolean }, self: Command) => {
      const { max } = commandSettings(self, { max: FLAG_SETTINGS.dlqListMax });
      await withDeadLetterQueue(async (sqs, _queueUrl, dlqUrl) => {
        const letters = await listDeadLetters(sqs, dlqUrl, max);
        if (flags.json) printJson(letters);
        else if (letters.length === 0) console.log("The dead-letter queue is empty.");
        else {
          console.log(
            renderTable(
              ["message id", "first sent", "receives", "body"],
              letters.map((l) => [l.messageId, l.sentAt, l.receiveCount, shorten(l.body)]),
            ),
          );
        }
      });
    });

  dlq
    .command("redrive")
    .description("move messages from the DLQ back to the queue, to be handled again (after a fix)")
    .addOption(settingOption(FLAG_SETTINGS.dlqRedriveMax))
    .option("--message <messageId>", "only this message (its id, as `khctl dlq list` shows it)")
    .option("--json", "print {moved: [messageId…]} as JSON")
    .addHelpText(
      "after",
      `${HELP}

--message moves one message: the DLQ is looked through (up to --max messages) for it.
Each message is sent to the queue before it is deleted from the DLQ: an interruption can duplicate one,
never lose one (the runner's claim makes a duplicate harmless).`,
    )
    .action(async (flags: { json?: boolean; message?: string }, self: Command) => {
      const { max } = commandSettings(self, { max: FLAG_SETTINGS.dlqRedriveMax });
      await withDeadLetterQueue(async (sqs, queueUrl, dlqUrl) => {
        const moved = flags.message
          ? await redriveOne(sqs, dlqUrl, queueUrl, flags.message, max)
          : await redriveDeadLetters(sqs, dlqUrl, queueUrl, max);
        if (flags.json) printJson({ moved });
        else console.log(`Moved ${moved.length} message(s) back to the queue.`);
      });
    });
}

async function redriveOne(
  sqs: ReturnType<typeof createSqsClient>,
  dlqUrl: string,
  queueUrl: string,
  messageId: string,
  max: number,
): Promise<string[]> {
  if (await redriveDeadLetter(sqs, dlqUrl, queueUrl, messageId, max)) return [messageId];
  throw new CliError(`message ${messageId} is not in the dead-letter queue (khctl dlq list shows what is)`);
}
