import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { DLQ_NAME, MAX_RECEIVE_COUNT, QUEUE_NAME } from "../contracts/names.js";

export interface EnsureQueuesOptions {
  /** Main queue name. Default keeperhub-workflow-queue. */
  readonly queueName?: string;
  /** Dead-letter queue name. Default keeperhub-workflow-dlq. */
  readonly deadLetterQueueName?: string;
  /** Seconds a received message stays hidden before redelivery. Default 60 (the consumer's heartbeat extends it). */
  readonly visibilityTimeoutSeconds?: number;
  /** Seconds the main queue keeps a message. Default 345600 (4 days, the SQS default, set explicitly). */
  readonly retentionSeconds?: number;
  /** Seconds the DLQ keeps a message. Default 1209600 (14 days, the SQS maximum: time to look and redrive). */
  readonly deadLetterRetentionSeconds?: number;
  /** Default long-poll wait of receives, seconds (0–20). Default 20. */
  readonly receiveWaitSeconds?: number;
  /** Receives before SQS moves a message to the DLQ. Default 5. */
  readonly maxReceiveCount?: number;
}

export interface EnsuredQueues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly deadLetterQueueArn: string;
}

/** Creates the queue if missing, or brings an existing one's attributes to the wanted values. Returns its URL. */
async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  try {
    const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (created.QueueUrl) return created.QueueUrl;
  } catch (error) {
    // SQS refuses CreateQueue when the queue exists with other attributes: update it instead.
    const { name: code = "", Code = "" } = error as { name?: string; Code?: string };
    if (!/QueueNameExists|QueueAlreadyExists/.test(`${code} ${Code}`)) throw error;
  }
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!QueueUrl) throw new Error(`queue ${name}: GetQueueUrl returned no URL`);
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
  return QueueUrl;
}

/**
 * Creates the workflow queue and its dead-letter queue, idempotently: a second call finds both and sets
 * the same attributes. Every attribute the pipeline relies on is set explicitly, not left to defaults.
 */
export async function ensureQueues(
  sqs: SQSClient,
  options: EnsureQueuesOptions = {},
): Promise<EnsuredQueues> {
  const dlqName = options.deadLetterQueueName ?? DLQ_NAME;
  const deadLetterQueueUrl = await ensureQueue(sqs, dlqName, {
    MessageRetentionPeriod: String(options.deadLetterRetentionSeconds ?? 1_209_600),
  });
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const deadLetterQueueArn = Attributes?.QueueArn;
  if (!deadLetterQueueArn) throw new Error(`queue ${dlqName}: no QueueArn attribute`);
  const queueUrl = await ensureQueue(sqs, options.queueName ?? QUEUE_NAME, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 60),
    MessageRetentionPeriod: String(options.retentionSeconds ?? 345_600),
    ReceiveMessageWaitTimeSeconds: String(options.receiveWaitSeconds ?? 20),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterQueueArn,
      maxReceiveCount: options.maxReceiveCount ?? MAX_RECEIVE_COUNT,
    }),
  });
  return { queueUrl, deadLetterQueueUrl, deadLetterQueueArn };
}

/**
 * The DLQ of a queue, found from its RedrivePolicy (so it works for any queue name);
 * undefined when the queue has no redrive policy.
 */
export async function findDeadLetterQueueUrl(sqs: SQSClient, queueUrl: string): Promise<string | undefined> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["RedrivePolicy"] }),
  );
  if (!Attributes?.RedrivePolicy) return undefined;
  const arn = (JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
  const name = arn?.split(":").pop();
  if (!name) return undefined;
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  return QueueUrl;
}
