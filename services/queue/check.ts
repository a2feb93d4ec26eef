import { GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { describeError } from "../core/errors.js";
import { isMissingQueueError } from "./ensure.js";

/** What `khctl queue check` found: each queue's URL (null when it does not exist), or why SQS did not answer. */
export interface QueueCheck {
  readonly endpoint: string | null;
  readonly reachable: boolean;
  /** Why SQS could not be asked, when not reachable. */
  readonly error?: string;
  readonly queues: { readonly name: string; readonly url: string | null }[];
}

/** Looks each queue up by name (GetQueueUrl), changing nothing. Never throws: an unreachable SQS is a result. */
export async function checkQueues(
  sqs: SQSClient,
  endpoint: string | undefined,
  names: readonly string[],
  timeoutMs: number,
): Promise<QueueCheck> {
  const queues: QueueCheck["queues"][number][] = [];
  for (const name of names) {
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
      queues.push({ name, url: QueueUrl ?? null });
    } catch (error) {
      if (!isMissingQueueError(error)) {
        return { endpoint: endpoint ?? null, reachable: false, error: describeError(error), queues: [] };
      }
      queues.push({ name, url: null });
    }
  }
  return { endpoint: endpoint ?? null, reachable: true, queues };
}
