import { describe, expect, it } from "vitest";
import { jobNameFor } from "../../../services/contracts/names.js";
import { getQueueStats } from "../../../services/queue/stats.js";
import { createTestDatabase } from "../../helpers/database.js";
import { createTestSqs } from "../../helpers/sqs.js";
import { scaled, until } from "../../helpers/wait.js";
import { getJob, jobReaches, stopApiServer } from "./cluster.js";
import { enqueue, gatedExecution, spawnerNamespace, startGate, startSpawner, statusOf } from "./fixtures.js";

// The kube-apiserver stopped under a running spawner while messages wait, then started again: nothing is
// lost or dead-lettered, each message becomes exactly one Job once the API is back, and the spawner backs
// off its capacity check meanwhile instead of logging a warning every second.

const db = await createTestDatabase();
const sqs = await createTestSqs();
const queues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
const gate = await startGate();
const space = await spawnerNamespace(db, sqs, queues);
const spawner = await startSpawner(db, sqs, queues, space);

const capacityFailures = () => spawner.lines.filter((line) => line.msg === "capacity check failed; pausing");

describe("the Kubernetes API server stopped and started again", () => {
  it(
    "messages sent while it is down wait in the queue and each becomes one Job when it is back",
    async () => {
      const executions = await Promise.all([1, 2, 3].map(() => gatedExecution(db.pool, gate)));
      for (const execution of executions) gate.release(execution.key);

      // It refuses connections soon after SIGTERM, well before its process has exited.
      const stoppedAt = Date.now();
      const start = await stopApiServer();
      let outageMs: number;
      try {
        for (const execution of executions) await enqueue(sqs, queues, execution);
        await until("3 failed capacity checks", () => capacityFailures().length >= 3, 60_000);
        const stats = await getQueueStats(sqs.sqs, queues.queueUrl, queues.deadLetterQueueUrl);
        expect(stats.visible + stats.inFlight).toBe(3);
        expect(stats.deadLetter).toBe(0);
      } finally {
        await start();
        outageMs = Date.now() - stoppedAt;
      }

      // The spawner's part: every message becomes its Job soon after the API answers again.
      await until(
        "the 3 Jobs created",
        async () =>
          (
            await Promise.all(executions.map((e) => getJob(space.namespace, jobNameFor(e.executionId))))
          ).every(Boolean),
        60_000,
      );
      // The cluster's part takes longer: kwok's node went NotReady in the outage and its pod watch recovers
      // with backoff (about 90 s here).
      for (const execution of executions) {
        await statusOf(db.pool, execution.executionId, "success", 180_000);
        await jobReaches(space.namespace, jobNameFor(execution.executionId), "Complete");
      }
      const stats = await getQueueStats(sqs.sqs, queues.queueUrl, queues.deadLetterQueueUrl);
      expect(stats).toMatchObject({ visible: 0, inFlight: 0, deadLetter: 0 });

      // Backed off: each pause at least half a ceiling that doubles from 1 s (to 30 s), so an outage logs
      // a handful of warnings, not one every 0.5-1 s.
      const minimumPause = (attempt: number) => Math.min(500 * 2 ** attempt, 15_000);
      const failures = capacityFailures();
      failures.forEach((line, attempt) => {
        expect(line.retryInMs).toBeGreaterThanOrEqual(minimumPause(attempt));
      });
      let most = 0;
      for (let elapsed = 0; elapsed <= outageMs; most++) elapsed += minimumPause(most);
      expect(failures.length).toBeLessThanOrEqual(most + 1);
      expect(spawner.lines.some((line) => line.msg === "capacity check works again")).toBe(true);
    },
    scaled(300_000),
  );
});
