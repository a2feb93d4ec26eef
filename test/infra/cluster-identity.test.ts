import { beforeAll, describe, expect, it } from "vitest";
import { ENV, K8S, SECRET_ENV } from "../../services/contracts/names.js";
import { find, inputs, type ProgramRun, runProgram } from "./mocks.js";

// Stack `cluster` on AWS itself with no keys in the stack: the ServiceAccounts carry an IRSA role, the
// queues are the team's (createQueues unset), the registry login is the Docker config's. The defaults of
// replicas, quota and limits apply.
const ROLE_ARN = "arn:aws:iam::123456789012:role/keeperhub";
const CONFIG = {
  "keeperhub:kubeContext": "arn:aws:eks:eu-west-1:123456789012:cluster/team",
  "keeperhub:registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/keeperhub",
  "keeperhub:databaseUrl": "postgres://keeperhub:pw@aurora.team.internal:5432/keeperhub",
  "keeperhub:queueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/keeperhub-workflow-queue",
  "keeperhub:dlqUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/keeperhub-workflow-dlq",
  "keeperhub:awsRegion": "eu-west-1",
  "keeperhub:serviceAccountAnnotations": JSON.stringify({ "eks.amazonaws.com/role-arn": ROLE_ARN }),
};

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram("cluster", CONFIG, ["keeperhub:databaseUrl"]);
});

describe("stack cluster with the ServiceAccounts' identity (IRSA)", () => {
  it("annotates the spawner's and the runners' ServiceAccounts with the role", () => {
    for (const name of ["scheduler-spawner-account", "scheduler-runner-account"]) {
      const account = inputs(find(run, "kubernetes:core/v1:ServiceAccount", name));
      expect(account.metadata.annotations, name).toEqual({ "eks.amazonaws.com/role-arn": ROLE_ARN });
    }
  });

  it("keeps no AWS keys in the Secret and gives the pods none, so the SDK takes the pod's identity", () => {
    const secret = inputs(find(run, "kubernetes:core/v1:Secret", "scheduler-secrets"));
    expect(Object.keys(secret.stringData).sort()).toEqual([...SECRET_ENV].sort());
    const spawner = inputs(find(run, "kubernetes:apps/v1:Deployment", "scheduler-spawner"));
    const env = spawner.spec.template.spec.containers[0].env as { name: string }[];
    expect(env.map((e) => e.name)).not.toContain(ENV.awsAccessKeyId);
    expect(env.map((e) => e.name)).not.toContain(ENV.awsSecretAccessKey);
    for (const name of SECRET_ENV) expect(env.map((e) => e.name)).toContain(name);
  });

  it("talks to AWS itself: no endpoint in the ConfigMap, the region's in the outputs", () => {
    const config = inputs(find(run, "kubernetes:core/v1:ConfigMap", "scheduler-config"));
    expect(config.data[ENV.awsEndpointUrl]).toBeUndefined();
    expect(config.data[ENV.awsRegion]).toBe("eu-west-1");
    expect(run.outputs.awsEndpointUrl).toBe("https://sqs.eu-west-1.amazonaws.com");
  });

  it("creates no queues (the preflight checks them) and pushes with the Docker config's login", () => {
    expect(run.registrations.some((r) => r.name === "queue-ensure")).toBe(false);
    expect(String(run.invokes[0]?.inputs.command)).not.toContain("--create-queues");
    const image = inputs(find(run, "docker:index/image:Image", "images-runner"));
    expect(image.registry).toEqual({ server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com" });
    // The doctor gets no keys either: this machine's own AWS credentials answer for it.
    expect(Object.keys(run.invokes[0]?.inputs.environment as object).sort()).toEqual(
      [ENV.awsRegion, ENV.databaseUrl].sort(),
    );
  });

  it("runs two spawners by default, with the default quota", () => {
    const spawner = inputs(find(run, "kubernetes:apps/v1:Deployment", "scheduler-spawner"));
    expect(spawner.spec.replicas).toBe(2);
    const quota = inputs(find(run, "kubernetes:core/v1:ResourceQuota", "cluster-quota"));
    expect(quota.spec.hard).toEqual({ pods: "30", "limits.cpu": "8", "limits.memory": "12Gi" });
    const budget = inputs(find(run, "kubernetes:policy/v1:PodDisruptionBudget", "scheduler-spawner-budget"));
    expect(budget.metadata.name).toBe(K8S.spawnerDeployment);
    expect(budget.spec.maxUnavailable).toBe(1);
  });
});
