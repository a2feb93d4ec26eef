import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";

export interface QueueStats {
  /** Messages waiting to be received (ApproximateNumberOfMessages). */
  readonly visible: number;
  /** Messages received and not yet deleted (ApproximateNumberOfMessagesNotVisible). */
  readonly inFlight: number;
  /** Messages sent with a delay that are not yet visible. */
  readonly delayed: number;
  /** Messages in the dead-letter queue; null when there is none. */
  readonly deadLetter: number | null;
}

async function depths(sqs: SQSClient, queueUrl: string): Promise<Record<string, string>> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return Attributes ?? {};
}

/** Approximate depths of the queue and its DLQ (SQS counts are eventually consistent). */
export async function getQueueStats(
  sqs: SQSClient,
  queueUrl: string,
  deadLetterQueueUrl?: string,
): Promise<QueueStats> {
  const [main, dlq] = await Promise.all([
    depths(sqs, queueUrl),
    deadLetterQueueUrl ? depths(sqs, deadLetterQueueUrl) : undefined,
  ]);
  const count = (value: string | undefined) => Number(value ?? 0);
  return {
    visible: count(main.ApproximateNumberOfMessages),
    inFlight: count(main.ApproximateNumberOfMessagesNotVisible),
    delayed: count(main.ApproximateNumberOfMessagesDelayed),
    deadLetter: dlq
      ? count(dlq.ApproximateNumberOfMessages) + count(dlq.ApproximateNumberOfMessagesNotVisible)
      : null,
  };
}
