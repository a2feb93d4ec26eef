import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

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

async function receiveUpTo(
  sqs: SQSClient,
  queueUrl: string,
  max: number,
  visibility: number,
): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < max) {
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

/** Lists up to `max` DLQ messages without removing them (they are made visible again at once). */
export async function listDeadLetters(sqs: SQSClient, dlqUrl: string, max = 50): Promise<DeadLetter[]> {
  const messages = await receiveUpTo(sqs, dlqUrl, max, PEEK_VISIBILITY_SECONDS);
  for (let start = 0; start < messages.length; start += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: dlqUrl,
        Entries: messages.slice(start, start + 10).map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return messages.map(toDeadLetter);
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
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: message.Body ?? "",
          ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
        }),
      );
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle }));
      moved.push(message.MessageId ?? "");
    }
    if (moved.length >= max) break;
  }
  return moved;
}
