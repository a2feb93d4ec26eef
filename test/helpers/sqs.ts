import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { ENV } from "../../services/contracts/names.js";
import { newId } from "../../services/core/ids.js";
import { startEmbeddedSqs } from "../../services/embedded/sqs.js";
import { createSqsClient } from "../../services/queue/client.js";
import { type EnsureQueuesOptions, ensureQueues } from "../../services/queue/ensure.js";
import { afterFile } from "./after-file.js";

export interface TestSqs {
  /** AWS_ENDPOINT_URL of this file's own fauxqs server. */
  readonly endpoint: string;
  readonly sqs: SQSClient;
  /** Creates a fresh queue + DLQ pair with unique names. */
  createQueues(options?: EnsureQueuesOptions): Promise<TestQueues>;
  /** A fresh pair with these bodies in its DLQ; their message ids in the same order. */
  createQueuesWithDeadLetters(bodies: readonly string[]): Promise<TestQueues & { ids: string[] }>;
}

export interface TestQueues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** Env for a child process (khctl) that talks to these queues. */
  readonly env: Record<string, string>;
}

/**
 * A fauxqs server for the calling test file (in-process, on 127.0.0.1), stopped when the file ends.
 * Each createQueues() call gets its own queue names, so tests in a file do not see each other's messages.
 */
export async function createTestSqs(): Promise<TestSqs> {
  const server = await startEmbeddedSqs();
  const sqs = createSqsClient({ endpoint: server.endpoint, region: "us-east-1" }, {});
  afterFile(async () => {
    sqs.destroy();
    await server.stop();
  });
  const testSqs: TestSqs = {
    endpoint: server.endpoint,
    sqs,
    async createQueuesWithDeadLetters(bodies) {
      const queues = await testSqs.createQueues();
      const ids: string[] = [];
      for (const body of bodies) {
        const sent = await sqs.send(
          new SendMessageCommand({ QueueUrl: queues.deadLetterQueueUrl, MessageBody: body }),
        );
        ids.push(sent.MessageId as string);
      }
      return { ...queues, ids };
    },
    async createQueues(options = {}) {
      const suffix = newId().slice(0, 8);
      const queues = await ensureQueues(sqs, {
        queueName: `test-queue-${suffix}`,
        deadLetterQueueName: `test-dlq-${suffix}`,
        receiveWaitSeconds: 1,
        ...options,
      });
      return {
        queueUrl: queues.queueUrl,
        deadLetterQueueUrl: queues.deadLetterQueueUrl,
        env: {
          [ENV.awsEndpointUrl]: server.endpoint,
          [ENV.awsRegion]: "us-east-1",
          [ENV.awsAccessKeyId]: "test",
          [ENV.awsSecretAccessKey]: "test",
          [ENV.sqsQueueUrl]: queues.queueUrl,
        },
      };
    },
  };
  return testSqs;
}
