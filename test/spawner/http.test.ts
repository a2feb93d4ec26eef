import { afterAll, describe, expect, it } from "vitest";
import { startHealthServer } from "../../services/spawner/http.js";
import { createSpawnerMetrics } from "../../services/spawner/metrics.js";

describe("spawner health port", () => {
  const metrics = createSpawnerMetrics();
  let queueUp = true;
  const serverPromise = startHealthServer({
    port: 0,
    host: "127.0.0.1",
    registry: metrics.registry,
    checkTimeoutMs: 300,
    checks: {
      queue: async () => {
        if (!queueUp) throw new Error("connect ECONNREFUSED 127.0.0.1:4566");
      },
      kubernetes: () => Promise.resolve(),
    },
  });
  afterAll(async () => (await serverPromise).close());

  it("/healthz answers while the process lives", async () => {
    const server = await serverPromise;
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
  });

  it("/readyz is 200 when every dependency answers, 503 naming the one that does not", async () => {
    const server = await serverPromise;
    queueUp = true;
    let response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ queue: "ok", kubernetes: "ok" });
    queueUp = false;
    response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      queue: expect.stringContaining("ECONNREFUSED"),
      kubernetes: "ok",
    });
  });

  it("/metrics serves the spawner's counters as Prometheus text", async () => {
    const server = await serverPromise;
    metrics.messagesReceived.inc(3);
    metrics.jobsCreated.inc(2);
    metrics.createErrors.inc({ reason: "Forbidden" });
    metrics.activeJobs.set(7);
    metrics.reconcilerFixes.inc({ reason: "DeadlineExceeded" });
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toContain("keeperhub_spawner_messages_received_total 3");
    expect(text).toContain("keeperhub_spawner_jobs_created_total 2");
    expect(text).toContain('keeperhub_spawner_job_create_errors_total{reason="Forbidden"} 1');
    expect(text).toContain("keeperhub_spawner_active_jobs 7");
    expect(text).toContain('keeperhub_spawner_reconciler_fixes_total{reason="DeadlineExceeded"} 1');
    expect(text).toContain("keeperhub_spawner_process_cpu_user_seconds_total");
  });

  it("/readyz turns 503 once a graceful stop begins", async () => {
    const server = await serverPromise;
    queueUp = true;
    server.markStopping();
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ spawner: "stopping" });
  });
});
