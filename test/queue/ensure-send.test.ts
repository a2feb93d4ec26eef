import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { MAX_RECEIVE_COUNT } from "../../services/contracts/names.js";
import { createSqsClient, SQS_MAX_ATTEMPTS } from "../../services/queue/client.js";
import { ensureQueues, findDeadLetterQueueUrl } from "../../services/queue/ensure.js";
import { sendWorkflowMessages } from "../../services/queue/send.js";
import { runCliInProcess } from "../cli/cli.js";
import { createTestSqs } from "../helpers/sqs.js";

const testSqs = await createTestSqs();
const { sqs } = testSqs;

const message = (n: number) => ({
  workflowId: `wf-${n}`,
  triggerType: "manual" as const,
  triggerTime: "2026-01-01T00:00:00.000Z",
});

describe("ensureQueues", () => {
  it("creates the queue and DLQ with explicit attributes, idempotently, also when attributes change", async () => {
    const names = { queueName: "ensure-q", deadLetterQueueName: "ensure-dlq" };
    const first = await ensureQueues(sqs, names);
    const second = await ensureQueues(sqs, { ...names, visibilityTimeoutSeconds: 90 });
    expect(second).toEqual(first);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: first.queueUrl, AttributeNames: ["All"] }),
    );
    expect(Attributes).toMatchObject({
      VisibilityTimeout: "90",
      MessageRetentionPeriod: "345600",
      ReceiveMessageWaitTimeSeconds: "20",
    });
    expect(JSON.parse(Attributes?.RedrivePolicy ?? "{}")).toEqual({
      deadLetterTargetArn: first.deadLetterQueueArn,
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    expect(await findDeadLetterQueueUrl(sqs, first.queueUrl)).toBe(first.deadLetterQueueUrl);
  });
});

describe("sendWorkflowMessages", () => {
  it("sends in batches of 10 with the TriggerType and WorkflowId attributes", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const result = await sendWorkflowMessages(
      sqs,
      queueUrl,
      Array.from({ length: 23 }, (_, n) => message(n)),
    );
    expect(result.sent).toHaveLength(23);
    expect(result.failed).toEqual([]);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        MessageAttributeNames: ["All"],
      }),
    );
    expect(Messages[0]?.MessageAttributes).toMatchObject({
      TriggerType: { DataType: "String", StringValue: "manual" },
      WorkflowId: { DataType: "String", StringValue: expect.stringMatching(/^wf-/) },
    });
  });

  it("retries entries SQS rejected, reports those that keep failing, and refuses invalid messages", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const calls: number[] = [];
    let rejectedOnce = false;
    // SQS at the boundary: the first batch has one entry refused (throttled); "wf-7" is refused every time.
    const flaky = {
      send: async (command: SendMessageBatchCommand) => {
        const entries = command.input.Entries ?? [];
        calls.push(entries.length);
        const failing = entries.filter(
          (entry) => entry.MessageBody?.includes('"wf-7"') || (!rejectedOnce && entry.Id === "0"),
        );
        rejectedOnce = true;
        const passing = entries.filter((entry) => !failing.includes(entry));
        const real = passing.length
          ? await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: passing }))
          : { Successful: [] };
        return {
          Successful: real.Successful,
          Failed: failing.map((entry) => ({
            Id: entry.Id,
            Code: "Throttled",
            SenderFault: false,
            Message: "slow down",
          })),
        };
      },
    } as unknown as SQSClient;
    const result = await sendWorkflowMessages(
      flaky,
      queueUrl,
      Array.from({ length: 10 }, (_, n) => message(n)),
      {
        retryBaseMs: 1,
        maxAttempts: 3,
      },
    );
    expect(result.sent.map((m) => m.workflowId)).toEqual(
      Array.from({ length: 10 }, (_, n) => `wf-${n}`).filter((id) => id !== "wf-7"),
    );
    expect(result.failed).toEqual([{ message: message(7), error: "Throttled: slow down" }]);
    expect(calls).toEqual([10, 2, 1]);
    await expect(
      sendWorkflowMessages(sqs, queueUrl, [{ ...message(1), triggerType: "cron" as "manual" }]),
    ).rejects.toThrow(/invalid workflow message: triggerType/);
  });
});

describe("queue URLs naming a host this machine cannot resolve", () => {
  it("work from here: every call goes to the endpoint (pods' host.minikube.internal needs no /etc/hosts line)", async () => {
    const { queueUrl } = await testSqs.createQueues();
    const url = new URL(queueUrl);
    url.host = "queues.invalid:4566"; // RFC 6761: never resolves
    const sent = await sendWorkflowMessages(sqs, url.href, [message(1)]);
    expect(sent.failed).toEqual([]);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url.href }));
    expect(Messages).toHaveLength(1);
  });
});

describe("khctl queue", () => {
  it("ensure prints both URLs (--json) and stats shows the depths", async () => {
    const previous = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL: testSqs.endpoint, AWS_REGION: "us-east-1" });
    try {
      const ensured = await runCliInProcess(["queue", "ensure", "--json"]);
      expect(ensured.code).toBe(0);
      const urls = JSON.parse(ensured.stdout);
      expect(urls.queueUrl).toMatch(/keeperhub-workflow-queue$/);
      expect(urls.deadLetterQueueUrl).toMatch(/keeperhub-workflow-dlq$/);
      await sendWorkflowMessages(sqs, urls.queueUrl, [message(1), message(2)]);
      process.env.SQS_QUEUE_URL = urls.queueUrl;
      const stats = await runCliInProcess(["queue", "stats", "--json"]);
      expect(stats.code).toBe(0);
      expect(JSON.parse(stats.stdout)).toMatchObject({ visible: 2, inFlight: 0, deadLetter: 0 });
    } finally {
      process.env = previous;
    }
  });
});

describe("SQS attempts", () => {
  it("a call that keeps failing is attempted SQS_MAX_ATTEMPTS times in all, not again on top of the SDK", async () => {
    let requests = 0;
    // SQS answering 500 to everything: only an injected fault, which the emulator cannot do on demand.
    const failing = http.createServer((_request, response) => {
      requests++;
      response.writeHead(500, { "content-type": "application/x-amz-json-1.0" });
      response.end(JSON.stringify({ __type: "InternalError", message: "injected" }));
    });
    await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    const client = createSqsClient({ endpoint, region: "us-east-1" }, {});
    try {
      const result = await sendWorkflowMessages(client, `${endpoint}/000000000000/q`, [message(1)], {
        retryBaseMs: 1,
      });
      expect(result.sent).toEqual([]);
      expect(result.failed).toHaveLength(1);
      expect(requests).toBe(SQS_MAX_ATTEMPTS);
    } finally {
      client.destroy();
      failing.closeAllConnections();
      await new Promise((resolve) => failing.close(resolve));
    }
  });
});
