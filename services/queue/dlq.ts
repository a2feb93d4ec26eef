import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { getQueueStats } from "./stats.js";

export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  /** Receives so far (ApproximateReceiveCount, including those on the main queue). */
  readonly receiveCount: number;
  /** When it was first sent, ISO-8601. */
  readonly sentAt: string | null;
}

/** How long listed messages stay hidden while we page through the DLQ, seconds; they are released after. */
const PEEK_VISIBILITY_SECONDS = 30;

/** Receives up to `max` messages (hidden for `visibility` seconds), or until one satisfies `enough`. */
async function receiveUpTo(
  sqs: SQSClient,
  queueUrl: string,
  max: number,
  visibility: number,
  enough: (message: Message) => boolean = () => false,
): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < max && !messages.some(enough)) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - messages.length),
        WaitTimeSeconds: 1,
        VisibilityTimeout: visibility,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) break;
    messages.push(...Messages);
  }
  return messages;
}

const toDeadLetter = (message: Message): DeadLetter => ({
  messageId: message.MessageId ?? "",
  body: message.Body ?? "",
  receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
  sentAt: message.Attributes?.SentTimestamp
    ? new Date(Number(message.Attributes.SentTimestamp)).toISOString()
    : null,
});

/** Makes received messages visible again at once (they were only looked at). */
async function release(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(start, start + 10).map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/**
 * Lists up to `max` DLQ messages without removing them (they are made visible again at once). It asks for
 * no more than the DLQ's count of visible messages: past that, a receive would only wait its second out
 * (an empty DLQ is not polled at all), and `khctl status`, the console's Health and Queue pages ask on every
 * call. (AWS's count can lag a message that arrived in the last moments; the next look shows it.)
 */
export async function listDeadLetters(sqs: SQSClient, dlqUrl: string, max = 50): Promise<DeadLetter[]> {
  const wanted = Math.min(max, (await getQueueStats(sqs, dlqUrl)).visible);
  if (wanted === 0) return [];
  const messages = await receiveUpTo(sqs, dlqUrl, wanted, PEEK_VISIBILITY_SECONDS);
  await release(sqs, dlqUrl, messages);
  return messages.map(toDeadLetter);
}

/** Sends one message back to the queue (body and attributes unchanged), then deletes it from the DLQ. */
async function moveBack(sqs: SQSClient, message: Message, dlqUrl: string, queueUrl: string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: message.Body ?? "",
      ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
    }),
  );
  await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle }));
}

/** Ids of the executions whose messages sit in the DLQ (the first `max` messages, peeked, not removed). */
export async function deadLetteredExecutions(sqs: SQSClient, dlqUrl: string, max = 100): Promise<string[]> {
  const ids: string[] = [];
  for (const letter of await listDeadLetters(sqs, dlqUrl, max)) {
    try {
      const { executionId } = JSON.parse(letter.body) as { executionId?: unknown };
      if (typeof executionId === "string") ids.push(executionId);
    } catch {
      // Not a workflow message: nothing to match.
    }
  }
  return ids;
}

/**
 * Moves up to `max` messages from the DLQ back to the queue (body and attributes unchanged): send first,
 * then delete, so a failure in between can only duplicate, never lose. Returns the moved message ids.
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  max = 1000,
): Promise<string[]> {
  const moved: string[] = [];
  for (;;) {
    const batch = await receiveUpTo(sqs, dlqUrl, Math.min(10, max - moved.length), PEEK_VISIBILITY_SECONDS);
    if (batch.length === 0) break;
    for (const message of batch) {
      await moveBack(sqs, message, dlqUrl, queueUrl);
      moved.push(message.MessageId ?? "");
    }
    if (moved.length >= max) break;
  }
  return moved;
}

/**
 * Moves the DLQ message `messageId` back to the queue, as redriveDeadLetters does: looks through up to
 * `max` messages for it (the others are made visible again at once). False when it is not there (moved or
 * redriven meanwhile, or past the first `max`).
 */
export async function redriveDeadLetter(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  messageId: string,
  max = 1000,
): Promise<boolean> {
  const seen = await receiveUpTo(sqs, dlqUrl, max, PEEK_VISIBILITY_SECONDS, (m) => m.MessageId === messageId);
  const wanted = seen.find((message) => message.MessageId === messageId);
  try {
    if (wanted) await moveBack(sqs, wanted, dlqUrl, queueUrl);
  } finally {
    await release(
      sqs,
      dlqUrl,
      seen.filter((message) => message !== wanted),
    );
  }
  return wanted !== undefined;
}
