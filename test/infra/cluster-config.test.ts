import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { clusterRunnerJobsCleanupScript, kubectlCommand } from "../../infra/cluster/cluster-specs.js";
import { clusterProblems, parseStackConfig, StackConfigError } from "../../infra/config.js";
import { doctorArgs, preflightArgs, preflightEnvironment, preflightFailure } from "../../infra/preflight.js";

// The cluster profile's settings: what it requires, what goes in pairs, the credentials rule, and the
// preflight's arguments built from them. Pure: parseStackConfig over raw settings.

/** The smallest valid cluster stack (secrets included: parseStackConfig sees whether they are set). */
const MINIMAL = {
  kubeContext: "team",
  registry: "127.0.0.1:5000/keeperhub",
  databaseUrl: "postgres://kh:pw@db:5432/kh",
  queueUrl: "http://sqs:4566/000000000000/keeperhub-workflow-queue",
  dlqUrl: "http://sqs:4566/000000000000/keeperhub-workflow-dlq",
};

function problems(raw: Record<string, string>, stack = "cluster"): string[] {
  try {
    parseStackConfig(raw, stack);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message.split("\n  - ").slice(1);
  }
  throw new Error("expected a StackConfigError");
}

describe("cluster profile config", () => {
  it("is the profile of stack cluster, with the documented defaults", () => {
    const config = parseStackConfig(MINIMAL, "cluster");
    expect(config.profile).toBe("cluster");
    expect(config.kubeContext).toBe("team");
    expect(config.cluster).toEqual({
      kubeconfig: undefined,
      registry: "127.0.0.1:5000/keeperhub",
      registryServer: "127.0.0.1:5000",
      registryUsername: undefined,
      queueUrl: MINIMAL.queueUrl,
      dlqUrl: MINIMAL.dlqUrl,
      sqsEndpoint: undefined,
      createQueues: false,
      awsCredentials: "ambient",
      serviceAccountAnnotations: {},
      spawnerReplicas: 2,
      quota: { pods: 30, cpu: "8", memory: "12Gi", maxCpu: "2", maxMemory: "2Gi" },
    });
    // The other profiles have no cluster settings.
    expect(parseStackConfig({}, "hybrid").cluster).toBeUndefined();
  });

  it("names every required setting that is missing, one line each", () => {
    const lines = problems({});
    for (const key of ["kubeContext", "registry", "databaseUrl", "queueUrl", "dlqUrl"]) {
      expect(
        lines.filter((line) => line.startsWith(`keeperhub:${key} must be set for profile cluster`)),
        key,
      ).toHaveLength(1);
    }
    expect(lines).toHaveLength(5);
  });

  it("refuses static keys together with ServiceAccount annotations, in one clear line", () => {
    const both = {
      ...MINIMAL,
      awsAccessKeyId: "AKIA",
      awsSecretAccessKey: "s",
      serviceAccountAnnotations: '{"eks.amazonaws.com/role-arn":"arn:aws:iam::1:role/kh"}',
    };
    expect(problems(both)).toEqual([
      "keeperhub:awsAccessKeyId and keeperhub:serviceAccountAnnotations are both set: choose static keys (a Kubernetes Secret) or the ServiceAccounts' identity (IRSA, Pod Identity), never both",
    ]);
    expect(
      parseStackConfig({ ...MINIMAL, awsAccessKeyId: "AKIA", awsSecretAccessKey: "s" }, "cluster").cluster
        ?.awsCredentials,
    ).toBe("static");
    // An empty object is no annotation at all.
    expect(
      clusterProblems({
        ...MINIMAL,
        awsAccessKeyId: "A",
        awsSecretAccessKey: "s",
        serviceAccountAnnotations: "{}",
      }),
    ).toEqual([]);
  });

  it("takes keys and registry credentials in pairs only", () => {
    expect(problems({ ...MINIMAL, awsAccessKeyId: "AKIA" })).toEqual([
      "keeperhub:awsAccessKeyId and keeperhub:awsSecretAccessKey are set together or not at all",
    ]);
    expect(problems({ ...MINIMAL, registryPassword: "pw" })).toEqual([
      "keeperhub:registryUsername and keeperhub:registryPassword are set together or not at all",
    ]);
  });

  it("names the key of each malformed value", () => {
    const lines = problems({
      ...MINIMAL,
      registry: "https://Registry.example/kh",
      queueUrl: "sqs-queue",
      serviceAccountAnnotations: '["not", "an object"]',
      spawnerReplicas: "0",
      runnerQuotaMemory: "12 GB",
    });
    expect(lines.map((line) => line.split(" ")[0]).sort()).toEqual(
      [
        "keeperhub:queueUrl",
        "keeperhub:registry",
        "keeperhub:runnerQuotaMemory",
        "keeperhub:serviceAccountAnnotations",
        "keeperhub:spawnerReplicas",
      ].sort(),
    );
    expect(lines.find((line) => line.startsWith("keeperhub:registry"))).toContain(
      '(got "https://Registry.example/kh")',
    );
  });

  it("refuses what the profile would ignore: Docker settings on cluster, cluster settings on the Docker stacks", () => {
    expect(problems({ ...MINIMAL, postgresPort: "5434", dbPassword: "pw" })).toEqual([
      "keeperhub:postgresPort is not read by profile cluster (it is for local, hybrid): pulumi config rm keeperhub:postgresPort",
      "keeperhub:dbPassword is not read by profile cluster (it is for local, hybrid): pulumi config rm keeperhub:dbPassword",
    ]);
    expect(problems({ registry: "127.0.0.1:5000/kh" }, "hybrid")).toEqual([
      "keeperhub:registry is not read by profile minikube (it is for cluster): pulumi config rm keeperhub:registry",
    ]);
    // Within the Docker stacks nothing changes: hybrid's settings on local stay as they were.
    expect(parseStackConfig({ minikubeProfile: "kh" }, "local").profile).toBe("dev");
    // Settings both read are fine on cluster.
    expect(
      parseStackConfig({ ...MINIMAL, logLevel: "debug", jobTtlSeconds: "60" }, "cluster").jobs.ttlSeconds,
    ).toBe(60);
  });

  it("accepts an ECR repository and a registry without a path", () => {
    const ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/keeperhub";
    expect(parseStackConfig({ ...MINIMAL, registry: ecr }, "cluster").cluster?.registryServer).toBe(
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    );
    expect(
      parseStackConfig({ ...MINIMAL, registry: "registry.local:5000" }, "cluster").cluster?.registryServer,
    ).toBe("registry.local:5000");
  });
});

describe("cluster profile preflight arguments", () => {
  const config = parseStackConfig(
    { ...MINIMAL, createQueues: "true", sqsEndpoint: "http://sqs:4566" },
    "cluster",
  );
  const args = preflightArgs(config, "cluster");

  it("hands the doctor the stack's targets, and the secrets only through its environment", () => {
    expect(doctorArgs(args)).toEqual([
      "doctor",
      "--profile",
      "cluster",
      "--stack",
      "cluster",
      "--context",
      "team",
      "--namespace",
      "local",
      "--registry",
      "127.0.0.1:5000/keeperhub",
      "--queue-url",
      MINIMAL.queueUrl,
      "--dlq-url",
      MINIMAL.dlqUrl,
      "--create-queues",
    ]);
    expect(doctorArgs(args).join(" ")).not.toContain("pw@");
    // Ambient credentials: keys given to the program are not passed on.
    expect(
      preflightEnvironment(args, "us-east-1", { databaseUrl: MINIMAL.databaseUrl, awsAccessKeyId: "A" }),
    ).toEqual({
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: "http://sqs:4566",
      DATABASE_URL: MINIMAL.databaseUrl,
    });
    expect(
      preflightEnvironment(preflightArgs(parseStackConfig({}, "hybrid"), "hybrid"), "us-east-1", {}),
    ).toBeUndefined();
  });

  it("says how to check again with the same targets", () => {
    const message = preflightFailure(
      [{ name: "registry", ok: false, required: true, message: "down", fix: "start it" }],
      args,
    );
    expect(message).toContain(
      "Check again with: npx khctl doctor --profile cluster --stack cluster --context team",
    );
  });

  it("pins kubectl to the context and quotes what the shell would split", () => {
    const target = {
      context: "arn:aws:eks:eu-west-1:1:cluster/my team",
      kubeconfig: "/k/c",
      namespace: "kh",
    };
    expect(kubectlCommand(target)).toBe(
      "kubectl --kubeconfig /k/c --context 'arn:aws:eks:eu-west-1:1:cluster/my team' -n kh",
    );
    expect(() => execFileSync("sh", ["-n", "-c", clusterRunnerJobsCleanupScript(target)])).not.toThrow();
  });
});
