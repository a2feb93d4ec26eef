import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { DLQ_NAME, MAX_RECEIVE_COUNT, QUEUE_NAME } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";

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

/** The error SQS (and LocalStack, fauxqs) gives for a queue that does not exist. */
const MISSING_QUEUE = /QueueDoesNotExist|NonExistentQueue/;

/** Whether an SQS error says the queue does not exist (LocalStack keeps no queues across a restart). */
export function isMissingQueueError(error: unknown): boolean {
  const { name = "", Code = "" } = (error ?? {}) as { name?: string; Code?: string };
  return MISSING_QUEUE.test(`${name} ${Code}`);
}

/** The queue a queue URL names: its last path segment. */
export function queueNameOf(queueUrl: string): string {
  const name = new URL(queueUrl).pathname.split("/").filter(Boolean).at(-1);
  if (!name) throw new Error(`${queueUrl} names no queue`);
  return name;
}

/** The dead-letter queue a restored queue gets: keeperhub-workflow-dlq for the workflow queue, else <name>-dlq. */
export function deadLetterQueueNameFor(queueName: string): string {
  return queueName === QUEUE_NAME ? DLQ_NAME : `${queueName}-dlq`;
}

/** Restores in progress, by queue URL: callers that find the queue gone at the same time share one. */
const restoring = new Map<string, Promise<boolean>>();

/**
 * Creates the queue `queueUrl` names and its dead-letter queue again when it does not exist, with the
 * attributes `khctl queue ensure` sets by default (ensureQueues); an existing queue is left as it is.
 * Whoever needs the queue calls this: at start, and on "queue does not exist", so a restarted LocalStack
 * (which keeps no queues) needs no manual step. Only against an emulator (an SQS endpoint is set): on AWS
 * itself a missing queue is a configuration error, never created behind the operator's back. Resolves true
 * when it created them; rejects when SQS cannot be asked.
 */
export function restoreQueues(sqs: SQSClient, queueUrl: string): Promise<boolean> {
  const running = restoring.get(queueUrl);
  if (running) return running;
  const restore = restoreMissing(sqs, queueUrl).finally(() => restoring.delete(queueUrl));
  restoring.set(queueUrl, restore);
  return restore;
}

/** Whether the client talks to an SQS emulator (an endpoint is set), whose missing queues are ours to create. */
export function targetsEmulator(sqs: SQSClient): boolean {
  return (sqs.config as { isCustomEndpoint?: boolean }).isCustomEndpoint === true;
}

async function restoreMissing(sqs: SQSClient, queueUrl: string): Promise<boolean> {
  if (!targetsEmulator(sqs)) return false;
  const queueName = queueNameOf(queueUrl);
  try {
    await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    return false;
  } catch (error) {
    if (!isMissingQueueError(error)) throw error;
  }
  await ensureQueues(sqs, { queueName, deadLetterQueueName: deadLetterQueueNameFor(queueName) });
  return true;
}

/**
 * A consumer's `onReceiveError`: when a receive failed because the queue is gone, creates it again
 * (restoreQueues) so the next receive works. Never throws; says what it did.
 */
export function restoreOnMissingQueue(
  sqs: SQSClient,
  queueUrl: string,
  logger: Logger,
): (error: unknown) => Promise<void> {
  return async (error) => {
    if (!isMissingQueueError(error)) return;
    try {
      if (await restoreQueues(sqs, queueUrl)) logger.warn({ queueUrl }, QUEUES_RESTORED);
    } catch (restoreError) {
      logger.warn({ queueUrl, err: errorMessage(restoreError) }, "could not create the missing queues");
    }
  };
}

/** The log line when the queues were missing and have been created again. */
export const QUEUES_RESTORED = "the queues did not exist (LocalStack restarted?): created them again";

/**
 * What a consumer (the executor, the spawner) asks SQS at start: the queues created again when an emulator
 * lost them, and the DLQ's URL. Never fatal: SQS out of reach at start (LocalStack still starting, or
 * restarting) is no reason to exit, since a crash loop under Docker or Kubernetes backs off for minutes
 * after SQS is back. The consumer's receive loop then retries with backoff and restores a missing queue,
 * and it looks the DLQ up when it first needs it.
 */
export async function prepareConsumerQueues(
  sqs: SQSClient,
  queueUrl: string,
  logger: Logger,
): Promise<{ deadLetterQueueUrl: string | undefined }> {
  try {
    if (await restoreQueues(sqs, queueUrl)) logger.warn({ queueUrl }, QUEUES_RESTORED);
    return { deadLetterQueueUrl: await findDeadLetterQueueUrl(sqs, queueUrl) };
  } catch (error) {
    logger.warn(
      { queueUrl, err: errorMessage(error) },
      "SQS could not be asked at start; receiving will retry, and the DLQ is looked up when first needed",
    );
    return { deadLetterQueueUrl: undefined };
  }
}
