import { describe, expect, it } from "vitest";
import {
  dispatcherCronJobArgs,
  POD_SECURITY_LABELS,
  REACH_CHECK_POD,
  reachCheckArgs,
  reachCheckPodOverrides,
  spawnerDeploymentArgs,
} from "../../../infra/cluster/specs.js";
import { buildJobTemplate } from "../../../services/contracts/job-template.js";
import {
  IMAGES,
  K8S,
  SECRET_ENV,
  SPAWNER_API_ACCESS,
  SPAWNER_HEALTH,
} from "../../../services/contracts/names.js";
import { newId } from "../../../services/core/ids.js";
import { classifyKubeError, createJob, createKubeApi } from "../../../services/spawner/kube.js";
import {
  applyObjects,
  canI,
  createTestNamespace,
  getJob,
  kubectl,
  manifest,
  spawnerToken,
  stackObjects,
  tokenKubeConfig,
} from "./cluster.js";

// The hybrid stack's Kubernetes objects, built by the functions the Pulumi program uses, against a real
// kube-apiserver: applied with strict field validation, PodSecurity "restricted" judging every pod they
// make, and RBAC judging what the job-spawner's own token may do.

const namespace = await createTestNamespace();
const objects = stackObjects({
  namespace,
  settings: {
    awsEndpointUrl: "http://127.0.0.1:4566",
    awsRegion: "us-east-1",
    queueUrl: "http://127.0.0.1:4566/000000000000/keeperhub-workflow-queue",
    jobTtlSeconds: 600,
    jobActiveDeadlineSeconds: 300,
    maxConcurrentJobs: 4,
    logLevel: "info",
  },
  secrets: {
    // No runner runs in this file: nothing reads these.
    databaseUrl: "postgres://keeperhub:unused@127.0.0.1:9/keeperhub",
    encryptionKey: "c0ffee".repeat(10),
    awsCredentials: { accessKeyId: "test", secretAccessKey: "test" },
  },
});
await applyObjects(objects);
const spawner = tokenKubeConfig(await spawnerToken(namespace), namespace);

const images = { scheduler: `${IMAGES.scheduler}:0123abcd`, runner: `${IMAGES.runner}:0123abcd` };
const deployment = manifest(
  "apps/v1",
  "Deployment",
  spawnerDeploymentArgs({
    namespace,
    image: images.scheduler,
    runnerImage: images.runner,
    probes: SPAWNER_HEALTH,
    configHash: "0123456789abcdef",
  }),
);
const cronJob = manifest(
  "batch/v1",
  "CronJob",
  dispatcherCronJobArgs({
    namespace,
    image: images.scheduler,
    startingDeadlineSeconds: 30,
    configHash: "0123456789abcdef",
  }),
);
const runnerJob = buildJobTemplate({
  executionId: newId(),
  workflowId: "wf1",
  config: { namespace, runnerImage: images.runner, jobTtlSeconds: 600, jobActiveDeadlineSeconds: 300 },
});

type PodTemplate = { metadata?: object; spec: Record<string, unknown> };
/** A bare Pod with a workload's pod template, which PodSecurity judges (it only warns on the workload). */
const podOf = (template: PodTemplate, name: string) =>
  manifest("v1", "Pod", { metadata: { ...template.metadata, name, namespace }, spec: template.spec });
const spec = (object: Record<string, unknown>) => object.spec as Record<string, unknown>;

describe("the hybrid stack's objects on a real API server", () => {
  it("apply with strict field validation in a namespace that enforces PodSecurity restricted", async () => {
    const { stdout } = await kubectl(["get", "namespace", namespace, "-o", "json"]);
    expect(JSON.parse(stdout).metadata.labels).toMatchObject(POD_SECURITY_LABELS);
    const secret = JSON.parse(
      (await kubectl(["-n", namespace, "get", "secret", K8S.secret, "-o", "json"])).stdout,
    );
    expect(Object.keys(secret.data)).toEqual(expect.arrayContaining([...SECRET_ENV]));
    // Applying them again changes nothing and fails nothing (what `pulumi up` does on every run).
    await applyObjects(objects);
  });

  it("PodSecurity refuses a runner pod without its hardening (so the checks below can fail)", async () => {
    const pod = podOf(runnerJob.spec?.template as unknown as PodTemplate, "kh-unhardened");
    const podSpec = spec(pod) as { securityContext?: unknown; containers: { securityContext?: unknown }[] };
    delete podSpec.securityContext;
    for (const container of podSpec.containers) delete container.securityContext;
    await expect(applyObjects([pod], { dryRun: true })).rejects.toMatchObject({
      stderr: expect.stringMatching(/violates PodSecurity "restricted:latest"/),
    });
  });

  it("the Deployment, the CronJob and the runner Job pass a strict server-side dry run, without warnings", async () => {
    const { applied, warnings } = await applyObjects([deployment, cronJob, runnerJob], { dryRun: true });
    expect(warnings).toBe("");
    expect(applied.map((object) => object.kind)).toEqual(["Deployment", "CronJob", "Job"]);
    // A misspelt field in one of them is refused by the server, not dropped.
    const misspelt = structuredClone(deployment) as { spec: { replica?: number } };
    misspelt.spec.replica = 1;
    await expect(applyObjects([misspelt], { dryRun: true })).rejects.toMatchObject({
      stderr: expect.stringMatching(/\.spec\.replica: field not declared in schema/),
    });
  });

  it("the pods of the Deployment, the CronJob and the runner Job pass PodSecurity restricted", async () => {
    const template = (object: Record<string, unknown>) => spec(object).template as PodTemplate;
    const cronTemplate = spec(spec(cronJob).jobTemplate as Record<string, unknown>).template as PodTemplate;
    const pods = [
      podOf(template(deployment), "kh-spawner"),
      podOf(cronTemplate, "kh-dispatcher"),
      podOf(runnerJob.spec?.template as unknown as PodTemplate, "kh-runner"),
    ];
    const { applied, warnings } = await applyObjects(pods, { dryRun: true });
    expect(warnings).toBe("");
    expect(applied.map((pod) => pod.kind)).toEqual(["Pod", "Pod", "Pod"]);
  });

  it("the reachability check's pod, as `kubectl run` builds it, passes PodSecurity restricted", async () => {
    const targets = ["postgres=host.minikube.internal:5433"];
    const { stdout, stderr } = await kubectl([
      "-n",
      namespace,
      "run",
      REACH_CHECK_POD,
      "--dry-run=server",
      "-o",
      "json",
      "--restart=Never",
      `--image=${images.scheduler}`,
      "--image-pull-policy=Never",
      `--overrides=${JSON.stringify(reachCheckPodOverrides())}`,
      "--override-type=strategic",
      "--",
      ...reachCheckArgs(targets),
    ]);
    expect(stderr).toBe("");
    const pod = JSON.parse(stdout);
    expect(pod.spec.containers).toHaveLength(1);
    expect(pod.spec.containers[0]).toMatchObject({
      name: REACH_CHECK_POD,
      image: images.scheduler,
      args: reachCheckArgs(targets),
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
    });
  });
});

describe("the job-spawner's own token (RBAC)", () => {
  const accesses = SPAWNER_API_ACCESS.flatMap((rule) =>
    rule.resources.flatMap((resource) =>
      rule.verbs.map((verb) => {
        const [name, subresource] = resource.split("/") as [string, string | undefined];
        return { group: rule.apiGroups[0], resource: name, subresource, verb };
      }),
    ),
  );

  it.each(accesses)("may $verb $resource $subresource in its namespace", async (access) => {
    expect(await canI(spawner, { namespace, ...access })).toBe(true);
  });

  it.each([
    { group: "", resource: "secrets", verb: "get" },
    { group: "", resource: "secrets", verb: "list" },
    { group: "", resource: "configmaps", verb: "get" },
    { group: "batch", resource: "jobs", verb: "get" },
    { group: "batch", resource: "jobs", verb: "watch" },
    { group: "batch", resource: "jobs", verb: "update" },
    { group: "batch", resource: "jobs", verb: "patch" },
    { group: "batch", resource: "cronjobs", verb: "create" },
    { group: "", resource: "pods", verb: "create" },
    { group: "", resource: "pods", verb: "delete" },
    { group: "", resource: "pods", verb: "create", subresource: "exec" },
    { group: "apps", resource: "deployments", verb: "update" },
    { group: "rbac.authorization.k8s.io", resource: "roles", verb: "update" },
  ])("may not $verb $resource $subresource", async (access) => {
    expect(await canI(spawner, { namespace, ...access })).toBe(false);
  });

  it("may not create Jobs in another namespace", async () => {
    expect(
      await canI(spawner, { namespace: "default", group: "batch", resource: "jobs", verb: "create" }),
    ).toBe(false);
  });

  it("createJob sends the Job as built: a misspelt field gets the server's 400, classified permanent", async () => {
    const api = createKubeApi(spawner, { namespace, requestTimeoutMs: 10_000 });
    const job = buildJobTemplate({
      executionId: newId(),
      workflowId: "wf1",
      config: { namespace, runnerImage: images.runner, jobTtlSeconds: 600, jobActiveDeadlineSeconds: 300 },
    });
    const container = job.spec?.template.spec?.containers[0] as unknown as Record<string, unknown>;
    container.imagePullPolcy = "Never";
    const error = await createJob(api, job).catch((caught: unknown) => caught);
    expect(classifyKubeError(error)).toMatchObject({
      kind: "permanent",
      status: 400,
      reason: "BadRequest",
      message: expect.stringContaining(
        'strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolcy"',
      ),
    });
    expect(await getJob(namespace, job.metadata?.name as string)).toBeUndefined();
  });
});
