import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { errorMessage } from "../core/errors.js";
import { backoffMs, sleep } from "./backoff.js";
import type { Consumer, ConsumerOptions, HandleContext, HandleOutcome } from "./consumer-types.js";

export type {
  Consumer,
  ConsumerOptions,
  HandleContext,
  HandleOutcome,
  MessageHandler,
} from "./consumer-types.js";

/** SQS returns at most 10 messages per receive. */
const MAX_PER_RECEIVE = 10;
/** Wait before asking capacity() again after it returned 0, ms. */
const CAPACITY_PAUSE_MS = 1_000;
/** Graceful stop's default wait for in-flight handlers, ms. */
const DEFAULT_STOP_TIMEOUT_MS = 30_000;

/** Visibility, seconds, given to a "retry" message: grows with its receive count, with jitter, capped at 5 min. */
export function retryVisibilitySeconds(receiveCount: number): number {
  const ceiling = Math.min(300, 5 * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
}

/**
 * The shared consumer loop (contract: consumer-types.ts). Long-polls, hands up to `concurrency` messages
 * at once to `handle`, and acts on its outcome: "done" deletes, "retry" leaves the message for a later
 * redelivery, "dead-letter" copies the body to the DLQ and deletes it. A handler that throws counts as
 * "retry", so one bad message never blocks the others. While a handler runs, a heartbeat keeps its
 * message invisible. Starts at once; stop() is graceful and idempotent.
 */
export function startConsumer(options: ConsumerOptions): Consumer {
  const { sqs, queueUrl, handle, logger } = options;
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const waitTimeSeconds = options.waitTimeSeconds ?? 20;
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 60;
  const capacity = options.capacity ?? ((free: number) => free);

  /** Aborted by stop(): ends the long poll and the loop's pauses. */
  const receiving = new AbortController();
  /** Aborted when the stop timeout passes: handlers give up their work. */
  const working = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  let stopPromise: Promise<void> | undefined;

  const waitForSlot = () =>
    new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      slotFreed = () => {
        receiving.signal.removeEventListener("abort", onAbort);
        resolve();
      };
      receiving.signal.addEventListener("abort", onAbort, { once: true });
    });

  /** Best effort: an SQS error here only delays redelivery, so log it and go on. */
  const changeVisibility = async (message: Message, seconds: number): Promise<void> => {
    try {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      logger.warn({ messageId: message.MessageId, err: errorMessage(error) }, "change visibility failed");
    }
  };

  const deleteMessage = async (message: Message): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        return;
      } catch (error) {
        // The work is recorded; failing to delete only means a redelivery the handler will see as done.
        if (attempt >= 3) {
          logger.warn({ messageId: message.MessageId, err: errorMessage(error) }, "delete failed");
          return;
        }
        await sleep(backoffMs(attempt));
      }
    }
  };

  const deadLetter = async (message: Message): Promise<void> => {
    if (!options.deadLetterQueueUrl) {
      // No DLQ given: the queue's redrive policy moves it after maxReceiveCount receives.
      logger.warn({ messageId: message.MessageId }, "poison message left for the redrive policy");
      return;
    }
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: options.deadLetterQueueUrl,
          MessageBody: message.Body ?? "",
          ...(message.MessageAttributes ? { MessageAttributes: message.MessageAttributes } : {}),
        }),
      );
    } catch (error) {
      logger.warn(
        { messageId: message.MessageId, err: errorMessage(error) },
        "send to DLQ failed; left in queue",
      );
      return;
    }
    await deleteMessage(message);
  };

  const processMessage = async (message: Message): Promise<void> => {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1") || 1;
    const messageLogger = logger.child({ messageId: message.MessageId });
    const context: HandleContext = { signal: working.signal, receiveCount, logger: messageLogger };
    // Renew the visibility well before it runs out, so long work is not redelivered to another consumer.
    const heartbeat = setInterval(
      () => void changeVisibility(message, visibilityTimeoutSeconds),
      Math.max(1, visibilityTimeoutSeconds / 3) * 1000,
    );
    let outcome: HandleOutcome;
    try {
      outcome = await handle(message, context);
    } catch (error) {
      messageLogger.error(
        { err: errorMessage(error), receiveCount },
        "handler failed; message will be retried",
      );
      outcome = "retry";
    } finally {
      clearInterval(heartbeat);
    }
    if (outcome === "done") await deleteMessage(message);
    else if (outcome === "dead-letter") await deadLetter(message);
    // Stopping: give the message back now rather than after its backoff.
    else if (receiving.signal.aborted) await changeVisibility(message, 0);
    else await changeVisibility(message, retryVisibilitySeconds(receiveCount));
  };

  const track = (message: Message): void => {
    const task = processMessage(message).catch((error) =>
      logger.error({ messageId: message.MessageId, err: errorMessage(error) }, "message processing failed"),
    );
    const entry = task.finally(() => {
      inFlight.delete(entry);
      slotFreed?.();
      slotFreed = undefined;
    });
    inFlight.add(entry);
  };

  const loop = async (): Promise<void> => {
    let failures = 0;
    while (!receiving.signal.aborted) {
      const free = concurrency - inFlight.size;
      if (free <= 0) {
        await waitForSlot();
        continue;
      }
      let wanted: number;
      try {
        wanted = Math.min(free, MAX_PER_RECEIVE, Math.floor(await capacity(free)));
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, "capacity check failed; pausing");
        wanted = 0;
      }
      if (!(wanted > 0)) {
        await sleep(CAPACITY_PAUSE_MS / 2 + Math.random() * (CAPACITY_PAUSE_MS / 2), receiving.signal);
        continue;
      }
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: wanted,
            WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: receiving.signal },
        );
        messages = result.Messages ?? [];
        failures = 0;
      } catch (error) {
        if (receiving.signal.aborted) break;
        const wait = backoffMs(failures++, { baseMs: 200, maxMs: 30_000 });
        logger.warn({ err: errorMessage(error), retryInMs: wait }, "receive failed");
        await sleep(wait, receiving.signal);
        continue;
      }
      for (const message of messages) track(message);
    }
  };

  const done = (async () => {
    try {
      await loop();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, "consumer loop failed");
    }
    await stopPromise;
    await Promise.all(inFlight);
  })();

  return {
    done,
    stop({ timeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
      stopPromise ??= (async () => {
        receiving.abort();
        const timer = setTimeout(() => working.abort(), timeoutMs);
        // Let in-flight handlers finish; after timeoutMs they are aborted and release their messages.
        await Promise.all(inFlight);
        clearTimeout(timer);
      })();
      return stopPromise.then(() => done);
    },
  };
}
