import {
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { MAX_RECEIVE_COUNT } from "../../services/contracts/names.js";
import { newId } from "../../services/core/ids.js";
import { silentLogger } from "../../services/core/logger.js";
import { startExecutor } from "../../services/executor/index.js";
import { createSqsClient } from "../../services/queue/client.js";
import {
  deadLetterQueueNameFor,
  ensureQueues,
  QUEUES_RESTORED,
  queueNameOf,
  restoreQueues,
} from "../../services/queue/ensure.js";
import { sendWorkflowMessage, sendWorkflowMessages } from "../../services/queue/send.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { scaled, until, within } from "../helpers/wait.js";

// LocalStack keeps no queues across a restart. Whoever needs the queue creates it again, with its DLQ: at
// start and when SQS says it does not exist. Here the queues are deleted from a real SQS emulator (fauxqs).

const { pool, url: databaseUrl } = await createTestDatabase();
const testSqs = await createTestSqs();
const { sqs } = testSqs;

const message = (n: number) => ({
  workflowId: `wf-${n}`,
  triggerType: "manual" as const,
  triggerTime: "2026-01-01T00:00:00.000Z",
});

/** A new queue and its DLQ, named as restoreQueues names them. */
function queuePair(): Promise<{ queueUrl: string; deadLetterQueueUrl: string }> {
  const queueName = `restore-${newId().slice(0, 8)}`;
  return ensureQueues(sqs, { queueName, deadLetterQueueName: deadLetterQueueNameFor(queueName) });
}

/** A queue and its DLQ, created then deleted: what a LocalStack restart leaves. */
async function goneQueue(): Promise<{ queueUrl: string; deadLetterQueueUrl: string }> {
  const queues = await queuePair();
  await deleteQueues(queues);
  return queues;
}

async function deleteQueues(queues: { queueUrl: string; deadLetterQueueUrl: string }): Promise<void> {
  for (const url of [queues.queueUrl, queues.deadLetterQueueUrl]) {
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  }
}

async function exists(queueUrl: string): Promise<boolean> {
  return sqs.send(new GetQueueUrlCommand({ QueueName: queueNameOf(queueUrl) })).then(
    () => true,
    () => false,
  );
}

describe("restoreQueues", () => {
  it("creates a queue that is gone, with its DLQ and redrive policy; leaves one that exists alone", async () => {
    const gone = await goneQueue();
    expect(await exists(gone.queueUrl)).toBe(false);
    expect(await restoreQueues(sqs, gone.queueUrl)).toBe(true);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: gone.queueUrl, AttributeNames: ["RedrivePolicy"] }),
    );
    expect(JSON.parse(Attributes?.RedrivePolicy ?? "{}")).toEqual({
      deadLetterTargetArn: expect.stringMatching(/:restore-[0-9a-z]{8}-dlq$/),
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    expect(await exists(gone.deadLetterQueueUrl)).toBe(true);
    expect(await restoreQueues(sqs, gone.queueUrl)).toBe(false);
  });

  it("never creates a queue on AWS itself (no endpoint): a missing queue there is a configuration error", async () => {
    const aws = createSqsClient({ endpoint: undefined, region: "us-east-1" }, {});
    try {
      // Decided before any request: nothing here could reach AWS.
      expect(
        await restoreQueues(aws, "https://sqs.us-east-1.amazonaws.com/123456789012/keeperhub-workflow-queue"),
      ).toBe(false);
    } finally {
      aws.destroy();
    }
  });
});

describe("sending to a queue that is gone", () => {
  it("creates it again and sends, one message or a batch", async () => {
    const gone = await goneQueue();
    expect(await sendWorkflowMessage(sqs, gone.queueUrl, message(1))).not.toBe("");
    await deleteQueues(gone);
    const result = await sendWorkflowMessages(sqs, gone.queueUrl, [message(2), message(3)]);
    expect(result).toMatchObject({ failed: [] });
    expect(result.sent).toHaveLength(2);
  });
});

describe("consuming from a queue that is gone", () => {
  it("the executor creates it again when a receive says it is gone, and goes on receiving", async () => {
    const { queueUrl, deadLetterQueueUrl } = await queuePair();
    const executor = startExecutor({
      pool,
      sqs,
      queueUrl,
      deadLetterQueueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
    });
    try {
      await deleteQueues({ queueUrl, deadLetterQueueUrl });
      await until("the executor created the queue again", () => exists(queueUrl), 15_000);
      // Sent as is (sendWorkflowMessage would create the queue itself). Malformed: it goes to the DLQ at
      // once, so it shows the executor took it from the restored queue.
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "not json" }));
      await until("the message taken off the restored queue", async () => {
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: deadLetterQueueUrl,
            AttributeNames: ["ApproximateNumberOfMessages"],
          }),
        );
        return Number(Attributes?.ApproximateNumberOfMessages) === 1;
      });
    } finally {
      await executor.stop({ timeoutMs: 0 });
    }
  });

  it(
    "khctl executor starts when the queues are gone, and creates them",
    async () => {
      const { queueUrl } = await goneQueue();
      const executor = spawnCli(["executor"], {
        ...(await testSqs.createQueues()).env,
        DATABASE_URL: databaseUrl,
        SQS_QUEUE_URL: queueUrl,
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
      });
      try {
        await executor.waitForOutput("executor started", 20_000);
        expect(executor.output()).toContain(QUEUES_RESTORED);
        expect(await exists(queueUrl)).toBe(true);
      } finally {
        executor.kill("SIGTERM");
        // A graceful stop lets the long poll in flight end by itself: up to the restored queue's 20 s wait.
        await within(executor.result, 45_000, "khctl executor stopping");
      }
    },
    scaled(90_000),
  );
});
