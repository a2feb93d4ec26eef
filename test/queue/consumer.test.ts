import diagnosticsChannel from "node:diagnostics_channel";
import type http from "node:http";
import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseWorkflowMessage } from "../../services/contracts/message.js";
import { silentLogger } from "../../services/core/logger.js";
import { RECEIVE_CLAIM_SECONDS, startConsumer } from "../../services/queue/consumer.js";
import type { HandleOutcome } from "../../services/queue/consumer-types.js";
import { sendWorkflowMessage, sendWorkflowMessages } from "../../services/queue/send.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { createTestSqs } from "../helpers/sqs.js";
import { scaled, until, within } from "../helpers/wait.js";

const sqsTest = await createTestSqs();
const { sqs } = sqsTest;

const message = (n: number) => ({
  workflowId: `wf-${n}`,
  triggerType: "manual" as const,
  triggerTime: new Date().toISOString(),
  input: { n },
});

/** A deferred promise: tests release handlers explicitly instead of sleeping. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** The file's SQS client, resolving `polling` once a receive has been sent through it. */
function announcingReceives(): { client: SQSClient; polling: Promise<void> } {
  let sent = () => {};
  const polling = new Promise<void>((resolve) => {
    sent = resolve;
  });
  const client = {
    send: (command: unknown, options?: unknown) => {
      if (command instanceof ReceiveMessageCommand) sent();
      return (sqs.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    },
  } as unknown as SQSClient;
  return { client, polling };
}

/**
 * Resolves once the next ReceiveMessage request of this process has been written out whole and the
 * in-process server has had time to read it: its long poll is then waiting there.
 */
function receiveReachingServer(): Promise<void> {
  return new Promise((resolve) => {
    const onStart = (message: unknown) => {
      const { request } = message as { request: http.ClientRequest };
      if (request.getHeader("x-amz-target") !== "AmazonSQS.ReceiveMessage") return;
      diagnosticsChannel.unsubscribe("http.client.request.start", onStart);
      request.once("finish", () => setTimeout(resolve, 50));
    };
    diagnosticsChannel.subscribe("http.client.request.start", onStart);
  });
}

/** The first message another consumer receives from the queue within `ms`, or undefined. */
async function receiveWithin(queueUrl: string, ms: number): Promise<Message | undefined> {
  const deadline = Date.now() + scaled(ms);
  while (Date.now() < deadline) {
    const waitSeconds = Math.max(1, Math.min(20, Math.floor((deadline - Date.now()) / 1000)));
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
    if (Messages?.[0]) return Messages[0];
  }
  return undefined;
}

describe("consumer loop", () => {
  it("handles every message, never more at once than the concurrency limit, and deletes them on done", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    await sendWorkflowMessages(
      sqs,
      queueUrl,
      Array.from({ length: 12 }, (_, n) => message(n)),
    );
    let running = 0;
    let peak = 0;
    const seen = new Set<number>();
    const gates: (() => void)[] = [];
    const consumer = startConsumer({
      sqs,
      queueUrl,
      concurrency: 3,
      waitTimeSeconds: 1,
      logger: silentLogger,
      handle: async (m) => {
        running++;
        peak = Math.max(peak, running);
        const gate = deferred();
        gates.push(gate.resolve);
        await gate.promise;
        seen.add(parseWorkflowMessage(m.Body ?? "").input?.n as number);
        running--;
        return "done";
      },
    });
    // Release handlers one by one, as the loop fills its slots.
    for (let released = 0; released < 12; released++) {
      const gate = await until("a handler waiting", () => gates.shift());
      if (!gate) throw new Error("no gate");
      gate();
    }
    await until("12 messages seen", () => seen.size === 12);
    await consumer.stop();
    expect(peak).toBe(3);
    expect(seen.size).toBe(12);
    const stats = await getQueueStats(sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("with no DLQ given, dead-letters to the one the queue's redrive policy names, on the first receive", async () => {
    const { queueUrl, deadLetterQueueUrl } = await sqsTest.createQueues();
    const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "{not json" }));
    let receives = 0;
    const consumer = startConsumer({
      sqs,
      queueUrl,
      waitTimeSeconds: 1,
      logger: silentLogger,
      handle: async () => {
        receives++;
        return "dead-letter";
      },
    });
    try {
      await until(
        "the message in the DLQ",
        async () => (await getQueueStats(sqs, queueUrl, deadLetterQueueUrl)).deadLetter === 1,
      );
    } finally {
      await consumer.stop();
    }
    // Moved by the consumer itself, not after the redrive policy's five receives.
    expect(receives).toBe(1);
    const stats = await getQueueStats(sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("processes the rest of a batch around poison: malformed goes to the DLQ, a throw is retried", async () => {
    const { queueUrl, deadLetterQueueUrl } = await sqsTest.createQueues();
    await sendWorkflowMessages(sqs, queueUrl, [message(1), message(2), message(3)]);
    const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "{not json" }));
    await sendWorkflowMessage(sqs, queueUrl, { ...message(99), workflowId: "throws" });
    const { logger, lines } = captureLogger();
    const handled: string[] = [];
    const consumer = startConsumer({
      sqs,
      queueUrl,
      deadLetterQueueUrl,
      waitTimeSeconds: 1,
      logger,
      handle: async (m): Promise<HandleOutcome> => {
        let body: ReturnType<typeof parseWorkflowMessage>;
        try {
          body = parseWorkflowMessage(m.Body ?? "");
        } catch {
          return "dead-letter";
        }
        if (body.workflowId === "throws") throw new Error("boom");
        handled.push(body.workflowId);
        return "done";
      },
    });
    await until("3 attempts handled", () => handled.length === 3);
    await until(
      "the message in the DLQ",
      async () => (await getQueueStats(sqs, queueUrl, deadLetterQueueUrl)).deadLetter === 1,
    );
    await until("a retry logged", () =>
      lines.some((line) => line.msg === "handler failed; message will be retried"),
    );
    await consumer.stop();
    expect(handled.sort()).toEqual(["wf-1", "wf-2", "wf-3"]);
    const failure = lines.find((line) => line.msg === "handler failed; message will be retried");
    expect(failure?.messageId).toEqual(expect.any(String));
    // The throwing message is still in the queue (hidden for its retry backoff), not lost and not in the DLQ.
    const stats = await getQueueStats(sqs, queueUrl, deadLetterQueueUrl);
    expect(stats.visible + stats.inFlight).toBe(1);
    expect(stats.deadLetter).toBe(1);
    const dlq = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    expect(dlq.Messages?.map((m) => m.Body)).toEqual(["{not json"]);
  });

  it("keeps a long-running message invisible with a heartbeat, so nobody else receives it", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    await sendWorkflowMessage(sqs, queueUrl, message(1));
    const started = deferred<Message>();
    const release = deferred();
    const consumer = startConsumer({
      sqs,
      queueUrl,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: 2,
      logger: silentLogger,
      handle: async (m) => {
        started.resolve(m);
        await release.promise;
        return "done";
      },
    });
    await started.promise;
    // Another receiver polls for longer than the visibility timeout: without the heartbeat it would get the message.
    const other = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 4 }),
    );
    expect(other.Messages ?? []).toHaveLength(0);
    release.resolve();
    await consumer.stop();
    const stats = await getQueueStats(sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
  });

  it("stops gracefully: stops receiving, aborts work after the timeout and releases its message at once", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    await sendWorkflowMessage(sqs, queueUrl, message(1));
    const started = deferred();
    let aborted = false;
    const consumer = startConsumer({
      sqs,
      queueUrl,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: 60,
      logger: silentLogger,
      handle: async (_m, { signal }) => {
        started.resolve();
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        aborted = true;
        return "retry";
      },
    });
    await started.promise;
    await consumer.stop({ timeoutMs: 100 });
    await consumer.done;
    expect(aborted).toBe(true);
    // Released with visibility 0: receivable now, not after the 60 s visibility timeout.
    const again = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 2,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
    // (The poll in flight when the stop began ends by itself: it may take the message too, and give it back.)
    expect(Number(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(2);
  });

  it("does not receive while capacity() says 0, and stop() is idempotent", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    await sendWorkflowMessages(sqs, queueUrl, [message(1), message(2)]);
    let asked = 0;
    let handled = 0;
    const consumer = startConsumer({
      sqs,
      queueUrl,
      waitTimeSeconds: 1,
      logger: silentLogger,
      capacity: () => {
        asked++;
        return 0;
      },
      handle: async () => {
        handled++;
        return "done";
      },
    });
    await until("2 receives", () => asked >= 2);
    await Promise.all([consumer.stop(), consumer.stop()]);
    expect(handled).toBe(0);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe("2");
  });

  it("backs off and keeps going when receives fail, and still stops", async () => {
    const { logger, lines } = captureLogger();
    const consumer = startConsumer({
      sqs,
      queueUrl: `${sqsTest.endpoint}/000000000000/no-such-queue`,
      waitTimeSeconds: 1,
      logger,
      handle: async () => "done",
    });
    await until(
      "2 failed receives logged",
      () => lines.filter((line) => line.msg === "receive failed").length >= 2,
    );
    await consumer.stop();
    const delays = lines.filter((line) => line.msg === "receive failed").map((line) => line.retryInMs);
    expect(delays.every((ms) => typeof ms === "number" && ms >= 0)).toBe(true);
  });

  it("backs off the capacity check while it fails, and says when it works again", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    const { logger, lines } = captureLogger();
    let failing = true;
    const consumer = startConsumer({
      sqs,
      queueUrl,
      waitTimeSeconds: 1,
      logger,
      capacity: () => {
        if (failing) throw new Error("connect ECONNREFUSED 127.0.0.1:16443");
        return 1;
      },
      handle: async () => "done",
    });
    const failures = () => lines.filter((line) => line.msg === "capacity check failed; pausing");
    await until("2 failed capacity checks", () => failures().length >= 2);
    // Each pause is at least half of a ceiling that doubles from 1 s, not a fixed 0.5-1 s.
    const pauses = failures().map((line) => line.retryInMs as number);
    pauses.slice(0, 2).forEach((ms, attempt) => {
      expect(ms).toBeGreaterThanOrEqual(500 * 2 ** attempt);
      expect(ms).toBeLessThanOrEqual(1000 * 2 ** attempt);
    });
    failing = false;
    await until("the recovery logged", () => lines.some((line) => line.msg === "capacity check works again"));
    await consumer.stop();
  });

  it(
    "a graceful stop aborts the long poll in flight: what SQS hands the dead poll comes back after the claim",
    async () => {
      const { queueUrl } = await sqsTest.createQueues();
      let handled = 0;
      const polling = receiveReachingServer();
      const consumer = startConsumer({
        sqs,
        queueUrl,
        waitTimeSeconds: 20,
        // Hidden this long, the message below would not come back within the test.
        visibilityTimeoutSeconds: 3600,
        logger: silentLogger,
        handle: async () => {
          handled++;
          return "done";
        },
      });
      await polling;
      // Well before the 20 s poll would end by itself, though work in flight could have 30 s.
      await within(consumer.stop({ timeoutMs: 30_000 }), 10_000, "the graceful stop");
      // The server did not learn that the client left: its poll is still waiting, and takes this message.
      await sendWorkflowMessage(sqs, queueUrl, message(1));
      expect(handled).toBe(0);
      const again = await receiveWithin(queueUrl, (RECEIVE_CLAIM_SECONDS + 20) * 1000);
      // Received once by the dead poll, then redelivered: hidden for the claim, not the visibility timeout.
      expect(again?.Attributes?.ApproximateReceiveCount).toBe("2");
    },
    scaled(60_000),
  );

  it("messages a poll returned as the stop's abort landed are given back at once, not handled", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    let handled = 0;
    let sent = () => {};
    const polling = new Promise<void>((resolve) => {
      sent = resolve;
    });
    // The answer was already on its way when the abort landed: the receive resolves despite it.
    const client = {
      send: (command: unknown, options?: { abortSignal?: AbortSignal }) => {
        const passOn = command instanceof ReceiveMessageCommand ? undefined : options;
        if (command instanceof ReceiveMessageCommand) sent();
        return (sqs.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, passOn);
      },
    } as unknown as SQSClient;
    const consumer = startConsumer({
      sqs: client,
      queueUrl,
      waitTimeSeconds: 5,
      visibilityTimeoutSeconds: 3600,
      logger: silentLogger,
      handle: async () => {
        handled++;
        return "done";
      },
    });
    await polling;
    const stopped = consumer.stop({ timeoutMs: 30_000 });
    await sendWorkflowMessage(sqs, queueUrl, message(1));
    await within(stopped, 10_000, "the graceful stop");
    expect(handled).toBe(0);
    // Given back with visibility 0: receivable now, not after the claim or the visibility timeout.
    const again = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 2,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
    expect(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe("2");
  });

  it(
    "a message handled past the receive's claim is kept invisible for the whole visibility timeout",
    async () => {
      const { queueUrl } = await sqsTest.createQueues();
      await sendWorkflowMessage(sqs, queueUrl, message(1));
      const release = deferred();
      const started = deferred();
      const consumer = startConsumer({
        sqs,
        queueUrl,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: 3600,
        logger: silentLogger,
        handle: async () => {
          started.resolve();
          await release.promise;
          return "retry";
        },
      });
      try {
        await started.promise;
        // Past the claim: the first heartbeat (at half of it) made it invisible for the hour; nobody else gets it.
        const other = await receiveWithin(queueUrl, (RECEIVE_CLAIM_SECONDS + 3) * 1000);
        expect(other).toBeUndefined();
      } finally {
        release.resolve();
        await consumer.stop();
      }
    },
    scaled(60_000),
  );

  it("a forced stop aborts the long poll in flight", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    const { client, polling } = announcingReceives();
    const consumer = startConsumer({
      sqs: client,
      queueUrl,
      waitTimeSeconds: 20,
      logger: silentLogger,
      handle: async () => "done",
    });
    await polling;
    // Well before the 20 s poll would end by itself.
    await within(consumer.stop({ timeoutMs: 0 }), 5000, "the forced stop");
  });

  it("a stop does not wait for a capacity check that hangs (an API server that does not answer)", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    const asked = deferred();
    const consumer = startConsumer({
      sqs,
      queueUrl,
      waitTimeSeconds: 1,
      logger: silentLogger,
      capacity: () => {
        asked.resolve();
        return new Promise<number>(() => {});
      },
      handle: async () => "done",
    });
    await asked.promise;
    await within(consumer.stop(), 5000, "the stop during a capacity check that never answers");
  });

  it("long-polls as the queue says when not told, and does not spin on a queue that does not long-poll", async () => {
    const { queueUrl } = await sqsTest.createQueues({ receiveWaitSeconds: 0 });
    const waits: (number | undefined)[] = [];
    const counting = {
      send: (command: unknown, options?: unknown) => {
        if (command instanceof ReceiveMessageCommand) waits.push(command.input.WaitTimeSeconds);
        return (sqs.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      },
    } as unknown as SQSClient;
    const startedAt = Date.now();
    const consumer = startConsumer({
      sqs: counting,
      queueUrl,
      logger: silentLogger,
      handle: async () => "done",
    });
    await until("3 receives", () => waits.length >= 3);
    // Each empty answer that came at once is followed by a pause of at least 0.5 s.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
    await consumer.stop();
    expect(waits.every((wait) => wait === undefined)).toBe(true);
  });

  it("deletes handled messages ten to a call, and a stop sends the deletes still pending", async () => {
    const { queueUrl } = await sqsTest.createQueues();
    await sendWorkflowMessages(
      sqs,
      queueUrl,
      Array.from({ length: 30 }, (_, n) => message(n)),
    );
    const commands: string[] = [];
    const client = {
      send: (command: { constructor: { name: string } }, options?: unknown) => {
        commands.push(command.constructor.name);
        return (sqs.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      },
    } as unknown as SQSClient;
    let handled = 0;
    const consumer = startConsumer({
      sqs: client,
      queueUrl,
      concurrency: 10,
      waitTimeSeconds: 1,
      logger: silentLogger,
      handle: async () => {
        handled++;
        return "done";
      },
    });
    await until("every message handled", () => handled >= 30);
    // Stopped before the last deletes' linger is over: the stop must send them.
    await consumer.stop();
    const stats = await getQueueStats(sqs, queueUrl);
    expect(stats.visible + stats.inFlight).toBe(0);
    expect(commands).not.toContain("DeleteMessageCommand");
    const batches = commands.filter((name) => name === "DeleteMessageBatchCommand").length;
    expect(batches).toBeGreaterThanOrEqual(3);
    expect(batches).toBeLessThan(30);
  });
});
