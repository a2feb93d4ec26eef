import { type Message, ReceiveMessageCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { DeleteBatcher } from "../../services/queue/delete-batcher.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { capturedLogger } from "../helpers/logs.js";
import { createTestSqs } from "../helpers/sqs.js";
import { until } from "../helpers/wait.js";

const testSqs = await createTestSqs();
const { sqs } = testSqs;

/** Counts the SQS calls by command name (the SDK's own middleware stack). */
const calls = new Map<string, number>();
sqs.middlewareStack.add(
  (next, context) => (args) => {
    calls.set(context.commandName as string, (calls.get(context.commandName as string) ?? 0) + 1);
    return next(args);
  },
  { step: "initialize", name: "countCalls" },
);

async function queueWith(count: number): Promise<{ queueUrl: string; messages: Message[] }> {
  const { queueUrl } = await testSqs.createQueues();
  for (let i = 0; i < count; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: Math.min(10, count - i) }, (_, j) => ({
          Id: String(j),
          MessageBody: `m${i + j}`,
        })),
      }),
    );
  }
  const messages: Message[] = [];
  await until("every message received", async () => {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    messages.push(...(Messages ?? []));
    return messages.length >= count;
  });
  return { queueUrl, messages };
}

describe("DeleteBatcher", () => {
  it("deletes ten messages per call", async () => {
    const { queueUrl, messages } = await queueWith(25);
    const batcher = new DeleteBatcher(sqs, queueUrl, capturedLogger("warn").logger, { lingerMs: 60_000 });
    const before = calls.get("DeleteMessageBatchCommand") ?? 0;
    for (const message of messages) batcher.delete(message.ReceiptHandle as string, message.MessageId);
    await batcher.flush();
    expect((calls.get("DeleteMessageBatchCommand") ?? 0) - before).toBe(3);
    expect(calls.get("DeleteMessageCommand") ?? 0).toBe(0);
    const stats = await getQueueStats(sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("sends a lone delete after its linger, without a flush", async () => {
    const { queueUrl, messages } = await queueWith(1);
    const batcher = new DeleteBatcher(sqs, queueUrl, capturedLogger("warn").logger, { lingerMs: 5 });
    batcher.delete(messages[0]?.ReceiptHandle as string);
    await until("the message deleted", async () => {
      const stats = await getQueueStats(sqs, queueUrl);
      return stats.visible + stats.inFlight === 0;
    });
  });

  it("logs a call that fails, and a later delete still goes", async () => {
    // fauxqs accepts any receipt handle; a queue that is gone makes the whole call fail, as SQS does.
    const { queueUrl, messages } = await queueWith(3);
    const { logger, lines } = capturedLogger("warn");
    const gone = new DeleteBatcher(sqs, `${queueUrl}-gone`, logger);
    gone.delete(messages[0]?.ReceiptHandle as string, messages[0]?.MessageId);
    await gone.flush();
    expect(lines.filter((line) => line.includes("will be redelivered"))).toHaveLength(1);
    const batcher = new DeleteBatcher(sqs, queueUrl, logger);
    for (const message of messages) batcher.delete(message.ReceiptHandle as string, message.MessageId);
    await batcher.flush();
    const stats = await getQueueStats(sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });
});
