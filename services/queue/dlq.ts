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

/** Receives up to `max` messages (hidden for `visibility` seconds), or until those received are `enough`. */
async function receiveUpTo(
  sqs: SQSClient,
  queueUrl: string,
  max: number,
  visibility: number,
  enough: (received: readonly Message[]) => boolean = () => false,
): Promise<Message[]> {
  const messages: Message[] = [];
  while (messages.length < max && !enough(messages)) {
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
 * Receives the DLQ's messages, up to `max`, ten at a time, and does `act` to each (it must remove it from
 * the DLQ); returns their ids. Redrive all and purge.
 */
async function drain(
  sqs: SQSClient,
  dlqUrl: string,
  max: number,
  act: (message: Message) => Promise<void>,
): Promise<string[]> {
  const done: string[] = [];
  while (done.length < max) {
    const batch = await receiveUpTo(sqs, dlqUrl, Math.min(10, max - done.length), PEEK_VISIBILITY_SECONDS);
    if (batch.length === 0) break;
    for (const message of batch) {
      await act(message);
      done.push(message.MessageId ?? "");
    }
  }
  return done;
}

/**
 * Looks through up to `max` DLQ messages for those with the given ids (stopping once all are found), does
 * `act` to each of them and makes every other one visible again at once. Returns the ids acted on, in the
 * order found; an id not there (moved or deleted meanwhile, or past the first `max`) is not among them.
 */
async function actOnSelected(
  sqs: SQSClient,
  dlqUrl: string,
  messageIds: readonly string[],
  max: number,
  act: (message: Message) => Promise<void>,
): Promise<string[]> {
  const wanted = new Set(messageIds);
  const isWanted = (message: Message) => wanted.has(message.MessageId ?? "");
  const seen = await receiveUpTo(
    sqs,
    dlqUrl,
    max,
    PEEK_VISIBILITY_SECONDS,
    (received) => received.filter(isWanted).length >= wanted.size,
  );
  const done: string[] = [];
  try {
    for (const message of seen.filter(isWanted)) {
      if (done.includes(message.MessageId ?? "")) continue; // a duplicate delivery of one already handled
      await act(message);
      done.push(message.MessageId ?? "");
    }
  } finally {
    await release(
      sqs,
      dlqUrl,
      seen.filter((message) => !isWanted(message)),
    );
  }
  return done;
}

const deleteFrom = (sqs: SQSClient, dlqUrl: string) => async (message: Message) => {
  await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: message.ReceiptHandle }));
};

/**
 * Moves up to `max` messages from the DLQ back to the queue (body and attributes unchanged): send first,
 * then delete, so a failure in between can only duplicate, never lose. Returns the moved message ids.
 */
export function redriveDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  max = 1000,
): Promise<string[]> {
  return drain(sqs, dlqUrl, max, (message) => moveBack(sqs, message, dlqUrl, queueUrl));
}

/**
 * Moves the DLQ messages with these ids back to the queue, as redriveDeadLetters does, leaving the others
 * where they are: looks through up to `max` messages for them. Returns the ids moved.
 */
export function redriveSelectedDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  messageIds: readonly string[],
  max = 1000,
): Promise<string[]> {
  return actOnSelected(sqs, dlqUrl, messageIds, max, (message) => moveBack(sqs, message, dlqUrl, queueUrl));
}

/** Moves the DLQ message `messageId` back to the queue; false when it is not there (see above). */
export async function redriveDeadLetter(
  sqs: SQSClient,
  dlqUrl: string,
  queueUrl: string,
  messageId: string,
  max = 1000,
): Promise<boolean> {
  return (await redriveSelectedDeadLetters(sqs, dlqUrl, queueUrl, [messageId], max)).length > 0;
}

/**
 * Deletes the DLQ messages with these ids for good, leaving the others: looks through up to `max`
 * messages for them. Returns the ids deleted.
 */
export function deleteDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  messageIds: readonly string[],
  max = 1000,
): Promise<string[]> {
  return actOnSelected(sqs, dlqUrl, messageIds, max, deleteFrom(sqs, dlqUrl));
}

/**
 * Deletes up to `max` messages of the DLQ for good, those visible now (one being looked at elsewhere is
 * left). Received and deleted one by one rather than SQS's PurgeQueue, which runs once a minute, may take
 * that long, and says nothing of what it removed; this returns the ids deleted.
 */
export function purgeDeadLetters(sqs: SQSClient, dlqUrl: string, max = 1000): Promise<string[]> {
  return drain(sqs, dlqUrl, max, deleteFrom(sqs, dlqUrl));
}
