import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isTerminal } from "../../services/contracts/names.js";
import { silentLogger } from "../../services/core/logger.js";
import { migrate } from "../../services/db/migrate.js";
import { createPool } from "../../services/db/pool.js";
import { staleRunPolicy } from "../../services/db/stale-run-policy.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { startDispatcherLoop } from "../../services/dispatcher/dispatcher.js";
import { triggerWorkflow } from "../../services/dispatcher/trigger.js";
import { freePort, startEmbeddedPostgres } from "../../services/embedded/postgres.js";
import { startExecutor } from "../../services/executor/executor.js";
import { sendWorkflowMessages } from "../../services/queue/send.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { builtRunner } from "../helpers/cli-process.js";
import { createTestSqs } from "../helpers/sqs.js";
import { createTempDir } from "../helpers/temp.js";
import { scaled, until } from "../helpers/wait.js";
import { startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

// A database outage under load, end to end: a Postgres of this file's own is stopped for longer than the
// queue's redrive budget while executions wait, then started again. Every execution must end, none may
// run twice, and no message may be dead-lettered for the outage.

const dataDir = path.join(await createTempDir("kh-outage"), "postgres");
const port = await freePort();
let postgres = await startEmbeddedPostgres({ dataDir, port });
afterAll(() => postgres.stop());
const url = postgres.url;
await migrate(url);
const pool = createPool(url, { max: 8, logger: silentLogger });
afterAll(() => pool.end());
const testSqs = await createTestSqs();
const server = await startTestServer();

/** Visibility of received messages, and of a retried one after its first receive (doubling), s. */
const VISIBILITY = 2;
const RETRY_BASE = 1;
/**
 * Longer than the redrive budget: five receives of a failing message, at these visibilities, take at most
 * 2 + 1 + 2 + 4 + 8 s. Without the pause, every waiting message would be dead-lettered.
 */
const OUTAGE_MS = 20_000;

describe("a database outage under load", () => {
  it(
    "ends every execution, runs none twice, and dead-letters nothing",
    async () => {
      const { queueUrl, deadLetterQueueUrl } = await testSqs.createQueues({
        visibilityTimeoutSeconds: VISIBILITY,
      });
      const send = (messages: Parameters<typeof sendWorkflowMessages>[2]) =>
        sendWorkflowMessages(testSqs.sqs, queueUrl, messages);
      const { workflow: row } = await createWorkflow(pool, {
        definition: validateWorkflow(
          workflow(
            [trigger(), action("get", "HTTP Request", { endpoint: `${server.base}/` })],
            edges("t->get"),
          ),
        ),
      });
      const executor = startExecutor({
        pool,
        sqs: testSqs.sqs,
        queueUrl,
        deadLetterQueueUrl,
        logger: silentLogger,
        concurrency: 4,
        waitTimeSeconds: 1,
        visibilityTimeoutSeconds: VISIBILITY,
        retryBaseSeconds: RETRY_BASE,
        runner: builtRunner({ DATABASE_URL: url }),
        staleRuns: {
          policy: staleRunPolicy({ runTimeoutMs: 5_000, lostRunGraceSeconds: 2, pendingLimitSeconds: 4 }),
          intervalMs: 500,
        },
      });
      const dispatcher = startDispatcherLoop({ pool, send, logger: silentLogger, intervalMs: 500 });
      afterAll(async () => {
        await dispatcher.stop();
        await executor.stop({ timeoutMs: 0 });
      });

      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await triggerWorkflow(pool, send, row.id)).executionId);
      await postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      postgres = await startEmbeddedPostgres({ dataDir, port });

      await until(
        "every execution finished",
        async () => {
          const { rows } = await pool.query<{ status: string }>(
            "SELECT status FROM workflow_executions WHERE id = ANY($1)",
            [ids],
          );
          return rows.length === ids.length && rows.every((r) => isTerminal(r.status));
        },
        90_000,
      );
      const { rows: runs } = await pool.query<{ execution_id: string; n: number }>(
        `SELECT execution_id, count(*)::int AS n FROM workflow_execution_logs
        WHERE execution_id = ANY($1) AND node_id = 't' GROUP BY execution_id`,
        [ids],
      );
      expect(runs.filter((r) => r.n > 1)).toEqual([]);
      const stats = await getQueueStats(testSqs.sqs, queueUrl, deadLetterQueueUrl);
      expect(stats.deadLetter).toBe(0);
      const { rows: statuses } = await pool.query<{ status: string; n: number }>(
        "SELECT status, count(*)::int AS n FROM workflow_executions WHERE id = ANY($1) GROUP BY status",
        [ids],
      );
      // Runs cut off by the outage end as error ("runner lost"); the others ran.
      expect(statuses.find((s) => s.status === "success")?.n ?? 0).toBeGreaterThan(0);
    },
    scaled(180_000),
  );
});
