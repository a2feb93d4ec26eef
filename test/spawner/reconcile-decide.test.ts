import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { UnfinishedExecution } from "../../services/db/stale-run-policy.js";
import {
  decide,
  isStackImage,
  JOB_GONE_GRACE_MS,
  type Observed,
  type ReconcilerOptions,
} from "../../services/spawner/reconciler.js";

// The reconciler's rules as a pure function: no database, no API server.

const options: ReconcilerOptions = {
  stuckPullLimitMs: 60_000,
  policy: { runningAfterSeconds: 350, pendingAfterSeconds: 3600 },
};

const execution = (overrides: Partial<UnfinishedExecution> = {}): UnfinishedExecution => ({
  id: "exec0000000000000000a",
  status: "running",
  scheduleId: null,
  jobName: null,
  overdue: false,
  ageSeconds: 10,
  sendCount: 1,
  ...overrides,
});

const job = (conditions: { type: string; reason?: string; message?: string }[] = []): V1Job => ({
  metadata: { name: "wf-exec0000000000000000a" },
  status: { conditions: conditions.map((c) => ({ status: "True", ...c })) },
});

const waitingPod = (reason: string, message = ""): V1Pod => ({
  status: {
    containerStatuses: [
      {
        name: "runner",
        image: "",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { waiting: { reason, message } },
      },
    ],
  },
});

const observed = (overrides: Partial<Observed>): Observed => ({
  execution: execution(),
  job: undefined,
  pods: [],
  stuckSince: undefined,
  ...overrides,
});

describe("reconciler decide()", () => {
  it("a failed Job fails its execution with the Job's reason and message", () => {
    const action = decide(
      observed({ job: job([{ type: "Failed", reason: "DeadlineExceeded", message: "too long" }]) }),
      0,
      options,
    );
    expect(action).toEqual({
      kind: "fail",
      reason: "DeadlineExceeded",
      error: "runner Job wf-exec0000000000000000a failed: DeadlineExceeded: too long",
    });
  });

  it("a failed Job whose runner container was OOMKilled records OOMKilled, the exit code and the limit", () => {
    const oomPod: V1Pod = {
      spec: { containers: [{ name: "runner", resources: { limits: { memory: "64Mi" } } }] },
      status: {
        containerStatuses: [
          {
            name: "runner",
            image: "keeperhub-runner:abc",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { terminated: { reason: "OOMKilled", exitCode: 137 } },
          },
        ],
      },
    };
    const failed = job([{ type: "Failed", reason: "BackoffLimitExceeded", message: "backoff limit" }]);
    expect(decide(observed({ job: failed, pods: [oomPod] }), 0, options)).toEqual({
      kind: "fail",
      reason: "OOMKilled",
      error:
        "runner Job wf-exec0000000000000000a failed: OOMKilled (exit code 137): its container went over its memory limit of 64Mi and was killed; BackoffLimitExceeded: backoff limit",
    });
    // A plain non-zero exit ("Error") adds nothing to the Job's own reason.
    const errorPod = structuredClone(oomPod);
    const status = errorPod.status?.containerStatuses?.[0];
    if (status) status.state = { terminated: { reason: "Error", exitCode: 1 } };
    expect(decide(observed({ job: failed, pods: [errorPod] }), 0, options)).toMatchObject({
      reason: "BackoffLimitExceeded",
    });
  });

  it("tells the stack's own images (only ever loaded) from images a registry may serve", () => {
    expect(isStackImage("keeperhub-runner:0123abcd")).toBe(true);
    expect(isStackImage("keeperhub-scheduler@sha256:00")).toBe(true);
    expect(isStackImage("registry.example.com/keeperhub-runner:0123abcd")).toBe(false);
    expect(isStackImage("team/keeperhub-runner:1")).toBe(false);
    expect(isStackImage("node:24")).toBe(false);
  });

  it("no Job: deleted if one was recorded and its runner's grace has passed; lost only when overdue", () => {
    const deleted = execution({ jobName: "wf-x" });
    // First seen gone: the clock starts; the runner of a deleted Job records `cancelled` in its grace.
    expect(decide(observed({ execution: deleted }), 5_000, options)).toEqual({
      kind: "none",
      goneSince: 5_000,
    });
    expect(
      decide(observed({ execution: deleted, goneSince: 5_000 }), 5_000 + JOB_GONE_GRACE_MS - 1, options),
    ).toEqual({
      kind: "none",
      goneSince: 5_000,
    });
    expect(
      decide(observed({ execution: deleted, goneSince: 5_000 }), 5_000 + JOB_GONE_GRACE_MS, options),
    ).toEqual({
      kind: "fail",
      reason: "JobDeleted",
      error: "runner Job wf-x was deleted before the run finished",
    });
    expect(decide(observed({}), 0, options)).toEqual({ kind: "none" });
    const lost = decide(observed({ execution: execution({ overdue: true, ageSeconds: 400 }) }), 0, options);
    expect(lost).toMatchObject({ kind: "fail", reason: "RunnerLost", onlyIfOverdue: true });
    expect(lost.kind === "fail" && lost.error).toBe(
      "runner lost: still running 400s after it started, past the run timeout plus grace (350s); no runner Job exists for it",
    );
  });

  it("a pending execution with no Job is sent again when overdue, until it has been sent MAX_SENDS times", () => {
    const pending = (sendCount: number) =>
      execution({ status: "pending", overdue: true, ageSeconds: 4000, sendCount });
    expect(decide(observed({ execution: pending(1) }), 0, options)).toEqual({ kind: "resend" });
    expect(decide(observed({ execution: pending(2) }), 0, options)).toEqual({ kind: "resend" });
    const last = decide(observed({ execution: pending(3) }), 0, options);
    expect(last).toMatchObject({ kind: "fail", reason: "RunnerLost" });
    expect(last.kind === "fail" && last.error).toMatch(
      /^never started: its message was sent 3 times, the last 4000s ago/,
    );
  });

  it("a Job that succeeded without a recorded result is lost once overdue; a live Job never is", () => {
    const complete = job([{ type: "Complete" }]);
    expect(decide(observed({ job: complete }), 0, options)).toEqual({ kind: "none" });
    expect(
      decide(observed({ job: complete, execution: execution({ overdue: true }) }), 0, options),
    ).toMatchObject({ kind: "fail", reason: "RunnerLost" });
    expect(decide(observed({ job: job(), execution: execution({ overdue: true }) }), 0, options)).toEqual({
      kind: "none",
    });
  });

  it("a pod stuck pulling: first seen starts the clock; past the limit the run fails and its Job goes", () => {
    const pods = [waitingPod("ImagePullBackOff", "Back-off pulling image")];
    expect(decide(observed({ job: job(), pods }), 5_000, options)).toEqual({
      kind: "none",
      stuckSince: 5_000,
    });
    expect(decide(observed({ job: job(), pods, stuckSince: 5_000 }), 64_999, options)).toEqual({
      kind: "none",
      stuckSince: 5_000,
    });
    expect(decide(observed({ job: job(), pods, stuckSince: 5_000 }), 65_000, options)).toEqual({
      kind: "fail",
      reason: "ImagePullBackOff",
      error:
        "runner pod of Job wf-exec0000000000000000a stuck in ImagePullBackOff for 60s: Back-off pulling image",
      deleteJob: "wf-exec0000000000000000a",
    });
    // A pod that is not stuck (any more) has no clock.
    expect(decide(observed({ job: job(), pods: [], stuckSince: 5_000 }), 65_000, options)).toEqual({
      kind: "none",
    });
  });
});
