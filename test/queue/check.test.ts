import { DeleteQueueCommand, GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { DLQ_NAME, ENV, QUEUE_NAME } from "../../services/contracts/names.js";
import { ensureQueues } from "../../services/queue/ensure.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestSqs } from "../helpers/sqs.js";

// This file's own SQS emulator: `queue check` looks for the contract's queue names, which no other file uses here.
const testSqs = await createTestSqs();
const env = {
  [ENV.awsEndpointUrl]: testSqs.endpoint,
  [ENV.awsRegion]: "us-east-1",
  [ENV.awsAccessKeyId]: "test",
  [ENV.awsSecretAccessKey]: "test",
};

interface Report {
  reachable: boolean;
  error?: string;
  queues: { name: string; url: string | null }[];
}

async function check(extraEnv: Record<string, string> = {}) {
  const result = await spawnCli(["queue", "check", "--json"], { ...env, ...extraEnv }).result;
  return { ...result, report: JSON.parse(result.stdout) as Report };
}

describe("khctl queue check", () => {
  it("finds both queues missing, then present after `queue ensure`, then one missing again; it creates nothing", async () => {
    const before = await check();
    expect(before.code).toBe(1);
    expect(before.report).toMatchObject({
      reachable: true,
      queues: [
        { name: QUEUE_NAME, url: null },
        { name: DLQ_NAME, url: null },
      ],
    });
    expect(before.stderr).toContain(`missing at ${testSqs.endpoint}: ${QUEUE_NAME}, ${DLQ_NAME}`);
    // Read-only: still no queue.
    await expect(testSqs.sqs.send(new GetQueueUrlCommand({ QueueName: QUEUE_NAME }))).rejects.toThrow();

    const ensured = await ensureQueues(testSqs.sqs);
    const present = await check();
    expect(present.code).toBe(0);
    expect(present.report.queues).toEqual([
      { name: QUEUE_NAME, url: ensured.queueUrl },
      { name: DLQ_NAME, url: ensured.deadLetterQueueUrl },
    ]);

    await testSqs.sqs.send(new DeleteQueueCommand({ QueueUrl: ensured.deadLetterQueueUrl }));
    const partial = await check();
    expect(partial.code).toBe(1);
    expect(partial.report.queues).toEqual([
      { name: QUEUE_NAME, url: ensured.queueUrl },
      { name: DLQ_NAME, url: null },
    ]);
  });

  it("reports an SQS that does not answer as unreachable, not as missing queues", async () => {
    const result = await check({ [ENV.awsEndpointUrl]: "http://127.0.0.1:9" });
    expect(result.code).toBe(1);
    expect(result.report).toMatchObject({ reachable: false, queues: [] });
    expect(result.report.error).toMatch(/127\.0\.0\.1:9/);
    expect(result.stderr).toMatch(/SQS at http:\/\/127\.0\.0\.1:9 does not answer/);
  });
});
