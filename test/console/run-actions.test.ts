import { once } from "node:events";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../services/core/logger.js";
import { listStepLogs } from "../../services/db/execution-logs.js";
import { createExecution, getExecution } from "../../services/db/executions.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { type ExecutionEndEvent, type Executor, startExecutor } from "../../services/executor/index.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { builtRunner } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { until, within } from "../helpers/wait.js";
import { startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { formToken, postAsPage, request, startTestConsole } from "./fixtures.js";

// Re-run and cancel on an execution's page, against embedded Postgres, fauxqs and the real executor.

const db = await createTestDatabase();
const testSqs = await createTestSqs();
const queues = await testSqs.createQueues();
const web = await startTestConsole(db, testSqs, queues);
const base = web.url;
const server = await startTestServer();

async function store(name: string, endpoint = `${server.base}/json`): Promise<string> {
  const definition = workflow(
    [trigger(), action("call", "HTTP Request", { endpoint }, { label: "Call" })],
    edges("t->call"),
    name,
  );
  return (await createWorkflow(db.pool, { definition: validateWorkflow(definition) })).workflow.id;
}

const quick = await store("Quick");
// A second console whose queue only the executor below consumes.
const own = await testSqs.createQueues();
const console2 = await startTestConsole(db, testSqs, own);
const token2 = await formToken(console2.url);
const token = await formToken(base);
const countExecutions = async () =>
  (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM workflow_executions")).rows[0]?.n;

async function finished(status: "success" | "error", input: Record<string, unknown> = {}): Promise<string> {
  const id = await createExecution(db.pool, {
    workflowId: quick,
    triggerType: "manual",
    input,
    enqueued: true,
  });
  await db.pool.query(
    `UPDATE workflow_executions SET status = $2, started_at = now(), completed_at = now(), duration_ms = 5,
       error = CASE WHEN $2 = 'error' THEN 'boom' END WHERE id = $1`,
    [id, status],
  );
  return id;
}

describe("re-run", () => {
  it("creates a new manual execution of the same workflow with the same input, and enqueues it", async () => {
    const original = await finished("error", { city: "Berlin", n: 2 });
    const shown = await request(base, `/executions/${original}`);
    expect(shown.body).toContain(`action="/executions/${original}/rerun"`);
    expect(shown.body).not.toContain(`action="/executions/${original}/cancel"`);

    const answer = await postAsPage(base, `/executions/${original}/rerun`, token);
    expect(answer.status).toBe(303);
    const rerun = new RegExp(`^/executions/([0-9a-z]{21})\\?notice=rerun&id=${original}$`).exec(
      answer.headers.location ?? "",
    )?.[1] as string;
    expect(rerun).toBeDefined();
    expect(rerun).not.toBe(original);
    const row = await getExecution(db.pool, rerun);
    expect(row).toMatchObject({
      workflow_id: quick,
      trigger_type: "manual",
      status: "pending",
      input: { city: "Berlin", n: 2 },
    });
    expect(row?.enqueued_at).not.toBeNull();
    const received = await testSqs.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, WaitTimeSeconds: 1 }),
    );
    const bodies = (received.Messages ?? []).map((m) => JSON.parse(m.Body as string));
    expect(bodies).toMatchObject([{ executionId: rerun, workflowId: quick, triggerType: "manual" }]);
    expect((await request(base, answer.headers.location as string)).body).toContain(
      `Re-run of <code>${original}</code>`,
    );
  });
});

describe("cancel", () => {
  it("refuses a finished run in one line and changes nothing; an unknown one is a 404", async () => {
    const done = await finished("success");
    const answer = await postAsPage(base, `/executions/${done}/cancel`, token);
    expect(answer.headers.location).toBe(`/executions/${done}?notice=not-cancellable`);
    const page = await request(base, answer.headers.location as string);
    expect(page.body).toContain(
      '<p class="notice" role="status">Not cancelled: this run has already ended; only a pending or running run can be cancelled.</p>',
    );
    expect(await getExecution(db.pool, done)).toMatchObject({ status: "success", error: null });
    expect((await postAsPage(base, `/executions/${"z".repeat(21)}/cancel`, token)).status).toBe(404);
  });

  it("refuses a POST without the console's token or from another site: nothing is cancelled or re-run", async () => {
    const pending = await createExecution(db.pool, {
      workflowId: quick,
      triggerType: "manual",
      enqueued: true,
    });
    const before = await countExecutions();
    const attempts = await Promise.all([
      request(base, `/executions/${pending}/cancel`, { form: {} }),
      request(base, `/executions/${pending}/cancel`, { form: { token: "stale" } }),
      request(base, `/executions/${pending}/rerun`, {
        headers: { "sec-fetch-site": "cross-site" },
        form: { token },
      }),
      request(base, `/executions/${pending}/rerun`, {
        headers: { origin: "http://evil.test" },
        form: { token },
      }),
    ]);
    expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    expect((await getExecution(db.pool, pending))?.status).toBe("pending");
    expect(await countExecutions()).toBe(before);
  });

  describe("with the executor running khctl run children", () => {
    let executor: Executor | undefined;
    const ends: ExecutionEndEvent[] = [];
    const starts: string[] = [];
    const skips: string[] = [];
    afterAll(() => executor?.stop({ timeoutMs: 5_000 }));
    const startOwnExecutor = () => {
      if (executor) return;
      executor = startExecutor({
        pool: db.pool,
        sqs: testSqs.sqs,
        queueUrl: own.queueUrl,
        logger: createLogger("executor", { LOG_LEVEL: "warn" }),
        waitTimeSeconds: 1,
        warmRunners: 0,
        cancelCheckIntervalMs: 100,
        runner: builtRunner({ DATABASE_URL: db.url }),
      });
      executor.events.on("start", (e) => starts.push(e.executionId));
      executor.events.on("end", (e) => ends.push(e));
      executor.events.on("skip", (e) => skips.push(e.executionId));
    };
    const triggerOn = async (workflowId: string) => {
      const answer = await postAsPage(console2.url, `/workflows/${workflowId}/trigger`, token2);
      return /\/executions\/([0-9a-z]{21})/.exec(answer.headers.location ?? "")?.[1] as string;
    };

    it("a pending run is cancelled and never run: the executor takes its message and skips it", async () => {
      const id = await triggerOn(quick);
      const answer = await postAsPage(console2.url, `/executions/${id}/cancel`, token2);
      expect(answer.headers.location).toBe(`/executions/${id}?notice=cancelled-pending`);
      expect(await getExecution(db.pool, id)).toMatchObject({
        status: "cancelled",
        started_at: null,
        error: "cancelled from the console",
      });
      startOwnExecutor();
      await until("the executor to skip the cancelled run's message", () => skips.includes(id));
      expect(starts).not.toContain(id);
      expect((await getExecution(db.pool, id))?.status).toBe("cancelled");
      const page = await request(console2.url, answer.headers.location as string);
      expect(page.body).toContain("Cancelled: the run had not started, and never will.");
      expect(page.body).not.toContain(`action="/executions/${id}/cancel"`);
    });

    it("a running run is cancelled: the executor sends its runner SIGTERM, the step in flight is aborted", async () => {
      startOwnExecutor();
      const slow = await store("Slow", `${server.base}/slow`);
      const inFlight = once(server.events, "slow");
      const id = await triggerOn(slow);
      await within(inFlight, 20_000, "the slow step's request");
      expect((await getExecution(db.pool, id))?.status).toBe("running");
      const aborted = once(server.events, "slow-closed");
      const answer = await postAsPage(console2.url, `/executions/${id}/cancel`, token2);
      expect(answer.headers.location).toBe(`/executions/${id}?notice=cancelled-running`);
      await within(aborted, 20_000, "the runner to abort its request");
      const end = await until("the run's end", () => ends.find((e) => e.executionId === id));
      expect(end.status).toBe("cancelled");
      const row = await getExecution(db.pool, id);
      expect(row).toMatchObject({ status: "cancelled", error: "cancelled from the console" });
      expect(row?.duration_ms).toBeGreaterThanOrEqual(0);
      const steps = await listStepLogs(db.pool, id);
      expect(steps.find((s) => s.node_id === "call")?.status).not.toBe("running");
    });
  });
});
