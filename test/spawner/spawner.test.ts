import { type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../services/core/logger.js";
import { createIntake } from "../../services/intake/intake.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { createJobLauncher } from "../../services/spawner/job-launcher.js";
import { createKubeApi } from "../../services/spawner/kube.js";
import { createSpawnerMetrics } from "../../services/spawner/metrics.js";
import { type SpawnerService, startSpawnerService } from "../../services/spawner/service.js";
import { createTestDatabase } from "../helpers/database.js";
import { type K8sApiServer, startK8sApiServer } from "../helpers/k8s-api-server.js";
import { createTestSqs, type TestQueues } from "../helpers/sqs.js";
import { until } from "../helpers/wait.js";
import {
  executionState,
  insertExecution,
  insertSchedule,
  insertWorkflow,
  messageFor,
  sendMessage,
  testKubernetesConfig,
} from "./fixtures.js";

const db = await createTestDatabase();
const sqs = await createTestSqs();
let api: K8sApiServer;
let queues: TestQueues;
let service: SpawnerService | undefined;

beforeAll(async () => {
  api = await startK8sApiServer();
});
afterAll(async () => {
  await api.close();
});
afterEach(async () => {
  // At once: each test has its own queue, so nothing is left to finish (a graceful stop would wait for the poll).
  await service?.stop({ timeoutMs: 0 });
  service = undefined;
  api.clearFaults();
});

async function start(
  overrides: {
    maxConcurrentJobs?: number;
    requestTimeoutMs?: number;
    runnerNodeSelector?: Record<string, string>;
  } = {},
) {
  queues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
  const kube = createKubeApi(api.kubeConfig(), {
    namespace: "local",
    requestTimeoutMs: overrides.requestTimeoutMs ?? 5000,
  });
  service = await startSpawnerService(
    {
      db: db.pool,
      sqs: sqs.sqs,
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
      kube,
      config: testKubernetesConfig({
        maxConcurrentJobs: overrides.maxConcurrentJobs ?? 50,
        ...(overrides.runnerNodeSelector ? { runnerNodeSelector: overrides.runnerNodeSelector } : {}),
      }),
      logger: silentLogger,
      metrics: createSpawnerMetrics({ defaultMetrics: false }),
    },
    { port: 0, host: "127.0.0.1", waitTimeSeconds: 1, reconcileIntervalMs: 60_000 },
  );
  return service;
}

const queueEmpty = async () => {
  const stats = await getQueueStats(sqs.sqs, queues.queueUrl);
  return stats.visible === 0 && stats.inFlight === 0;
};
const jobsFor = (executionId: string) =>
  api.jobs().filter((job) => job.metadata.name === `wf-${executionId}`);

describe("spawner", () => {
  it("creates one valid Job per message, records job_name, and deletes the messages", async () => {
    await start();
    const workflowId = await insertWorkflow(db.pool);
    const ids = await Promise.all([1, 2, 3, 4, 5].map(() => insertExecution(db.pool, { workflowId })));
    for (const id of ids) await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));

    await until("5 Jobs and an empty queue", async () => api.jobs().length >= 5 && (await queueEmpty()));
    for (const id of ids) {
      expect(jobsFor(id)).toHaveLength(1);
      expect(await executionState(db.pool, id)).toMatchObject({ status: "pending", job_name: `wf-${id}` });
    }
    // The server validated every body (422 otherwise): each request made a Job.
    expect(api.createRequests()).toBe(5);
    const metrics = await service?.metrics.registry.metrics();
    expect(metrics).toMatch(/keeperhub_spawner_jobs_created_total 5/);
    expect(metrics).toMatch(/keeperhub_spawner_messages_received_total 5/);
  });

  it("places runner pods by RUNNER_NODE_SELECTOR (the config's nodeSelector)", async () => {
    const selector = { "kubernetes.io/hostname": "kube-node-0", pool: "runners" };
    await start({ runnerNodeSelector: selector });
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId });
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
    await until("the Job", async () => jobsFor(id).length === 1);
    const [job] = jobsFor(id) as unknown as { spec: { template: { spec: { nodeSelector?: unknown } } } }[];
    expect(job?.spec.template.spec.nodeSelector).toEqual(selector);
  });

  it("a duplicate delivery makes no second Job and no second execution row", async () => {
    await start();
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId });
    const before = api.createRequests();
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));

    await until(
      "both copies handled",
      async () => api.createRequests() - before >= 2 && (await queueEmpty()),
    );
    expect(jobsFor(id)).toHaveLength(1);
    const { rows } = await db.pool.query("SELECT id FROM workflow_executions WHERE workflow_id = $1", [
      workflowId,
    ]);
    expect(rows).toHaveLength(1);
    expect((await executionState(db.pool, id)).job_name).toBe(`wf-${id}`);
  });

  it("a crash after the create (message not deleted) makes no second Job when it is redelivered", async () => {
    queues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId });
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));

    // First life: receive with a 1 s visibility, create the Job, "crash" before delete and before job_name.
    const received = await sqs.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, VisibilityTimeout: 1, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages).toHaveLength(1);
    const kube = createKubeApi(api.kubeConfig(), { namespace: "local" });
    const { buildJobTemplate } = await import("../../services/contracts/job-template.js");
    await kube.batch.createNamespacedJob({
      namespace: "local",
      body: buildJobTemplate({ executionId: id, workflowId, config: testKubernetesConfig() }),
    });
    expect(jobsFor(id)).toHaveLength(1);

    // Second life: the spawner gets the redelivery, finds the Job there, and finishes the work.
    const restarted = await startSpawnerService(
      {
        db: db.pool,
        sqs: sqs.sqs,
        queueUrl: queues.queueUrl,
        kube,
        config: testKubernetesConfig(),
        logger: silentLogger,
        metrics: createSpawnerMetrics({ defaultMetrics: false }),
      },
      { port: null, waitTimeSeconds: 1 },
    );
    service = restarted;
    await until(
      "the redelivery handled",
      async () => (await queueEmpty()) && (await executionState(db.pool, id)).job_name,
    );
    expect(jobsFor(id)).toHaveLength(1);
    expect(await executionState(db.pool, id)).toMatchObject({ status: "pending", job_name: `wf-${id}` });
  });

  it("a message without executionId gets one execution row, however often it is delivered", async () => {
    const workflowId = await insertWorkflow(db.pool);
    const scheduleId = await insertSchedule(db.pool, workflowId);
    const kube = createKubeApi(api.kubeConfig(), { namespace: "local" });
    const launcher = createJobLauncher({
      db: db.pool,
      kube,
      config: testKubernetesConfig(),
      metrics: createSpawnerMetrics({ defaultMetrics: false }),
    });
    const handle = createIntake({ db: db.pool, launcher });
    const context = { signal: new AbortController().signal, receiveCount: 1, logger: silentLogger };
    const slot = "2026-03-01T10:00:00.000Z";
    const scheduled: Message = {
      MessageId: "m-scheduled",
      Body: JSON.stringify({ workflowId, scheduleId, triggerType: "schedule", triggerTime: slot }),
    };
    const manual: Message = {
      MessageId: "m-manual",
      Body: JSON.stringify({ workflowId, scheduleId: null, triggerType: "manual", triggerTime: slot }),
    };
    for (let delivery = 0; delivery < 3; delivery++) {
      expect(await handle(scheduled, context)).toBe("done");
      expect(await handle(manual, context)).toBe("done");
    }
    // A workflow that does not exist can never be recorded: dead-letter, not retry forever.
    const orphan: Message = {
      MessageId: "m-orphan",
      Body: JSON.stringify({ workflowId: "no-such-workflow", triggerType: "manual", triggerTime: slot }),
    };
    expect(await handle(orphan, context)).toBe("dead-letter");
    const { rows } = await db.pool.query<{
      id: string;
      schedule_id: string | null;
      scheduled_for: Date | null;
      dedup_key: string | null;
      job_name: string;
    }>(
      "SELECT id, schedule_id, scheduled_for, dedup_key, job_name FROM workflow_executions WHERE workflow_id = $1",
      [workflowId],
    );
    expect(rows).toHaveLength(2);
    // Keyed as the executor keys them: the slot for a scheduled run, the SQS message id for a manual one.
    expect(rows.find((row) => row.schedule_id === scheduleId)?.scheduled_for?.toISOString()).toBe(slot);
    expect(rows.find((row) => row.schedule_id === null)?.dedup_key).toBe("m-manual");
    for (const row of rows) {
      expect(jobsFor(row.id)).toHaveLength(1);
      expect(row.job_name).toBe(`wf-${row.id}`);
    }
  });

  it("back-pressure: at MAX_CONCURRENT_JOBS it receives nothing; finished Jobs free the slots", async () => {
    await start({ maxConcurrentJobs: 2 });
    const workflowId = await insertWorkflow(db.pool);
    const ids = await Promise.all([1, 2, 3, 4, 5].map(() => insertExecution(db.pool, { workflowId })));
    const finishActive = () => {
      for (const job of api.jobs())
        if (!job.status?.conditions) api.setJobOutcome(job.metadata.name, { succeeded: true });
    };
    // Other tests' Jobs count as active too: finish them so only this test's Jobs hold slots.
    finishActive();
    const createdBefore = api.activeAtCreate.length;
    for (const id of ids) await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
    const ours = () => api.jobs().filter((job) => job.metadata.labels["workflow-id"] === workflowId);

    await until("2 Jobs", () => ours().length === 2);
    // Let the loop ask for capacity several more times: it must keep receiving nothing.
    const lists = () => api.requests.filter((r) => r.method === "GET" && r.path.endsWith("/jobs")).length;
    const listsNow = lists();
    await until("3 more capacity checks", () => lists() >= listsNow + 3);
    expect(ours()).toHaveLength(2);
    const stats = await getQueueStats(sqs.sqs, queues.queueUrl);
    expect(stats.visible).toBe(3);
    expect(stats.inFlight).toBe(0);

    finishActive();
    await until("4 Jobs", () => ours().length === 4);
    finishActive();
    await until("5 Jobs and an empty queue", async () => ours().length === 5 && (await queueEmpty()));
    expect(Math.max(...api.activeAtCreate.slice(createdBefore))).toBeLessThanOrEqual(2);
  });

  it("a 5xx or a timeout leaves the message for redelivery; the retry creates the Job", async () => {
    await start({ requestTimeoutMs: 500 });
    const workflowId = await insertWorkflow(db.pool);
    const failing = await insertExecution(db.pool, { workflowId });
    api.fail({
      method: "POST",
      path: /\/jobs$/,
      status: 500,
      reason: "InternalError",
      message: "etcd timeout",
    });
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(failing, workflowId));
    await until(
      "the Job after a retry, recorded",
      async () => jobsFor(failing).length === 1 && (await executionState(db.pool, failing)).job_name,
      20_000,
    );
    expect(await executionState(db.pool, failing)).toMatchObject({
      status: "pending",
      job_name: `wf-${failing}`,
    });

    const slow = await insertExecution(db.pool, { workflowId });
    const before = api.createRequests();
    api.fail({ method: "POST", path: /\/jobs$/, delayMs: 1500, status: 504, reason: "Timeout" });
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(slow, workflowId));
    await until(
      "the Job after a timed-out create, recorded",
      async () => jobsFor(slow).length === 1 && (await executionState(db.pool, slow)).job_name,
      20_000,
    );
    expect(api.createRequests() - before).toBeGreaterThanOrEqual(2);
    expect((await executionState(db.pool, slow)).status).toBe("pending");
    const metrics = await service?.metrics.registry.metrics();
    expect(metrics).toMatch(/keeperhub_spawner_job_create_errors_total\{reason="InternalError"\} 1/);
    expect(metrics).toMatch(/keeperhub_spawner_job_create_errors_total\{reason="Timeout"\} 1/);
  });

  it("a 403 is retried while RBAC may still be propagating and recorded on the last receive; a full quota is always retried", async () => {
    const workflowId = await insertWorkflow(db.pool);
    const launcher = createJobLauncher({
      db: db.pool,
      kube: createKubeApi(api.kubeConfig(), { namespace: "local" }),
      config: testKubernetesConfig(),
      metrics: createSpawnerMetrics({ defaultMetrics: false }),
    });
    const handle = createIntake({ db: db.pool, launcher });
    const delivery = (id: string, receiveCount: number) =>
      handle(
        { MessageId: `m-${id}-${receiveCount}`, Body: JSON.stringify(messageFor(id, workflowId)) },
        { signal: new AbortController().signal, receiveCount, logger: silentLogger },
      );
    const forbidden = 'jobs.batch is forbidden: User "system:serviceaccount:local:job-spawner" cannot create';
    const quota = 'jobs.batch "wf-x" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1';

    const rbac = await insertExecution(db.pool, { workflowId });
    for (const receiveCount of [1, 2, 3]) {
      api.fail({ method: "POST", path: /\/jobs$/, status: 403, reason: "Forbidden", message: forbidden });
      expect(await delivery(rbac, receiveCount)).toBe("retry");
      expect((await executionState(db.pool, rbac)).status).toBe("pending");
    }
    api.fail({ method: "POST", path: /\/jobs$/, status: 403, reason: "Forbidden", message: forbidden });
    expect(await delivery(rbac, 4)).toBe("done");
    expect((await executionState(db.pool, rbac)).error).toContain(forbidden);

    const full = await insertExecution(db.pool, { workflowId });
    api.fail({ method: "POST", path: /\/jobs$/, status: 403, reason: "Forbidden", message: quota });
    expect(await delivery(full, 4)).toBe("retry");
    expect((await executionState(db.pool, full)).status).toBe("pending");
  });

  it.each([
    [422, "Invalid", 'Job.batch "wf-x" is invalid: spec.template.spec.containers[0].image: Required value'],
    [
      400,
      "BadRequest",
      'Job in version "v1" cannot be handled as a Job: strict decoding error: unknown field "spec.bogus"',
    ],
  ])(
    "a %i marks the execution error with the API's reason and deletes the message",
    async (status, reason, message) => {
      await start();
      const workflowId = await insertWorkflow(db.pool);
      const scheduleId = await insertSchedule(db.pool, workflowId);
      const id = await insertExecution(db.pool, { workflowId, scheduleId });
      api.fail({ method: "POST", path: /\/jobs$/, status, reason, message });
      await sendMessage(
        sqs.sqs,
        queues.queueUrl,
        messageFor(id, workflowId, { scheduleId, triggerType: "schedule" }),
      );

      const state = await until("the execution marked error", async () => {
        const current = await executionState(db.pool, id);
        return current.status === "error" ? current : null;
      });
      expect(state.error).toContain(reason);
      expect(state.error).toContain(message);
      expect(jobsFor(id)).toHaveLength(0);
      await until("the message deleted", queueEmpty);
      const { rows } = await db.pool.query(
        "SELECT last_status, last_error FROM workflow_schedules WHERE id = $1",
        [scheduleId],
      );
      expect(rows[0]).toMatchObject({ last_status: "error" });
      expect(rows[0].last_error).toContain(reason);
    },
  );

  it("a malformed message goes to the DLQ and the rest of the batch still gets Jobs", async () => {
    await start();
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId });
    await sendMessage(sqs.sqs, queues.queueUrl, "{not json");
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
    await until("the good one's Job", () => jobsFor(id).length === 1);
    await until("the bad one in the DLQ", async () => {
      const stats = await getQueueStats(sqs.sqs, queues.queueUrl, queues.deadLetterQueueUrl);
      return stats.deadLetter === 1 && stats.visible === 0 && stats.inFlight === 0;
    });
  });

  it("a finished execution gets no Job", async () => {
    await start();
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId, status: "cancelled" });
    await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
    await until("the message handled", queueEmpty);
    expect(jobsFor(id)).toHaveLength(0);
    expect((await executionState(db.pool, id)).status).toBe("cancelled");
  });

  it("graceful stop finishes creates in flight and then receives nothing", async () => {
    await start();
    const workflowId = await insertWorkflow(db.pool);
    const ids = await Promise.all([1, 2, 3].map(() => insertExecution(db.pool, { workflowId })));
    const before = api.createRequests();
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    api.fail({ method: "POST", path: /\/jobs$/, holdUntil: released, times: 3 });
    for (const id of ids) await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
    await until("3 creates in flight", () => api.createRequests() - before === 3);
    expect(ids.filter((id) => jobsFor(id).length === 1)).toEqual([]);

    // The stop begins while all three are held; they complete only after it has begun.
    const stopped = service?.stop({ timeoutMs: 10_000 });
    service = undefined;
    release();
    await stopped;
    for (const id of ids) {
      expect(jobsFor(id)).toHaveLength(1);
      expect((await executionState(db.pool, id)).job_name).toBe(`wf-${id}`);
    }
    expect(await queueEmpty()).toBe(true);
  });
});
