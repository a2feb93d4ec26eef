import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { MESSAGE_ATTRIBUTES, type WorkflowMessage, workflowMessageSchema } from "../contracts/message.js";
import { backoffMs, sleep } from "../core/backoff.js";
import { errorMessage } from "../core/errors.js";
import { SQS_MAX_ATTEMPTS } from "./client.js";
import { isMissingQueueError, restoreQueues, targetsEmulator } from "./ensure.js";

/** SQS accepts at most 10 entries per SendMessageBatch. */
export const SEND_BATCH_SIZE = 10;

export interface SendOptions {
  /** Attempts per entry (the first send included) before it is reported failed. Default 4. */
  readonly maxAttempts?: number;
  /** First retry delay ceiling, ms (exponential with full jitter). Default 100. */
  readonly retryBaseMs?: number;
}

export interface SendFailure {
  readonly message: WorkflowMessage;
  readonly error: string;
}

export interface SendResult {
  /** Messages SQS accepted, in input order. */
  readonly sent: WorkflowMessage[];
  readonly failed: SendFailure[];
}

/** Validates a message against the contract; throws naming the bad field. */
export function validateMessage(message: WorkflowMessage): WorkflowMessage {
  const result = workflowMessageSchema.safeParse(message);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid workflow message: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
  }
  return result.data;
}

export function messageAttributes(message: WorkflowMessage): Record<string, MessageAttributeValue> {
  return {
    [MESSAGE_ATTRIBUTES.triggerType]: { DataType: "String", StringValue: message.triggerType },
    [MESSAGE_ATTRIBUTES.workflowId]: { DataType: "String", StringValue: message.workflowId },
  };
}

/**
 * Whether a send that failed with `error` is worth repeating at once: the queue was gone (LocalStack
 * restarted) and is there again, created by restoreQueues here or by another sender meanwhile. A failed
 * restore leaves the send's own error to report.
 */
async function restoredAfter(sqs: SQSClient, queueUrl: string, error: unknown): Promise<boolean> {
  if (!isMissingQueueError(error) || !targetsEmulator(sqs)) return false;
  return restoreQueues(sqs, queueUrl).then(
    () => true,
    () => false,
  );
}

/** Sends one workflow message; returns the SQS MessageId. A queue that is gone is created again first. */
export async function sendWorkflowMessage(
  sqs: SQSClient,
  queueUrl: string,
  message: WorkflowMessage,
): Promise<string> {
  const valid = validateMessage(message);
  const send = () =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(valid),
        MessageAttributes: messageAttributes(valid),
      }),
    );
  try {
    return (await send()).MessageId ?? "";
  } catch (error) {
    if (!(await restoredAfter(sqs, queueUrl, error))) throw error;
    return (await send()).MessageId ?? "";
  }
}

/**
 * Sends messages with SendMessageBatch, 10 at a time. Entries SQS refused are retried with backoff and
 * jitter (a whole call that failed was retried by the SDK already, queue/client.ts); after maxAttempts
 * (default SQS_MAX_ATTEMPTS) they are reported in `failed` instead of thrown, so the caller can keep them
 * for a later retry (the dispatcher's outbox). A queue that is gone (LocalStack restarted) is created again
 * (restoreQueues) and the batch retried. Invalid messages throw before any send.
 */
export async function sendWorkflowMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly WorkflowMessage[],
  options: SendOptions = {},
): Promise<SendResult> {
  const valid = messages.map(validateMessage);
  const maxAttempts = options.maxAttempts ?? SQS_MAX_ATTEMPTS;
  const ok = new Set<number>();
  const errors = new Map<number, string>();
  const batches: number[][] = [];
  for (let start = 0; start < valid.length; start += SEND_BATCH_SIZE) {
    batches.push(valid.slice(start, start + SEND_BATCH_SIZE).map((_, offset) => start + offset));
  }
  await Promise.all(
    batches.map(async (batch) => {
      let pending = batch;
      for (let attempt = 0; attempt < maxAttempts && pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt - 1, { baseMs: options.retryBaseMs ?? 100 }));
        const entries: SendMessageBatchRequestEntry[] = pending.map((index) => {
          const message = valid[index] as WorkflowMessage;
          return {
            Id: String(index),
            MessageBody: JSON.stringify(message),
            MessageAttributes: messageAttributes(message),
          };
        });
        try {
          const result = await sqs.send(
            new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
          );
          for (const entry of result.Successful ?? []) ok.add(Number(entry.Id));
          for (const entry of result.Failed ?? []) {
            errors.set(Number(entry.Id), `${entry.Code}: ${entry.Message ?? "rejected"}`);
          }
          // SenderFault entries (bad input) will fail again: stop retrying them.
          const senderFaults = new Set(
            (result.Failed ?? []).filter((f) => f.SenderFault).map((f) => Number(f.Id)),
          );
          pending = pending.filter((index) => !ok.has(index) && !senderFaults.has(index));
        } catch (error) {
          for (const index of pending) errors.set(index, errorMessage(error));
          // The SDK already retried the call (queue/client.ts): it stays failed until the next send, unless
          // the queue was gone and is there again now.
          if (!(await restoredAfter(sqs, queueUrl, error))) pending = [];
        }
      }
    }),
  );
  const sent: WorkflowMessage[] = [];
  const failed: SendFailure[] = [];
  valid.forEach((message, index) => {
    if (ok.has(index)) sent.push(message);
    else failed.push({ message, error: errors.get(index) ?? "not sent" });
  });
  return { sent, failed };
}
