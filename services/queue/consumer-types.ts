import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "../core/logger.js";

/**
 * The contract of the shared consumer loop (consumer.ts), used by the executor and the job-spawner.
 * The loop fetches; a handler does the work for one message and says what becomes of it.
 */

/** What the loop does with a message after its handler returns. */
export type HandleOutcome =
  /** The work is durably recorded: delete the message. */
  | "done"
  /** Transient failure: leave it, so it is redelivered after a backoff (and reaches the DLQ after maxReceiveCount). */
  | "retry"
  /** It can never succeed (poison): move it to the DLQ now and delete it from the queue. */
  | "dead-letter";

export interface HandleContext {
  /** Aborted when the consumer is stopped forcefully (second signal or stop timeout). */
  readonly signal: AbortSignal;
  /** How many times SQS has delivered this message (ApproximateReceiveCount), 1 on first delivery. */
  readonly receiveCount: number;
  readonly logger: Logger;
}

export type MessageHandler = (message: Message, context: HandleContext) => Promise<HandleOutcome>;

export interface ConsumerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /**
   * The DLQ for "dead-letter" outcomes. Unset: the one the queue's RedrivePolicy names, looked up when first
   * needed; a queue without one leaves them for SQS to drop or redrive as it is configured.
   */
  readonly deadLetterQueueUrl?: string;
  readonly handle: MessageHandler;
  /** Messages handled at once, at most. Default 10. */
  readonly concurrency?: number;
  /**
   * Back-pressure: called before each receive with the free handler slots and the messages being
   * handled; returns how many messages may be received now (0 pauses receiving; messages stay in the
   * queue). Default: the free slots.
   */
  readonly capacity?: (freeSlots: number, inFlight: number) => Promise<number> | number;
  /**
   * Long-poll wait per receive, seconds (0–20). Default: the queue's own ReceiveMessageWaitTimeSeconds
   * (`khctl queue ensure` sets 20). A stop aborts the poll in flight, so this does not delay it.
   */
  readonly waitTimeSeconds?: number;
  /** Visibility of a retried message after its first receive, seconds; it doubles with each receive (to 5 min). Default 5. */
  readonly retryBaseSeconds?: number;
  /** Visibility timeout given to received messages and renewed by the heartbeat while work runs, seconds. Default 60. */
  readonly visibilityTimeoutSeconds?: number;
  readonly logger: Logger;
  /**
   * Told about each failed receive before the loop backs off and tries again, e.g. to create the queue
   * again when it is gone (queue/ensure.ts restoreOnMissingQueue). Must not throw.
   */
  readonly onReceiveError?: (error: unknown) => Promise<void>;
}

export interface Consumer {
  /** Resolves when the loop has stopped and every handler has returned. */
  readonly done: Promise<void>;
  /** Messages being handled now. */
  inFlight(): number;
  /**
   * Graceful stop: no new receive, and the long poll in flight is aborted at once (what it had just
   * returned is given back with visibility 0; what SQS handed the aborted connection comes back after
   * RECEIVE_CLAIM_SECONDS, consumer.ts); in-flight handlers get up to timeoutMs (default 30000), then are
   * aborted (their messages are released for redelivery). Idempotent; a later call with a shorter timeout
   * shortens it (0: abort the handlers now). Resolves with `done`.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}
