import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildJobTemplate } from "../../services/contracts/job-template.js";
import { MAX_SENDS } from "../../services/contracts/names.js";
import { silentLogger } from "../../services/core/logger.js";
import { startPeriodic } from "../../services/core/periodic.js";
import { listStepLogs, recordStepStart } from "../../services/db/execution-logs.js";
import { cancelExecution } from "../../services/db/executions.js";
import { createKubeApi } from "../../services/spawner/kube.js";
import { createSpawnerMetrics } from "../../services/spawner/metrics.js";
import { createReconciler, JOB_GONE_GRACE_MS, type Reconciler } from "../../services/spawner/reconciler.js";
import { createTestDatabase } from "../helpers/database.js";
import { type K8sApiServer, startK8sApiServer } from "../helpers/k8s-api-server.js";
import { until } from "../helpers/wait.js";
import {
  executionState,
  insertExecution,
  insertSchedule,
  insertWorkflow,
  testKubernetesConfig,
} from "./fixtures.js";

const db = await createTestDatabase();
let api: K8sApiServer;
let clock = 0;
let reconciler: Reconciler;
let metrics: ReturnType<typeof createSpawnerMetrics>;
const STUCK_LIMIT_MS = 60_000;
/** A runner image from a registry: a pull that fails may still succeed later. */
const REGISTRY_IMAGE = "registry.example.com/team/keeperhub-runner:0123abcd";

beforeAll(async () => {
  api = await startK8sApiServer();
});
afterAll(async () => {
  await api.close();
});
beforeEach(async () => {
  // Each test starts from a clean slate: no unfinished executions or Jobs left by another test.
  await db.pool.query(
    "UPDATE workflow_executions SET status = 'cancelled', completed_at = now() WHERE status IN ('pending', 'running')",
  );
  for (const job of api.jobs()) api.deleteJob(job.metadata.name);
  clock = 1_000_000;
  metrics = createSpawnerMetrics({ defaultMetrics: false });
  reconciler = createReconciler({
    db: db.pool,
    kube: createKubeApi(api.kubeConfig(), { namespace: "local" }),
    metrics,
    logger: silentLogger,
    options: {
      stuckPullLimitMs: STUCK_LIMIT_MS,
      policy: { runningAfterSeconds: 600, pendingAfterSeconds: 600 },
    },
    now: () => clock,
  });
});

/** A running execution of a scheduled workflow with its Job in the API server. */
async function runningWithJob(status: "pending" | "running" = "running", runnerImage?: string) {
  const workflowId = await insertWorkflow(db.pool);
  const scheduleId = await insertSchedule(db.pool, workflowId);
  const id = await insertExecution(db.pool, { workflowId, scheduleId, status, jobName: null });
  const config = testKubernetesConfig(runnerImage ? { runnerImage } : {});
  const job = buildJobTemplate({ executionId: id, workflowId, scheduleId, config });
  api.putJob(job);
  await db.pool.query("UPDATE workflow_executions SET job_name = $2 WHERE id = $1", [id, `wf-${id}`]);
  return { id, scheduleId, jobName: `wf-${id}` };
}

async function scheduleState(scheduleId: string) {
  const { rows } = await db.pool.query<{
    last_status: string | null;
    last_error: string | null;
    last_run_at: Date | null;
    run_count: number;
  }>("SELECT last_status, last_error, last_run_at, run_count FROM workflow_schedules WHERE id = $1", [
    scheduleId,
  ]);
  return rows[0];
}

describe("reconciler", () => {
  it.each([
    ["DeadlineExceeded", "Job was active longer than specified deadline"],
    ["BackoffLimitExceeded", "Job has reached the specified backoff limit"],
  ])("a Job that failed with %s marks its execution and schedule error", async (reason, message) => {
    const { id, scheduleId, jobName } = await runningWithJob();
    // The runner died mid-step: its step row is still open.
    await recordStepStart(db.pool, {
      executionId: id,
      nodeId: "slow",
      nodeName: "Slow",
      nodeType: "HTTP Request",
      input: {},
      startedAt: new Date(),
    });
    api.setJobOutcome(jobName, { failed: reason });

    const fixes = await reconciler.reconcileOnce();
    expect(fixes).toEqual([{ executionId: id, reason, error: expect.stringContaining(reason) }]);
    const state = await executionState(db.pool, id);
    expect(state.status).toBe("error");
    expect(state.error).toContain(jobName);
    expect(state.error).toContain(message);
    // Closed with the run, with the same reason (migration 0004).
    expect(await listStepLogs(db.pool, id)).toMatchObject([
      { node_id: "slow", status: "error", error: state.error, completed_at: expect.any(Date) },
    ]);
    expect(await scheduleState(scheduleId)).toMatchObject({
      last_status: "error",
      last_error: state.error,
      run_count: 1,
    });
    expect((await scheduleState(scheduleId))?.last_run_at).toBeInstanceOf(Date);
    expect(await metrics.registry.metrics()).toContain(
      `keeperhub_spawner_reconciler_fixes_total{reason="${reason}"} 1`,
    );
    // A second pass finds nothing more to do.
    expect(await reconciler.reconcileOnce()).toEqual([]);
  });

  it.each(["ImagePullBackOff", "ErrImagePull"])(
    "a pod stuck in %s pulling from a registry fails its execution only past the limit, and the Job is deleted",
    async (reason) => {
      const { id, jobName } = await runningWithJob("pending", REGISTRY_IMAGE);
      api.setPodWaiting(jobName, reason, `Back-off pulling image "${REGISTRY_IMAGE}"`);

      expect(await reconciler.reconcileOnce()).toEqual([]);
      clock += STUCK_LIMIT_MS - 1;
      expect(await reconciler.reconcileOnce()).toEqual([]);
      expect((await executionState(db.pool, id)).status).toBe("pending");

      clock += 1;
      const fixes = await reconciler.reconcileOnce();
      expect(fixes.map((f) => [f.executionId, f.reason])).toEqual([[id, reason]]);
      const state = await executionState(db.pool, id);
      expect(state.status).toBe("error");
      expect(state.error).toContain(reason);
      expect(state.error).toContain(REGISTRY_IMAGE);
      expect(api.job(jobName)).toBeUndefined();
    },
  );

  it.each(["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"])(
    "a stack image that is not loaded (%s) fails its execution at once with the fix, and the Job is deleted",
    async (reason) => {
      const { id, jobName } = await runningWithJob("pending");
      api.setPodWaiting(jobName, reason, 'failed to pull "docker.io/library/keeperhub-runner:0123abcd"');
      const fixes = await reconciler.reconcileOnce();
      expect(fixes.map((f) => [f.executionId, f.reason])).toEqual([[id, reason]]);
      const state = await executionState(db.pool, id);
      expect(state.status).toBe("error");
      expect(state.error).toMatch(/^runner image keeperhub-runner:0123abcd is not in the cluster /);
      expect(state.error).toContain("`pulumi up -s hybrid`");
      expect(state.error).toContain("`khctl doctor --profile minikube`");
      expect(api.job(jobName)).toBeUndefined();
    },
  );

  it("a pod that recovers from a pull back-off restarts the clock", async () => {
    const { id, jobName } = await runningWithJob("pending", REGISTRY_IMAGE);
    api.setPodWaiting(jobName, "ImagePullBackOff");
    await reconciler.reconcileOnce();
    api.appendPodLog(jobName, "started\n");
    for (const pod of api.pods())
      if (pod.metadata.labels["job-name"] === jobName) pod.status = { phase: "Running" };
    clock += STUCK_LIMIT_MS;
    await reconciler.reconcileOnce();
    api.setPodWaiting(jobName, "ImagePullBackOff");
    expect(await reconciler.reconcileOnce()).toEqual([]);
    expect((await executionState(db.pool, id)).status).toBe("pending");
  });

  it("an older slot's failure counts the run but leaves a later slot's outcome as the schedule's latest", async () => {
    const { id, scheduleId, jobName } = await runningWithJob();
    const workflowId = (
      await db.pool.query("SELECT workflow_id FROM workflow_schedules WHERE id = $1", [scheduleId])
    ).rows[0].workflow_id;
    await db.pool.query(
      "UPDATE workflow_executions SET scheduled_for = now() - interval '1 hour' WHERE id = $1",
      [id],
    );
    await insertExecution(db.pool, { workflowId, scheduleId, status: "success" });
    await db.pool.query(
      "UPDATE workflow_schedules SET last_status = 'success', run_count = 1 WHERE id = $1",
      [scheduleId],
    );
    api.setJobOutcome(jobName, { failed: "DeadlineExceeded" });
    expect((await reconciler.reconcileOnce()).map((f) => f.executionId)).toEqual([id]);
    expect(await scheduleState(scheduleId)).toMatchObject({
      last_status: "success",
      last_error: null,
      run_count: 2,
    });
  });

  it("a Job deleted before its run finished marks the execution error once its runner's grace has passed", async () => {
    const { id, jobName } = await runningWithJob();
    api.deleteJob(jobName);
    expect(await reconciler.reconcileOnce()).toEqual([]);
    clock += JOB_GONE_GRACE_MS - 1;
    expect(await reconciler.reconcileOnce()).toEqual([]);
    expect((await executionState(db.pool, id)).status).toBe("running");
    clock += 1;
    const fixes = await reconciler.reconcileOnce();
    expect(fixes.map((f) => f.reason)).toEqual(["JobDeleted"]);
    expect((await executionState(db.pool, id)).error).toContain(`${jobName} was deleted`);
  });

  it("an execution far past its deadline with no Job is 'runner lost'; a recent one is left alone", async () => {
    const workflowId = await insertWorkflow(db.pool);
    const lost = await insertExecution(db.pool, { workflowId, status: "running" });
    const neverStarted = await insertExecution(db.pool, { workflowId });
    const recent = await insertExecution(db.pool, { workflowId });
    await db.pool.query(
      "UPDATE workflow_executions SET created_at = now() - interval '2 hours', started_at = now() - interval '1 hour' WHERE id = $1",
      [lost],
    );
    await db.pool.query(
      "UPDATE workflow_executions SET enqueued_at = now() - interval '1 hour', send_count = $2 WHERE id = $1",
      [neverStarted, MAX_SENDS],
    );
    // Sent once, an hour ago: its message is sent again rather than given up.
    const resent = await insertExecution(db.pool, { workflowId });
    await db.pool.query(
      "UPDATE workflow_executions SET enqueued_at = now() - interval '1 hour', send_count = 1 WHERE id = $1",
      [resent],
    );
    await db.pool.query("UPDATE workflow_executions SET enqueued_at = now() WHERE id = $1", [recent]);
    const fixes = await reconciler.reconcileOnce();
    expect(fixes.map((f) => [f.executionId, f.reason])).toEqual([
      [lost, "RunnerLost"],
      [neverStarted, "RunnerLost"],
    ]);
    expect((await executionState(db.pool, lost)).error).toMatch(
      /^runner lost: .*no runner Job exists for it/,
    );
    expect((await executionState(db.pool, neverStarted)).error).toMatch(/^never started: /);
    expect((await executionState(db.pool, recent)).status).toBe("pending");
    expect(await executionState(db.pool, resent)).toMatchObject({ status: "pending" });
    const { rows } = await db.pool.query("SELECT enqueued_at FROM workflow_executions WHERE id = $1", [
      resent,
    ]);
    expect(rows[0].enqueued_at).toBeNull();
  });

  it("never touches a terminal execution, whatever its Job says", async () => {
    const workflowId = await insertWorkflow(db.pool);
    for (const status of ["success", "error", "cancelled"] as const) {
      const id = await insertExecution(db.pool, { workflowId, status, jobName: null });
      api.putJob(buildJobTemplate({ executionId: id, workflowId, config: testKubernetesConfig() }));
      api.setJobOutcome(`wf-${id}`, { failed: "DeadlineExceeded" });
      await db.pool.query("UPDATE workflow_executions SET job_name = $2 WHERE id = $1", [id, `wf-${id}`]);
    }
    const before = await db.pool.query(
      "SELECT id, status, error, updated_at FROM workflow_executions ORDER BY id",
    );
    expect(await reconciler.reconcileOnce()).toEqual([]);
    const after = await db.pool.query(
      "SELECT id, status, error, updated_at FROM workflow_executions ORDER BY id",
    );
    expect(after.rows).toEqual(before.rows);
  });

  it("changes nothing when the API cannot be listed (a failed list is not a deleted Job)", async () => {
    const { id } = await runningWithJob();
    api.fail({ method: "GET", path: /\/jobs$/, status: 500 });
    await expect(reconciler.reconcileOnce()).rejects.toThrow();
    expect((await executionState(db.pool, id)).status).toBe("running");
  });

  it("deletes the still active Job of a cancelled run (its pod gets SIGTERM); a finished Job stays", async () => {
    const running = await runningWithJob();
    const finished = await runningWithJob();
    api.setJobOutcome(finished.jobName, { failed: "BackoffLimitExceeded" });
    for (const run of [running, finished])
      await cancelExecution(db.pool, run.id, "cancelled from the console");
    expect(await reconciler.reconcileOnce()).toEqual([]);
    const left = api.jobs().map((job) => job.metadata.name);
    expect(left).not.toContain(running.jobName);
    expect(left).toContain(finished.jobName);
    expect((await executionState(db.pool, running.id)).status).toBe("cancelled");
  });

  it("a running Job and a succeeded Job of a finished run are left alone", async () => {
    const { id } = await runningWithJob();
    expect(await reconciler.reconcileOnce()).toEqual([]);
    expect((await executionState(db.pool, id)).status).toBe("running");
  });

  it("the loop keeps running after a failed pass", async () => {
    const { id, jobName } = await runningWithJob();
    api.fail({ method: "GET", path: /\/jobs$/, status: 500 });
    api.setJobOutcome(jobName, { failed: "DeadlineExceeded" });
    const loop = startPeriodic(() => reconciler.reconcileOnce(), {
      intervalMs: 50,
      logger: silentLogger,
      what: "reconcile pass",
    });
    try {
      await until(
        "the retry pass to fix it",
        async () => (await executionState(db.pool, id)).status === "error",
      );
    } finally {
      await loop.stop();
    }
  });
});
