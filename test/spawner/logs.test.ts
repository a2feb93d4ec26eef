import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildJobTemplate } from "../../services/contracts/job-template.js";
import { newId } from "../../services/core/ids.js";
import { createKubeApi, type KubeApi } from "../../services/spawner/kube.js";
import { ExecutionNotFoundError, showExecutionLogs } from "../../services/spawner/logs.js";
import { createTestDatabase } from "../helpers/database.js";
import { type K8sApiServer, startK8sApiServer } from "../helpers/k8s-api-server.js";
import { until } from "../helpers/wait.js";
import { insertExecution, insertWorkflow, testKubernetesConfig } from "./fixtures.js";

const db = await createTestDatabase();
let api: K8sApiServer;
let kube: KubeApi;

beforeAll(async () => {
  api = await startK8sApiServer();
  kube = createKubeApi(api.kubeConfig(), { namespace: "local", requestTimeoutMs: 2000 });
});
afterAll(async () => {
  await api.close();
});

function capture() {
  const chunks: string[] = [];
  const notes: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { out, note: (line: string) => notes.push(line), text: () => chunks.join(""), notes };
}

async function executionWithSteps(status: "running" | "success" = "success") {
  const workflowId = await insertWorkflow(db.pool);
  const id = await insertExecution(db.pool, { workflowId, status });
  await db.pool.query(
    `INSERT INTO workflow_execution_logs
       (id, execution_id, node_id, node_name, node_type, status, error, started_at, completed_at, duration_ms)
     VALUES ($1, $3, 'trigger', 'Trigger', 'trigger', 'success', NULL, now() - interval '2 s', now() - interval '2 s', 1),
            ($2, $3, 'http-1', 'Call API', 'action', 'error', 'HTTP 503 from http://svc', now() - interval '1 s', now(), 120)`,
    [newId(), newId(), id],
  );
  return { id, workflowId };
}

function putRunningJob(id: string, workflowId: string) {
  api.putJob(buildJobTemplate({ executionId: id, workflowId, config: testKubernetesConfig() }));
  return `wf-${id}`;
}

describe("khctl logs", () => {
  it("shows the runner pod's log when the Job exists", async () => {
    const { id, workflowId } = await executionWithSteps("running");
    const jobName = putRunningJob(id, workflowId);
    api.appendPodLog(jobName, "step trigger ok\nstep http-1 failed\n");
    const io = capture();
    expect(await showExecutionLogs({ db: db.pool, kube, ...io }, id)).toBe("pod");
    expect(io.text()).toBe("step trigger ok\nstep http-1 failed\n");
    expect(io.notes.join("\n")).toContain(`runner pod ${jobName}-`);
  });

  it("-f follows the pod's log until the pod finishes", async () => {
    const { id, workflowId } = await executionWithSteps("running");
    const jobName = putRunningJob(id, workflowId);
    api.appendPodLog(jobName, "first\n");
    const io = capture();
    const following = showExecutionLogs({ db: db.pool, kube, ...io }, id, { follow: true });
    await until("the first line", () => io.text() === "first\n");
    api.appendPodLog(jobName, "second\n");
    await until("the second line", () => io.text() === "first\nsecond\n");
    api.setJobOutcome(jobName, { succeeded: true });
    expect(await following).toBe("pod");
  });

  it("masks URL secrets in the pod's log, as every view does, also when a line arrives in pieces", async () => {
    const { id, workflowId } = await executionWithSteps("running");
    const jobName = putRunningJob(id, workflowId);
    api.appendPodLog(jobName, "GET https://api.test/x?token=POD-SECRET failed\n");
    const io = capture();
    await showExecutionLogs({ db: db.pool, kube, ...io }, id);
    expect(io.text()).toBe("GET https://api.test/x?token=%5Bredacted%5D failed\n");

    const followed = capture();
    const following = showExecutionLogs({ db: db.pool, kube, ...followed }, id, { follow: true });
    await until("the first line", () => followed.text().includes("failed"));
    api.appendPodLog(jobName, "POST https://api.test/y?api_key=SPLIT");
    api.appendPodLog(jobName, "-SECRET done\n");
    await until("the split line", () => followed.text().includes("done"));
    api.setJobOutcome(jobName, { succeeded: true });
    await following;
    expect(followed.text()).toBe(
      "GET https://api.test/x?token=%5Bredacted%5D failed\nPOST https://api.test/y?api_key=%5Bredacted%5D done\n",
    );
  });

  it("falls back to the step log from Postgres when the Job is gone", async () => {
    const { id } = await executionWithSteps();
    const io = capture();
    expect(await showExecutionLogs({ db: db.pool, kube, ...io }, id)).toBe("database");
    const lines = io.text().trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/ trigger \(Trigger\) success 1ms$/);
    expect(lines[1]).toMatch(/ http-1 \(Call API\) error 120ms: HTTP 503 from http:\/\/svc$/);
    expect(lines[2]).toBe(`execution ${id} success`);
    expect(io.notes.join("\n")).toContain("no runner Job");
  });

  it("falls back to the step log when there is no cluster or the API fails", async () => {
    const { id } = await executionWithSteps();
    const noCluster = capture();
    expect(await showExecutionLogs({ db: db.pool, ...noCluster }, id)).toBe("database");
    expect(noCluster.text()).toContain("http-1");

    api.fail({ method: "GET", path: /\/pods$/, status: 500, reason: "InternalError", message: "boom" });
    const failing = capture();
    expect(await showExecutionLogs({ db: db.pool, kube, ...failing }, id)).toBe("database");
    expect(failing.text()).toContain("http-1");
    expect(failing.notes.join("\n")).toContain("Kubernetes API not reachable");
  });

  it("-f on the step log prints new steps until the execution finishes", async () => {
    const workflowId = await insertWorkflow(db.pool);
    const id = await insertExecution(db.pool, { workflowId, status: "running" });
    const io = capture();
    const following = showExecutionLogs({ db: db.pool, ...io }, id, { follow: true, pollMs: 20 });
    await db.pool.query(
      `INSERT INTO workflow_execution_logs (id, execution_id, node_id, node_type, status) VALUES ($1, $2, 'trigger', 'trigger', 'running')`,
      [newId(), id],
    );
    await until("the running step", () => io.text().includes("trigger running"));
    await db.pool.query(
      "UPDATE workflow_execution_logs SET status = 'success', completed_at = now(), duration_ms = 3 WHERE execution_id = $1",
      [id],
    );
    await db.pool.query(
      "UPDATE workflow_executions SET status = 'success', completed_at = now() WHERE id = $1",
      [id],
    );
    expect(await following).toBe("database");
    expect(io.text()).toMatch(/trigger running\n.*trigger success 3ms\nexecution \w+ success\n$/);
  });

  it("an unknown execution is an error naming it", async () => {
    const io = capture();
    await expect(showExecutionLogs({ db: db.pool, kube, ...io }, "nosuchexecution000000")).rejects.toThrow(
      ExecutionNotFoundError,
    );
  });
});
