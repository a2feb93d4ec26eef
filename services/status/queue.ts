import type { SQSClient } from "@aws-sdk/client-sqs";
import { errorMessage } from "../core/errors.js";
import { findDeadLetterQueueUrl } from "../queue/ensure.js";
import { getQueueStats, type QueueStats } from "../queue/stats.js";
import { type StatusPart, unreachable } from "./parts.js";

export interface QueueStatus extends QueueStats {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string | null;
}

/** Queue and DLQ depths (the DLQ found from the queue's RedrivePolicy). */
export async function queuePart(sqs: SQSClient, queueUrl: string): Promise<StatusPart<QueueStatus>> {
  try {
    const dlq = await findDeadLetterQueueUrl(sqs, queueUrl);
    const stats = await getQueueStats(sqs, queueUrl, dlq);
    const parked = stats.deadLetter ?? 0;
    return {
      name: "queue",
      required: true,
      ok: true,
      summary: `${stats.visible} waiting, ${stats.inFlight} in flight, ${stats.delayed} delayed; DLQ ${
        dlq ? `${parked}${parked > 0 ? " (khctl dlq list)" : ""}` : "none configured"
      }`,
      lines: [`queue ${queueUrl}`, ...(dlq ? [`dlq   ${dlq}`] : [])],
      data: { ...stats, queueUrl, deadLetterQueueUrl: dlq ?? null },
    };
  } catch (error) {
    return unreachable(
      "queue",
      true,
      `${queueUrl}: ${errorMessage(error)} (khctl queue ensure; docker logs keeperhub-localstack)`,
    );
  }
}
