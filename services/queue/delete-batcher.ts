import { DeleteMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";

/** SQS deletes at most 10 messages per DeleteMessageBatch. */
const MAX_PER_DELETE = 10;
/** How long a delete waits for others to share its call, ms. */
const DEFAULT_LINGER_MS = 10;

/**
 * Deletes handled messages ten to a call: each delete() joins the pending batch, which is sent when it
 * holds ten or `lingerMs` after its first. The caller need not wait: a delete that is late or lost only
 * means a redelivery, which the intake's run gate turns into a skip (intake/decide.ts). flush() sends
 * what is pending and waits for every call in flight (a consumer that stops calls it last).
 */
export class DeleteBatcher {
  private pending: { receiptHandle: string; messageId: string | undefined }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lingerMs: number;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly logger: Logger,
    options: { lingerMs?: number } = {},
  ) {
    this.lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  }

  delete(receiptHandle: string, messageId?: string): void {
    this.pending.push({ receiptHandle, messageId });
    if (this.pending.length >= MAX_PER_DELETE) this.send();
    else this.timer ??= setTimeout(() => this.send(), this.lingerMs);
  }

  /** Sends what is pending now and resolves when every delete so far has been answered. */
  async flush(): Promise<void> {
    this.send();
    await Promise.all(this.inFlight);
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_PER_DELETE);
      const call = this.deleteBatch(batch).finally(() => this.inFlight.delete(call));
      this.inFlight.add(call);
    }
  }

  /** The SDK retries a failed call (queue/client.ts); what still fails is logged and redelivered later. */
  private async deleteBatch(
    batch: { receiptHandle: string; messageId: string | undefined }[],
  ): Promise<void> {
    try {
      const result = await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((entry, index) => ({ Id: String(index), ReceiptHandle: entry.receiptHandle })),
        }),
      );
      for (const failure of result.Failed ?? []) {
        this.logger.warn(
          {
            messageId: batch[Number(failure.Id)]?.messageId,
            err: `${failure.Code}: ${failure.Message ?? ""}`,
          },
          "delete failed; the message will be redelivered",
        );
      }
    } catch (error) {
      this.logger.warn(
        { messages: batch.length, err: errorMessage(error) },
        "delete failed; the messages will be redelivered",
      );
    }
  }
}
