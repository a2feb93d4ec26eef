import {
  ChangeMessageVisibilityCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { backoffMs, sleep } from "../core/backoff.js";
import { errorMessage } from "../core/errors.js";
import type { Consumer, ConsumerOptions, HandleContext, HandleOutcome } from "./consumer-types.js";
import { DeleteBatcher } from "./delete-batcher.js";
import { findDeadLetterQueueUrl } from "./ensure.js";

export type {
  Consumer,
  ConsumerOptions,
  HandleContext,
  HandleOutcome,
  MessageHandler,
} from "./consumer-types.js";

/** SQS returns at most 10 messages per receive. */
const MAX_PER_RECEIVE = 10;
/** Wait before asking capacity() again after it returned 0, ms (jittered in its upper half). */
const CAPACITY_PAUSE_MS = 1_000;
/** The longest wait between capacity checks that keep failing, ms. */
const MAX_CAPACITY_PAUSE_MS = 30_000;
/** An empty receive faster than this did not long-poll (a queue with ReceiveMessageWaitTimeSeconds 0, whose least is 1 s otherwise), ms. */
const MIN_EMPTY_RECEIVE_MS = 500;
/** Graceful stop's default wait for in-flight handlers, ms. */
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/**
 * Visibility a receive gives its messages at first, seconds; the heartbeat's first beat, at half of it,
 * gives a message still being handled the full visibility timeout. A stop aborts the long poll in flight,
 * and SQS does not learn that the client left: what it hands that dead poll (a message sent just then) is
 * hidden only this long, not for the whole visibility timeout, then redelivered.
 */
export const RECEIVE_CLAIM_SECONDS = 10;

/** The first retry's visibility ceiling, seconds (it doubles with each receive). */
export const RETRY_BASE_SECONDS = 5;

/**
 * Visibility, seconds, given to a "retry" message: grows with its receive count (from `baseSeconds`),
 * with jitter, capped at 5 min.
 */
export function retryVisibilitySeconds(receiveCount: number, baseSeconds = RETRY_BASE_SECONDS): number {
  const ceiling = Math.min(300, baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
}

/**
 * Wait before asking capacity() again, ms: CAPACITY_PAUSE_MS after a 0, doubling with each failed check in
 * a row (an API server that is down is not asked every second), up to MAX_CAPACITY_PAUSE_MS; jittered in
 * the upper half of that ceiling.
 */
export function capacityPauseMs(failures: number): number {
  const ceiling = Math.min(MAX_CAPACITY_PAUSE_MS, CAPACITY_PAUSE_MS * 2 ** Math.min(failures, 30));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * The shared consumer loop (contract: consumer-types.ts). Long-polls, hands up to `concurrency` messages
 * at once to `handle`, and acts on its outcome: "done" deletes (ten to a call, delete-batcher.ts), "retry" leaves the message for a later
 * redelivery, "dead-letter" copies the body to the DLQ and deletes it. A handler that throws counts as
 * "retry", so one bad message never blocks the others. While a handler runs, a heartbeat keeps its
 * message invisible. Starts at once; stop() is graceful and idempotent.
 */
export function startConsumer(options: ConsumerOptions): Consumer {
  return new QueueConsumer(options);
}

class QueueConsumer implements Consumer {
  readonly done: Promise<void>;
  private readonly concurrency: number;
  private readonly waitTimeSeconds: number | undefined;
  private readonly visibilitySeconds: number;
  /**
   * Aborted by stop(): no new receive, the long poll in flight is aborted (the SDK's abortSignal), and the
   * loop's pauses end. A poll that answered before the abort landed has its messages given back at once
   * (visibility 0); one that SQS answered into the aborted connection hides them for RECEIVE_CLAIM_SECONDS.
   */
  private readonly receiving = new AbortController();
  /** Aborted when the stop timeout passes: handlers give up their work. */
  private readonly working = new AbortController();
  private readonly tasks = new Set<Promise<void>>();
  private slotFreed: (() => void) | undefined;
  private abortTimer: NodeJS.Timeout | undefined;
  /** When in-flight work is aborted after stop(), ms since the epoch. */
  private abortAt = Number.POSITIVE_INFINITY;
  /** capacity() calls in a row that threw. */
  private capacityFailures = 0;
  private readonly deletes: DeleteBatcher;
  /** The DLQ found from the queue's RedrivePolicy, when none was given (looked up when first needed). */
  private foundDeadLetterQueue: Promise<string | undefined> | undefined;

  constructor(private readonly options: ConsumerOptions) {
    this.concurrency = Math.max(1, options.concurrency ?? 10);
    this.waitTimeSeconds = options.waitTimeSeconds;
    this.visibilitySeconds = options.visibilityTimeoutSeconds ?? 60;
    this.deletes = new DeleteBatcher(options.sqs, options.queueUrl, options.logger);
    this.done = this.run();
  }

  inFlight(): number {
    return this.tasks.size;
  }

  /** Each call may shorten the time work in flight gets (a second signal: 0, abort now). */
  stop({ timeoutMs = DEFAULT_STOP_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<void> {
    this.receiving.abort();
    const at = Date.now() + timeoutMs;
    if (at < this.abortAt) {
      this.abortAt = at;
      clearTimeout(this.abortTimer);
      this.abortTimer = setTimeout(() => this.working.abort(), timeoutMs);
      // Only work in flight should keep the process alive, not the deadline for it.
      this.abortTimer.unref();
    }
    return this.done;
  }

  private async run(): Promise<void> {
    try {
      await this.receiveLoop();
    } catch (error) {
      this.options.logger.error({ err: errorMessage(error) }, "consumer loop failed");
    }
    await Promise.all(this.tasks);
    await this.deletes.flush();
    clearTimeout(this.abortTimer);
  }

  private async receiveLoop(): Promise<void> {
    let failures = 0;
    while (!this.receiving.signal.aborted) {
      const free = this.concurrency - this.tasks.size;
      if (free <= 0) {
        await this.slotFree();
        continue;
      }
      const wanted = await this.wanted(free);
      if (wanted.count <= 0) {
        await sleep(wanted.pauseMs, this.receiving.signal);
        continue;
      }
      try {
        const startedAt = performance.now();
        const messages = await this.receive(wanted.count);
        failures = 0;
        // Answered just before the stop's abort landed: give them back for another consumer at once.
        if (this.receiving.signal.aborted) await this.releaseAll(messages);
        else for (const message of messages) this.track(message);
        // A queue that does not long-poll answers an empty receive at once: do not spin on it.
        if (messages.length === 0 && performance.now() - startedAt < MIN_EMPTY_RECEIVE_MS) {
          await sleep(capacityPauseMs(0), this.receiving.signal);
        }
      } catch (error) {
        if (this.receiving.signal.aborted) break;
        await this.options.onReceiveError?.(error);
        const wait = backoffMs(failures++, { baseMs: 200, maxMs: 30_000 });
        this.options.logger.warn({ err: errorMessage(error), retryInMs: wait }, "receive failed");
        await sleep(wait, this.receiving.signal);
      }
    }
  }

  /**
   * How many messages to ask for: the free slots, bounded by back-pressure and SQS's maximum; when that is
   * none, how long to pause first. A failed capacity check counts as none, and each failure in a row
   * doubles the pause (capacityPauseMs).
   */
  private async wanted(free: number): Promise<{ count: number; pauseMs: number }> {
    const capacity = this.options.capacity;
    if (!capacity) return { count: Math.min(free, MAX_PER_RECEIVE), pauseMs: 0 };
    try {
      const allowed = Math.floor(await this.unlessStopped(capacity(free, this.tasks.size), 0));
      if (this.capacityFailures > 0) {
        this.options.logger.info({ failures: this.capacityFailures }, "capacity check works again");
        this.capacityFailures = 0;
      }
      return { count: Math.min(free, MAX_PER_RECEIVE, allowed), pauseMs: capacityPauseMs(0) };
    } catch (error) {
      const pauseMs = capacityPauseMs(this.capacityFailures++);
      this.options.logger.warn(
        { err: errorMessage(error), failures: this.capacityFailures, retryInMs: pauseMs },
        "capacity check failed; pausing",
      );
      return { count: 0, pauseMs };
    }
  }

  /**
   * What `work` gives, or `instead` at once when the consumer is stopped first: a check that waits (an API
   * server that does not answer) must not hold up a stop. A later failure of `work` is then dropped.
   */
  private unlessStopped<T>(work: Promise<T> | T, instead: T): Promise<T> {
    const signal = this.receiving.signal;
    if (signal.aborted) return Promise.resolve(instead);
    let onAbort = () => {};
    const stopped = new Promise<T>((resolve) => {
      onAbort = () => resolve(instead);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const settled = Promise.resolve(work);
    settled.catch(() => {});
    return Promise.race([settled, stopped]).finally(() => signal.removeEventListener("abort", onAbort));
  }

  /**
   * One long poll (waitTimeSeconds, else the queue's ReceiveMessageWaitTimeSeconds), ended at once by a
   * stop. Its messages are claimed for RECEIVE_CLAIM_SECONDS only; the heartbeat extends what takes longer.
   */
  private async receive(count: number): Promise<Message[]> {
    const result = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: count,
        ...(this.waitTimeSeconds === undefined ? {} : { WaitTimeSeconds: this.waitTimeSeconds }),
        VisibilityTimeout: Math.min(this.visibilitySeconds, RECEIVE_CLAIM_SECONDS),
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: this.receiving.signal },
    );
    return result.Messages ?? [];
  }

  /** Gives messages back unhandled (visibility 0): nothing was done with them. */
  private async releaseAll(messages: readonly Message[]): Promise<void> {
    if (messages.length === 0) return;
    this.options.logger.info({ count: messages.length }, "stopping: messages received are given back");
    await Promise.all(messages.map((message) => this.changeVisibility(message, 0)));
  }

  private slotFree(): Promise<void> {
    return new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      this.slotFreed = () => {
        this.receiving.signal.removeEventListener("abort", onAbort);
        resolve();
      };
      this.receiving.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private track(message: Message): void {
    const task = this.process(message).catch((error) =>
      this.options.logger.error(
        { messageId: message.MessageId, err: errorMessage(error) },
        "message processing failed",
      ),
    );
    const entry = task.finally(() => {
      this.tasks.delete(entry);
      this.slotFreed?.();
      this.slotFreed = undefined;
    });
    this.tasks.add(entry);
  }

  private async process(message: Message): Promise<void> {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1") || 1;
    const logger = this.options.logger.child({ messageId: message.MessageId });
    const context: HandleContext = { signal: this.working.signal, receiveCount, logger };
    const outcome = await this.handleWithHeartbeat(message, context);
    await this.settle(message, outcome, receiveCount);
  }

  /**
   * Runs the handler while keeping the message invisible: a beat well before the receive's claim
   * (RECEIVE_CLAIM_SECONDS) runs out, then one well before each visibility timeout does. A message handled
   * sooner (a Job created in milliseconds) costs no call at all.
   */
  private async handleWithHeartbeat(message: Message, context: HandleContext): Promise<HandleOutcome> {
    const beat = () => void this.changeVisibility(message, this.visibilitySeconds);
    const periodMs = Math.max(1, this.visibilitySeconds / 3) * 1000;
    let heartbeat = setTimeout(
      () => {
        beat();
        heartbeat = setInterval(beat, periodMs);
      },
      Math.min(periodMs, (RECEIVE_CLAIM_SECONDS / 2) * 1000),
    );
    try {
      return await this.options.handle(message, context);
    } catch (error) {
      context.logger.error(
        { err: errorMessage(error), receiveCount: context.receiveCount },
        "handler failed; message will be retried",
      );
      return "retry";
    } finally {
      // Either timer: clearInterval clears a timeout too.
      clearInterval(heartbeat);
    }
  }

  private async settle(message: Message, outcome: HandleOutcome, receiveCount: number): Promise<void> {
    if (outcome === "done") this.deleteMessage(message);
    else if (outcome === "dead-letter") await this.deadLetter(message);
    // Stopping: give the message back now rather than after its backoff.
    else if (this.receiving.signal.aborted) await this.changeVisibility(message, 0);
    else
      await this.changeVisibility(
        message,
        retryVisibilitySeconds(receiveCount, this.options.retryBaseSeconds),
      );
  }

  /** Best effort: an SQS error here only delays redelivery, so log it and go on. */
  private async changeVisibility(message: Message, seconds: number): Promise<void> {
    try {
      await this.options.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.options.queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      this.options.logger.warn(
        { messageId: message.MessageId, err: errorMessage(error) },
        "change visibility failed",
      );
    }
  }

  /**
   * Queued, not awaited: the slot is free for the next message at once, and stop() flushes the batch. A
   * delete that fails only means a redelivery, which the handler sees as done (delete-batcher.ts).
   */
  private deleteMessage(message: Message): void {
    if (message.ReceiptHandle) this.deletes.delete(message.ReceiptHandle, message.MessageId);
  }

  /**
   * The DLQ given, else the one the queue's RedrivePolicy names: a consumer that could not ask SQS at start
   * (prepareConsumerQueues) still dead-letters at once later. Found once, kept; not found, asked again next time.
   */
  private async deadLetterQueueUrl(): Promise<string | undefined> {
    if (this.options.deadLetterQueueUrl) return this.options.deadLetterQueueUrl;
    this.foundDeadLetterQueue ??= findDeadLetterQueueUrl(this.options.sqs, this.options.queueUrl).catch(
      (error) => {
        this.options.logger.warn({ err: errorMessage(error) }, "could not look up the DLQ");
        return undefined;
      },
    );
    const found = await this.foundDeadLetterQueue;
    if (!found) this.foundDeadLetterQueue = undefined;
    return found;
  }

  private async deadLetter(message: Message): Promise<void> {
    const { logger } = this.options;
    const deadLetterQueueUrl = await this.deadLetterQueueUrl();
    if (!deadLetterQueueUrl) {
      // No DLQ given or named by a redrive policy (or SQS could not say): left to the queue as configured.
      logger.warn({ messageId: message.MessageId }, "poison message left in the queue: no DLQ known");
      return;
    }
    try {
      await this.options.sqs.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
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
    this.deleteMessage(message);
  }
}
