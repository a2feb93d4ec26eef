import { describe, expect, it } from "vitest";
import { buildJobTemplate } from "../../../services/contracts/job-template.js";
import { jobNameFor } from "../../../services/contracts/names.js";
import { getQueueStats } from "../../../services/queue/stats.js";
import { createTestDatabase } from "../../helpers/database.js";
import { createTestSqs } from "../../helpers/sqs.js";
import { until, within } from "../../helpers/wait.js";
import { deleteRunnerJob, getJob, jobCondition, jobReaches, kubectl } from "./cluster.js";
import {
  enqueue,
  gatedExecution,
  runnerPid,
  spawnerNamespace,
  startGate,
  startSpawner,
  statusOf,
} from "./fixtures.js";

// The spawner (in this process, with the job-spawner ServiceAccount's own token) against the real control
// plane: each message becomes a real Job, the Job controller makes its pod, kwok runs it on its fake node
// and the bridge runs the pod's command, this checkout's `khctl run`, with the env the pod gets from the
// stack's Secret and ConfigMap. What the runner records and what the Job controller decides are real.

const db = await createTestDatabase();
const sqs = await createTestSqs();
const queues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
const gate = await startGate();
const space = await spawnerNamespace(db, sqs, queues);
const spawner = await startSpawner(db, sqs, queues, space);

const queueEmpty = async () => {
  const stats = await getQueueStats(sqs.sqs, queues.queueUrl, queues.deadLetterQueueUrl);
  return stats.visible === 0 && stats.inFlight === 0 && stats.deadLetter === 0;
};

describe("the spawner on a real control plane", () => {
  it("a message becomes the template's Job; its pod runs the execution: success recorded, Job Complete", async () => {
    const execution = await gatedExecution(db.pool, gate);
    gate.release(execution.key);
    await enqueue(sqs, queues, execution);

    const done = await statusOf(db.pool, execution.executionId, "success");
    expect(done.job_name).toBe(jobNameFor(execution.executionId));
    const job = await jobReaches(space.namespace, jobNameFor(execution.executionId), "Complete");
    // Exactly the Job the template builds, as the server stored it.
    const built = buildJobTemplate({ ...execution, config: space.config });
    expect(job.metadata.labels).toEqual(built.metadata?.labels);
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: space.config.jobActiveDeadlineSeconds,
      ttlSecondsAfterFinished: space.config.jobTtlSeconds,
    });
    expect((job.spec.template as { spec: unknown }).spec).toMatchObject(
      JSON.parse(JSON.stringify(built.spec?.template.spec)),
    );
    await until("the message deleted", queueEmpty);
  });

  it("a runner that exits 1 fails its Job at once (its podFailurePolicy): the execution is recorded as error", async () => {
    // The runners' Secret points at a database that does not exist: `khctl run` cannot start and exits 1.
    const wrong = new URL(db.url);
    wrong.pathname = "/no_such_database";
    await space.setRunnerDatabaseUrl(wrong.toString());
    try {
      const execution = await gatedExecution(db.pool, gate);
      await enqueue(sqs, queues, execution);
      const job = await jobReaches(space.namespace, jobNameFor(execution.executionId), "Failed");
      // The template's podFailurePolicy fails the Job on the runner's non-zero exit, never a second pod.
      expect(jobCondition(job, "Failed")?.reason).toBe("PodFailurePolicy");
      const { stdout } = await kubectl([
        "-n",
        space.namespace,
        "get",
        "pods",
        "-l",
        `job-name=${jobNameFor(execution.executionId)}`,
        "-o",
        "jsonpath={.items[*].status.containerStatuses[*].state.terminated.exitCode}",
      ]);
      expect(stdout.trim()).toBe("1");
      // Nothing was recorded by the runner; the reconciler records the Job's failure.
      const failed = await statusOf(db.pool, execution.executionId, "error");
      expect(failed.error).toMatch(/runner Job wf-\w+ failed: PodFailurePolicy: .*failed with exit code 1 /);
    } finally {
      await space.setRunnerDatabaseUrl(db.url);
    }
  });

  it("a Job deleted mid-run: its runner is stopped and records the execution as cancelled", async () => {
    const execution = await gatedExecution(db.pool, gate);
    await enqueue(sqs, queues, execution);
    await within(gate.reached(execution.key), 90_000, "the runner reaching its step");
    expect((await statusOf(db.pool, execution.executionId, "running")).job_name).toBe(
      jobNameFor(execution.executionId),
    );

    await deleteRunnerJob(space.namespace, execution.executionId);
    const cancelled = await statusOf(db.pool, execution.executionId, "cancelled");
    expect(cancelled.error).toBe("cancelled: SIGTERM");
    await until("the runner's request dropped", () => gate.dropped(execution.key));
    await until("the runner gone", async () => (await runnerPid(execution.executionId)) === undefined);
  });

  it("a lost runner (killed without a word): its Job fails and the execution is recorded as error", async () => {
    const execution = await gatedExecution(db.pool, gate);
    await enqueue(sqs, queues, execution);
    await within(gate.reached(execution.key), 90_000, "the runner reaching its step");
    await statusOf(db.pool, execution.executionId, "running");
    const pid = await until("the runner's process", () => runnerPid(execution.executionId));
    // As the OOM killer or a lost node would: no signal it can handle, nothing recorded.
    process.kill(pid, "SIGKILL");

    const failed = await statusOf(db.pool, execution.executionId, "error");
    expect(failed.error).toMatch(/runner Job wf-\w+ failed: PodFailurePolicy: .*failed with exit code 137 /);
    await jobReaches(space.namespace, jobNameFor(execution.executionId), "Failed");
  });

  it("back-pressure: at MAX_CONCURRENT_JOBS no more messages are taken; finished Jobs free the slots", async () => {
    // Every earlier Job has finished or is gone; the next spawner allows 2 active runner Jobs. Its stop aborts
    // its long poll, which SQS (fauxqs as AWS) keeps open for a while: a message it hands that dead poll comes
    // back after the receive's claim (RECEIVE_CLAIM_SECONDS), and the new spawner takes it then.
    await spawner.service.stop();
    const limited = await startSpawner(db, sqs, queues, space, { config: { maxConcurrentJobs: 2 } });
    const executions = await Promise.all([1, 2, 3, 4, 5].map(() => gatedExecution(db.pool, gate)));
    for (const execution of executions) await enqueue(sqs, queues, execution);

    await until("2 runners at the gate", () => gate.open() === 2, 90_000);
    // The spawner keeps asking the API and keeps taking nothing.
    const lists = limited.jobLists();
    await until("3 more capacity checks", () => limited.jobLists() >= lists + 3);
    expect(gate.open()).toBe(2);
    // The 3 not taken are still in the queue (one may be held by the old spawner's dead poll, see above).
    const stats = await getQueueStats(sqs.sqs, queues.queueUrl);
    expect(stats.visible + stats.inFlight).toBe(3);
    const jobs = async () =>
      (
        await Promise.all(
          executions.map((execution) => getJob(space.namespace, jobNameFor(execution.executionId))),
        )
      ).filter(Boolean).length;
    expect(await jobs()).toBe(2);

    // Release each runner as it arrives: the rest follow, never more than 2 at once.
    for (let released = 0; released < executions.length; released++) {
      gate.release(await until("a runner at the gate", () => gate.heldKeys()[0], 90_000));
    }
    for (const execution of executions) await statusOf(db.pool, execution.executionId, "success");
    expect(gate.maxOpen()).toBe(2);
    expect(await jobs()).toBe(5);
    await until("the queue empty", queueEmpty);
  });
});
