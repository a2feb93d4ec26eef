import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../services/core/ids.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { type K8sApiServer, startK8sApiServer } from "../helpers/k8s-api-server.js";
import { createTestSqs } from "../helpers/sqs.js";
import { createTempDir } from "../helpers/temp.js";
import { scaled, until, within } from "../helpers/wait.js";
import { executionState, insertExecution, insertWorkflow, messageFor, sendMessage } from "./fixtures.js";

const db = await createTestDatabase();
const sqs = await createTestSqs();
let api: K8sApiServer;
const dir = await createTempDir("kh-spawner-cli");
const kubeconfig = path.join(dir, "kubeconfig");

beforeAll(async () => {
  api = await startK8sApiServer();
  await writeFile(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: { server: "${api.url}", insecure-skip-tls-verify: true }
users:
- name: test
  user: { token: test-token }
contexts:
- name: test
  context: { cluster: test, user: test, namespace: local }
current-context: test
`,
  );
});
afterAll(() => api.close());

/** khctl outside a pod (so a kubeconfig is used even if these tests run in one), logging JSON. */
const khctl = (args: string[], env: Record<string, string>) =>
  spawnCli(args, { KUBERNETES_SERVICE_HOST: undefined, LOG_FORMAT: "json", ...env });

describe("khctl spawner (process)", () => {
  it(
    "on SIGTERM with creates in flight: finishes them, deletes their messages, exits 0",
    async () => {
      const queues = await sqs.createQueues({ visibilityTimeoutSeconds: 30 });
      const workflowId = await insertWorkflow(db.pool);
      const ids = await Promise.all([1, 2, 3].map(() => insertExecution(db.pool, { workflowId })));
      const spawner = khctl(
        ["spawner", "--kubeconfig", kubeconfig, "--port", "0", "--shutdown-timeout", "15"],
        {
          ...queues.env,
          DATABASE_URL: db.url,
          RUNNER_IMAGE: "keeperhub-runner:0123abcd",
          LOG_LEVEL: "info",
        },
      );
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      try {
        await spawner.waitForOutput("spawner started");
        // The API holds every create until the spawner has taken SIGTERM: all three are in flight then.
        api.fail({ method: "POST", path: /\/jobs$/, holdUntil: released, times: 3 });
        for (const id of ids) await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
        await until("3 creates sent", () => api.createRequests() >= 3);
        expect(api.jobs()).toEqual([]);
        spawner.kill("SIGTERM");
        await spawner.waitForOutput("spawner stopping");
        release();

        expect((await spawner.result).code).toBe(0);
        for (const id of ids) {
          expect(api.job(`wf-${id}`)).toBeDefined();
          expect((await executionState(db.pool, id)).job_name).toBe(`wf-${id}`);
        }
        const stats = await getQueueStats(sqs.sqs, queues.queueUrl);
        expect(stats.visible + stats.inFlight).toBe(0);
        expect(spawner.output()).toContain("spawner stopped");
      } finally {
        release();
        spawner.kill("SIGKILL");
      }
    },
    scaled(60_000),
  );

  it(
    "idle after a create, its 20 s long poll in flight: SIGTERM aborts the poll, exits 0 at once",
    async () => {
      const queues = await sqs.createQueues({ receiveWaitSeconds: 20 });
      const workflowId = await insertWorkflow(db.pool);
      const id = await insertExecution(db.pool, { workflowId });
      const spawner = khctl(["spawner", "--kubeconfig", kubeconfig, "--port", "0"], {
        ...queues.env,
        DATABASE_URL: db.url,
        RUNNER_IMAGE: "keeperhub-runner:0123abcd",
        LOG_LEVEL: "info",
      });
      try {
        await spawner.waitForOutput("spawner started");
        await sendMessage(sqs.sqs, queues.queueUrl, messageFor(id, workflowId));
        await until(
          "its Job created",
          async () => (await executionState(db.pool, id)).job_name === `wf-${id}`,
        );
        // Back in a 20 s long poll now: a stop that waited for it would take up to that long.
        spawner.kill("SIGTERM");
        const result = await within(spawner.result, 10_000, "the idle spawner exiting after SIGTERM");
        expect(result.code).toBe(0);
        expect(result.stderr).toContain("spawner stopped");
        // Its message was deleted, and the aborted poll hid nothing.
        const stats = await getQueueStats(sqs.sqs, queues.queueUrl);
        expect(stats.visible + stats.inFlight).toBe(0);
      } finally {
        if (spawner.exitCode === null) spawner.kill("SIGKILL");
      }
    },
    scaled(60_000),
  );

  it("refuses a bad setting with one line naming it: a flag exits 2, a variable 1", async () => {
    const env = {
      DATABASE_URL: db.url,
      SQS_QUEUE_URL: "http://127.0.0.1:1/000000000000/q",
      RUNNER_IMAGE: "keeperhub-runner:0123abcd",
    };
    const flag = khctl(["spawner", "--kubeconfig", kubeconfig, "--concurrency", "0"], env);
    expect((await flag.result).code).toBe(2);
    expect(flag.output().trim()).toBe('khctl: --concurrency must be a whole number from 1 to 100, got "0"');
    const variable = khctl(["spawner", "--kubeconfig", kubeconfig], { ...env, SPAWNER_CONCURRENCY: "many" });
    expect((await variable.result).code).toBe(1);
    expect(variable.output().trim()).toBe(
      'khctl: SPAWNER_CONCURRENCY must be a whole number from 1 to 100, got "many"',
    );
    // A variable an earlier version read is refused, naming what replaced it, rather than ignored.
    const replaced = khctl(["spawner", "--kubeconfig", kubeconfig], {
      ...env,
      RUNNER_LOST_AFTER_SECONDS: "900",
    });
    expect((await replaced.result).code).toBe(1);
    expect(replaced.output().trim()).toMatch(
      /^khctl: RUNNER_LOST_AFTER_SECONDS is no longer read: use PENDING_LIMIT_SECONDS and LOST_RUN_GRACE_SECONDS/,
    );
  });

  it("khctl logs with no cluster prints the step log from Postgres", async () => {
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId, status: "success" });
    await db.pool.query(
      "INSERT INTO workflow_execution_logs (id, execution_id, node_id, node_type, status, duration_ms) VALUES ($1, $2, 'trigger', 'trigger', 'success', 2)",
      [newId(), id],
    );
    const run = khctl(["logs", id], { DATABASE_URL: db.url, KUBECONFIG: path.join(dir, "missing") });
    expect((await run.result).code).toBe(0);
    expect(run.output()).toContain("trigger success 2ms");
    expect(run.output()).toContain(`execution ${id} success`);
  });
});
