import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { FLAG_SETTINGS } from "../../contracts/settings.js";
import { loadQueueConfig } from "../../core/config.js";
import { createSqsClient } from "../../queue/client.js";
import {
  deleteDeadLetters,
  listDeadLetters,
  purgeDeadLetters,
  redriveDeadLetters,
  redriveSelectedDeadLetters,
} from "../../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../../queue/ensure.js";
import { getQueueStats } from "../../queue/stats.js";
import { COMMAND_LIST } from "../command-list.js";
import { confirm } from "../confirm.js";
import { envHelp, foundLine, SQS_CONNECTION } from "../env-help.js";
import { CliError } from "../errors.js";
import { commandSettings, settingOption } from "../settings.js";
import { printJson, renderTable } from "../shared.js";

const HELP = envHelp([
  foundLine(ENV.sqsQueueUrl, "the workflow queue; its DLQ is found from its RedrivePolicy"),
  ...SQS_CONNECTION,
]);

async function withDeadLetterQueue<T>(
  fn: (sqs: Sqs, queueUrl: string, dlqUrl: string) => Promise<T>,
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

  registerRedrive(dlq);
  registerDelete(dlq);
  registerPurge(dlq);
}

type Sqs = ReturnType<typeof createSqsClient>;

function registerRedrive(dlq: Command): void {
  dlq
    .command("redrive")
    .description("move messages from the DLQ back to the queue, to be handled again (after a fix)")
    .addOption(settingOption(FLAG_SETTINGS.dlqRedriveMax))
    .option("--message <messageId...>", "only these messages (their ids, as `khctl dlq list` shows them)")
    .option("--json", "print {moved: [messageId…]} as JSON")
    .addHelpText(
      "after",
      `${HELP}

--message moves only the messages named: the DLQ is looked through (up to --max messages) for them.
Each message is sent to the queue before it is deleted from the DLQ: an interruption can duplicate one,
never lose one (the runner's claim makes a duplicate harmless).`,
    )
    .action(async (flags: { json?: boolean; message?: string[] }, self: Command) => {
      const { max } = commandSettings(self, { max: FLAG_SETTINGS.dlqRedriveMax });
      await withDeadLetterQueue(async (sqs, queueUrl, dlqUrl) => {
        const moved = flags.message
          ? await allFound(flags.message, () =>
              redriveSelectedDeadLetters(sqs, dlqUrl, queueUrl, flags.message ?? [], max),
            )
          : await redriveDeadLetters(sqs, dlqUrl, queueUrl, max);
        if (flags.json) printJson({ moved });
        else console.log(`Moved ${moved.length} message(s) back to the queue.`);
      });
    });
}

function registerDelete(dlq: Command): void {
  dlq
    .command("delete")
    .description("delete messages from the DLQ for good (their runs are not retried)")
    .requiredOption(
      "--message <messageId...>",
      "the messages to delete (their ids, as `khctl dlq list` shows them)",
    )
    .addOption(settingOption(FLAG_SETTINGS.dlqRedriveMax))
    .option("--yes", "delete without asking (needed when there is no terminal to ask on)")
    .option("--json", "print {deleted: [messageId…]} as JSON")
    .addHelpText(
      "after",
      `${HELP}

The DLQ is looked through (up to --max messages) for the messages named; the others stay.
On a terminal it asks first; otherwise it needs --yes (exit 2 without it). Exit 1 if one was not there.`,
    )
    .action(async (flags: { json?: boolean; message: string[]; yes?: boolean }, self: Command) => {
      const { max } = commandSettings(self, { max: FLAG_SETTINGS.dlqRedriveMax });
      const question = `Delete ${flags.message.length} message(s) from the dead-letter queue for good?`;
      if (!(await confirm(question, flags))) throw new CliError("nothing deleted");
      await withDeadLetterQueue(async (sqs, _queueUrl, dlqUrl) => {
        const deleted = await allFound(flags.message, () =>
          deleteDeadLetters(sqs, dlqUrl, flags.message, max),
        );
        if (flags.json) printJson({ deleted });
        else console.log(`Deleted ${deleted.length} message(s) from the dead-letter queue.`);
      });
    });
}

function registerPurge(dlq: Command): void {
  dlq
    .command("purge")
    .description("delete every message in the DLQ for good (their runs are not retried)")
    .addOption(settingOption(FLAG_SETTINGS.dlqRedriveMax))
    .option("--yes", "purge without asking (needed when there is no terminal to ask on)")
    .option("--json", "print {deleted: n} as JSON")
    .addHelpText(
      "after",
      `${HELP}

Deletes up to --max messages, those visible now (one being looked at elsewhere stays), one by one, so it
says how many went (SQS's PurgeQueue runs once a minute and says nothing). On a terminal it asks first;
otherwise it needs --yes (exit 2 without it).`,
    )
    .action(async (flags: { json?: boolean; yes?: boolean }, self: Command) => {
      const { max } = commandSettings(self, { max: FLAG_SETTINGS.dlqRedriveMax });
      await withDeadLetterQueue(async (sqs, _queueUrl, dlqUrl) => {
        const { visible } = await getQueueStats(sqs, dlqUrl);
        const question = `Delete all ${visible} message(s) of the dead-letter queue for good?`;
        if (!(await confirm(question, flags))) throw new CliError("nothing deleted");
        const deleted = await purgeDeadLetters(sqs, dlqUrl, max);
        if (flags.json) printJson({ deleted: deleted.length });
        else console.log(`Purged the dead-letter queue: ${deleted.length} message(s) deleted.`);
      });
    });
}

/** Runs a selected-message action; when some named message was not there, says which (exit 1), after. */
async function allFound(named: readonly string[], act: () => Promise<string[]>): Promise<string[]> {
  const done = await act();
  const missing = [...new Set(named)].filter((id) => !done.includes(id));
  if (missing.length === 0) return done;
  const did = done.length ? ` (the other ${done.length} were handled)` : "";
  throw new CliError(
    `message ${missing.join(", ")} is not in the dead-letter queue${did}: khctl dlq list shows what is`,
  );
}
