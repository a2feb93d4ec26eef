import { describe, expect, it } from "vitest";
import {
  buildJobTemplate,
  JobTemplateError,
  RUNNER_CONTAINER,
  RUNNER_JOB_REFERENCES,
  runnerSelector,
} from "../../services/contracts/job-template.js";
import { ENV, SECRET_ENV } from "../../services/contracts/names.js";
import { jobProblems, unknownFields } from "../helpers/k8s-api-server.js";

const config = {
  namespace: "local",
  runnerImage: "keeperhub-runner:3f9a1c2b",
  jobTtlSeconds: 3600,
  jobActiveDeadlineSeconds: 300,
};
const executionId = "abcdefghij0123456789k";
const input = { executionId, workflowId: "wf1", scheduleId: "sched1", config };

describe("buildJobTemplate", () => {
  it("builds a Job that the Kubernetes schema accepts, with no unknown fields", () => {
    const job = buildJobTemplate(input);
    expect(jobProblems(job)).toEqual([]);
    expect(jobProblems(buildJobTemplate({ ...input, scheduleId: null }))).toEqual([]);
  });

  it("fails the Job at once for every pod failure: a non-zero runner exit and a disruption", () => {
    const job = buildJobTemplate(input);
    const rules = job.spec?.podFailurePolicy?.rules ?? [];
    const runnerExit = rules.find((rule) => rule.onExitCodes);
    expect(runnerExit).toEqual({
      action: "FailJob",
      onExitCodes: { containerName: RUNNER_CONTAINER, operator: "NotIn", values: [0] },
    });
    const disruption = rules.find((rule) => rule.onPodConditions);
    expect(disruption?.action).toBe("FailJob");
    expect(disruption?.onPodConditions).toEqual([{ type: "DisruptionTarget", status: "True" }]);
    // No rule may let Kubernetes start a second pod ("Ignore" or "Count" with a backoff above 0).
    expect(rules.every((rule) => rule.action === "FailJob")).toBe(true);
    // The API requires restartPolicy Never for a podFailurePolicy.
    expect(job.spec?.template.spec?.restartPolicy).toBe("Never");
  });

  it("sizes and places the runner pod when asked: resources and a nodeSelector, any node by default", () => {
    expect(buildJobTemplate(input).spec?.template.spec?.nodeSelector).toBeUndefined();
    const job = buildJobTemplate({
      ...input,
      nodeSelector: { "kubernetes.io/hostname": "kube-node-0" },
      resources: { limits: { memory: "64Mi" } },
    });
    expect(jobProblems(job)).toEqual([]);
    expect(job.spec?.template.spec?.nodeSelector).toEqual({ "kubernetes.io/hostname": "kube-node-0" });
    expect(job.spec?.template.spec?.containers[0]?.resources).toEqual({ limits: { memory: "64Mi" } });
  });

  it("the schema checks can fail: a wrong type and an unknown field are reported", () => {
    const job = buildJobTemplate(input);
    const bad = structuredClone(job) as unknown as { spec: { backoffLimit: unknown; bogus?: number } };
    bad.spec.backoffLimit = "zero";
    bad.spec.bogus = 1;
    const problems = jobProblems(bad);
    expect(problems.some((p) => p.includes("backoffLimit"))).toBe(true);
    expect(problems).toContain('unknown field "spec.bogus"');
    expect(unknownFields({ spec: { template: { spec: { containers: [{ nam: "x" }] } } } }, "V1Job")).toEqual([
      "spec.template.spec.containers[0].nam",
    ]);
  });

  it("names, labels and run settings follow the contract", () => {
    const job = buildJobTemplate(input);
    const labels = {
      app: "workflow-runner",
      "execution-id": executionId,
      "workflow-id": "wf1",
      "schedule-id": "sched1",
    };
    expect(job.metadata).toEqual({ name: `wf-${executionId}`, namespace: "local", labels });
    expect(job.spec?.template.metadata?.labels).toEqual(labels);
    expect(job.spec).toMatchObject({
      backoffLimit: 0,
      activeDeadlineSeconds: 300,
      ttlSecondsAfterFinished: 3600,
    });
    const pod = job.spec?.template.spec;
    expect(pod).toMatchObject({
      restartPolicy: "Never",
      serviceAccountName: "workflow-runner",
      automountServiceAccountToken: false,
    });
    expect(pod?.containers).toHaveLength(1);
    expect(pod?.containers[0]).toMatchObject({
      name: RUNNER_CONTAINER,
      image: config.runnerImage,
      imagePullPolicy: "IfNotPresent",
      args: ["run", executionId],
    });
    const manual = buildJobTemplate({ ...input, scheduleId: undefined });
    expect(manual.metadata?.labels).not.toHaveProperty("schedule-id");
    expect(runnerSelector(executionId)).toBe(`app=workflow-runner,execution-id=${executionId}`);
  });

  it("runs locked down: non-root, no escalation, read-only root with a writable /tmp, no capabilities", () => {
    const pod = buildJobTemplate(input).spec?.template.spec;
    const container = pod?.containers[0];
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(pod?.securityContext?.seccompProfile).toEqual({ type: "RuntimeDefault" });
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    const tmp = container?.volumeMounts?.find((m) => m.mountPath === "/tmp");
    expect(pod?.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toEqual({});
    expect(container?.resources?.requests).toBeDefined();
    expect(container?.resources?.limits).toBeDefined();
  });

  it("no env var holds a literal secret: secrets come from keeperhub-secrets, the rest from scheduler-env", () => {
    const container = buildJobTemplate(input).spec?.template.spec?.containers[0];
    const env = container?.env ?? [];
    for (const name of SECRET_ENV) {
      const entry = env.find((e) => e.name === name);
      expect(entry?.value, `${name} must not be a literal`).toBeUndefined();
      expect(entry?.valueFrom?.secretKeyRef).toEqual({ name: "keeperhub-secrets", key: name });
    }
    // Every literal value is one of the ids, and no literal looks like a URL with credentials or a key.
    const literals = env.filter((e) => e.value !== undefined);
    expect(literals.map((e) => e.name).sort()).toEqual([ENV.executionId, ENV.scheduleId, ENV.workflowId]);
    const everything = JSON.stringify(container);
    expect(everything).not.toMatch(/postgres(ql)?:\/\//);
    expect(container?.envFrom).toEqual([{ configMapRef: { name: "scheduler-env" } }]);
    expect(RUNNER_JOB_REFERENCES).toMatchObject({
      serviceAccount: "workflow-runner",
      secret: "keeperhub-secrets",
      configMap: "scheduler-env",
    });
  });

  it("refuses ids that cannot be Kubernetes names or label values, naming the input", () => {
    expect(() => buildJobTemplate({ ...input, executionId: "Not_An_Id" })).toThrow(JobTemplateError);
    expect(() => buildJobTemplate({ ...input, executionId: "Not_An_Id" })).toThrow(/executionId "Not_An_Id"/);
    expect(() => buildJobTemplate({ ...input, workflowId: "has space" })).toThrow(/workflowId "has space"/);
    expect(() => buildJobTemplate({ ...input, scheduleId: "x".repeat(64) })).toThrow(/scheduleId/);
  });

  it("is pure: the same input gives equal objects that do not share state", () => {
    const a = buildJobTemplate(input);
    const b = buildJobTemplate(input);
    expect(a).toEqual(b);
    a.spec?.template.spec?.containers[0]?.args?.push("x");
    expect(b.spec?.template.spec?.containers[0]?.args).toEqual(["run", executionId]);
  });
});
