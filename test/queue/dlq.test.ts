import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deadLetteredExecutions } from "../../services/queue/dlq.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { runCliInProcess } from "../cli/cli.js";
import { createTestSqs } from "../helpers/sqs.js";

const testSqs = await createTestSqs();

describe("khctl dlq", () => {
  it("lists dead letters without removing them, and redrive moves them back to the queue", async () => {
    const { queueUrl, deadLetterQueueUrl, env } = await testSqs.createQueues();
    for (const body of ["{not json", '{"workflowId": 1}', "third"]) {
      await testSqs.sqs.send(new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: body }));
    }
    const previous = { ...process.env };
    Object.assign(process.env, env);
    try {
      const listed = await runCliInProcess(["dlq", "list", "--json"]);
      expect(listed.code).toBe(0);
      expect(
        JSON.parse(listed.stdout)
          .map((l: { body: string }) => l.body)
          .sort(),
      ).toEqual(['{"workflowId": 1}', "third", "{not json"].sort());
      // Listing is a peek: all three are still there, visible.
      expect((await getQueueStats(testSqs.sqs, deadLetterQueueUrl)).visible).toBe(3);

      const moved = await runCliInProcess(["dlq", "redrive", "--max", "2"]);
      expect(moved.stdout).toBe("Moved 2 message(s) back to the queue.\n");
      const rest = await runCliInProcess(["dlq", "redrive", "--json"]);
      expect(JSON.parse(rest.stdout).moved).toHaveLength(1);
      const dlq = await getQueueStats(testSqs.sqs, deadLetterQueueUrl);
      expect(dlq.visible + dlq.inFlight).toBe(0);
      expect((await getQueueStats(testSqs.sqs, queueUrl)).visible).toBe(3);
      expect((await runCliInProcess(["dlq", "list"])).stdout).toBe("The dead-letter queue is empty.\n");
    } finally {
      process.env = previous;
    }
  });

  it("redrive --message moves that one message only; the others stay in the DLQ, visible", async () => {
    const { queueUrl, deadLetterQueueUrl, env } = await testSqs.createQueues();
    const ids: string[] = [];
    for (const body of ["one", "two", "three"]) {
      const sent = await testSqs.sqs.send(
        new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: body }),
      );
      ids.push(sent.MessageId as string);
    }
    const previous = { ...process.env };
    Object.assign(process.env, env);
    try {
      const moved = await runCliInProcess(["dlq", "redrive", "--message", ids[1] as string, "--json"]);
      expect(moved.stderr).toBe("");
      expect(JSON.parse(moved.stdout)).toEqual({ moved: [ids[1]] });
      const left = JSON.parse((await runCliInProcess(["dlq", "list", "--json"])).stdout);
      expect(left.map((l: { body: string }) => l.body).sort()).toEqual(["one", "three"]);
      expect((await getQueueStats(testSqs.sqs, deadLetterQueueUrl)).visible).toBe(2);
      const queued = await getQueueStats(testSqs.sqs, queueUrl);
      expect(queued.visible).toBe(1);

      const again = await runCliInProcess(["dlq", "redrive", "--message", ids[1] as string]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/is not in the dead-letter queue/);
      expect((await getQueueStats(testSqs.sqs, deadLetterQueueUrl)).visible).toBe(2);
    } finally {
      process.env = previous;
    }
  });
});

describe("khctl dlq delete and purge", () => {
  /** Fresh queues with these bodies in the DLQ, their env set for the in-process khctl; ids in order. */
  async function lettersIn(bodies: string[]) {
    const queues = await testSqs.createQueuesWithDeadLetters(bodies);
    Object.assign(process.env, queues.env);
    return queues;
  }
  const dlqBodies = async () =>
    JSON.parse((await runCliInProcess(["dlq", "list", "--json"])).stdout)
      .map((l: { body: string }) => l.body)
      .sort();
  let previous: NodeJS.ProcessEnv;
  beforeEach(() => {
    previous = { ...process.env };
  });
  afterEach(() => {
    process.env = previous;
  });

  it("delete --message deletes only the messages named, after --yes (no terminal to ask on: exit 2)", async () => {
    const { queueUrl, ids } = await lettersIn(["one", "two", "three"]);
    const unasked = await runCliInProcess(["dlq", "delete", "--message", ids[0] as string]);
    expect(unasked).toMatchObject({
      code: 2,
      stderr:
        "khctl: Delete 1 message(s) from the dead-letter queue for good: no terminal to ask on, so give --yes to confirm\n",
    });
    expect(await dlqBodies()).toEqual(["one", "three", "two"]);

    const deleted = await runCliInProcess([
      "dlq",
      "delete",
      "--message",
      ids[0] as string,
      ids[2] as string,
      "--yes",
      "--json",
    ]);
    expect(deleted.stderr).toBe("");
    expect(JSON.parse(deleted.stdout).deleted.sort()).toEqual([ids[0], ids[2]].sort());
    expect(await dlqBodies()).toEqual(["two"]);
    expect((await getQueueStats(testSqs.sqs, queueUrl)).visible).toBe(0);
    const gone = await runCliInProcess(["dlq", "delete", "--message", ids[0] as string, "--yes"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(
      `khctl: message ${ids[0]} is not in the dead-letter queue: khctl dlq list shows what is\n`,
    );
  });

  it("redrive --message takes several ids and moves only those", async () => {
    const { queueUrl, ids } = await lettersIn(["a", "b", "c"]);
    const moved = await runCliInProcess(["dlq", "redrive", "--message", ids[0] as string, ids[1] as string]);
    expect(moved.stdout).toBe("Moved 2 message(s) back to the queue.\n");
    expect(await dlqBodies()).toEqual(["c"]);
    expect((await getQueueStats(testSqs.sqs, queueUrl)).visible).toBe(2);
  });

  it("purge deletes every message after --yes (without it, exit 2 and nothing goes)", async () => {
    await lettersIn(["x", "y", "z"]);
    const unasked = await runCliInProcess(["dlq", "purge"]);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toMatch(
      /^khctl: Delete all 3 message\(s\) of the dead-letter queue for good: .*--yes/,
    );
    expect(await dlqBodies()).toEqual(["x", "y", "z"]);
    const purged = await runCliInProcess(["dlq", "purge", "--yes", "--json"]);
    expect(JSON.parse(purged.stdout)).toEqual({ deleted: 3 });
    expect(await dlqBodies()).toEqual([]);
  });
});

describe("deadLetteredExecutions (khctl status, the console's Health page)", () => {
  it("names the executions whose messages are in the DLQ, and does not poll a DLQ that is empty", async () => {
    const { deadLetterQueueUrl } = await testSqs.createQueues();
    const receives: string[] = [];
    testSqs.sqs.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === "ReceiveMessageCommand") receives.push(deadLetterQueueUrl);
        return next(args);
      },
      { step: "initialize", name: "countReceives" },
    );
    try {
      expect(await deadLetteredExecutions(testSqs.sqs, deadLetterQueueUrl)).toEqual([]);
      expect(receives).toEqual([]);
      await testSqs.sqs.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: JSON.stringify({ executionId: "e1", workflowId: "w1" }),
        }),
      );
      expect(await deadLetteredExecutions(testSqs.sqs, deadLetterQueueUrl)).toEqual(["e1"]);
      expect(receives.length).toBeGreaterThan(0);
      // A peek: the message is still there, visible.
      expect((await getQueueStats(testSqs.sqs, deadLetterQueueUrl)).visible).toBe(1);
    } finally {
      testSqs.sqs.middlewareStack.remove("countReceives");
    }
  });
});
