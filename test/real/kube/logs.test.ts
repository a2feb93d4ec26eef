import { describe, expect, it } from "vitest";
import { jobNameFor } from "../../../services/contracts/names.js";
import { createTestDatabase } from "../../helpers/database.js";
import { createTestSqs } from "../../helpers/sqs.js";
import { scaled, until, within } from "../../helpers/wait.js";
import { getJob, jobReaches } from "./cluster.js";
import {
  enqueue,
  gatedExecution,
  namespaceKhctl,
  spawnerNamespace,
  startGate,
  statusOf,
} from "./fixtures.js";

// The real `khctl spawner` process, with a kubeconfig holding only the job-spawner ServiceAccount's token,
// and `khctl logs` reading a real pod's log (served by kwok from what the bridge's runner writes) while the
// Job exists, and the step log from Postgres after the TTL controller has deleted it.

const JOB_TTL_SECONDS = 3;

const db = await createTestDatabase();
const sqs = await createTestSqs();
const queues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
const gate = await startGate();
const space = await spawnerNamespace(db, sqs, queues, { jobTtlSeconds: JOB_TTL_SECONDS });

/** khctl as a user or a pod runs it here: the spawner's kubeconfig, the file's database and queue. */
const khctl = await namespaceKhctl(db, queues, space, {
  RUNNER_IMAGE: space.config.runnerImage,
  JOB_TTL_SECONDS: String(space.config.jobTtlSeconds),
  JOB_ACTIVE_DEADLINE: String(space.config.jobActiveDeadlineSeconds),
  LOG_FORMAT: "json",
  LOG_LEVEL: "info",
});

describe("khctl spawner and khctl logs on a real control plane", () => {
  it(
    "the spawner process runs an execution; khctl logs streams its pod's log, then shows the step log once the TTL removed the Job",
    async () => {
      const spawner = khctl(["spawner", "--port", "0", "--reconcile-interval", "2"]);
      try {
        await spawner.waitForOutput("spawner started");
        const execution = await gatedExecution(db.pool, gate);
        await enqueue(sqs, queues, execution);
        await within(gate.reached(execution.key), 90_000, "the runner reaching its step");

        // The pod's log so far: the runner has claimed the execution and waits in its step.
        const snapshot = khctl(["logs", execution.executionId]);
        const shown = await snapshot.result;
        expect(shown.code).toBe(0);
        expect(shown.stderr).toContain(`runner pod ${jobNameFor(execution.executionId)}-`);
        expect(shown.stdout).toContain('"msg":"execution claimed"');
        expect(shown.stdout).not.toContain('"msg":"execution finished"');

        // Following: what the runner writes from now on arrives while it runs.
        const follow = khctl(["logs", "-f", execution.executionId]);
        try {
          await follow.waitForOutput('"msg":"execution claimed"', 30_000);
          gate.release(execution.key);
          await follow.waitForOutput('"msg":"execution finished"', 60_000);
          expect(follow.output("stdout")).toMatch(/"status":"success"/);
        } finally {
          // kwok keeps a followed log open after the container ended (a kubelet closes it): stop it here.
          follow.kill("SIGINT");
        }
        await statusOf(db.pool, execution.executionId, "success");
        await jobReaches(space.namespace, jobNameFor(execution.executionId), "Complete");

        // The TTL controller deletes the finished Job (and its pod): the step log is what is left.
        await until(
          "the TTL controller deleting the Job",
          async () => (await getJob(space.namespace, jobNameFor(execution.executionId))) === undefined,
          60_000,
        );
        const after = await khctl(["logs", execution.executionId]).result;
        expect(after.code).toBe(0);
        expect(after.stderr).toContain(`no runner Job for ${execution.executionId}`);
        expect(after.stdout).toMatch(/ t \(Start\) success/);
        expect(after.stdout).toMatch(/ wait \(WAIT\) success/);
        expect(after.stdout).toContain(`execution ${execution.executionId} success`);
      } finally {
        spawner.kill("SIGTERM");
        await within(spawner.result, 30_000, "the spawner exiting");
      }
      expect((await spawner.result).code).toBe(0);
    },
    scaled(240_000),
  );
});
