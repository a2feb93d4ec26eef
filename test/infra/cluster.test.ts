import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { isDigestRef, LIMIT_RANGE_NAME, QUOTA_NAME } from "../../infra/cluster/cluster-specs.js";
import { DEFAULT_RUNNER_RESOURCES } from "../../services/contracts/job-template.js";
import { ENV, K8S, SECRET_ENV } from "../../services/contracts/names.js";
import { CLUSTER_STACK_OBJECTS, clusterStackAccess } from "../../services/doctor/cluster-checks.js";
import {
  COMMAND,
  find,
  IMAGE,
  imageDigest,
  inputs,
  invokedCommands,
  K8S_TYPES,
  type ProgramRun,
  plainOccurrences,
  type Registration,
  runProgram,
  secretPaths,
  waitsFor,
} from "./mocks.js";

// Stack `cluster` with static AWS keys, registry credentials, an SQS emulator and createQueues: every
// secret the profile can hold is set, so the test can look for each value in plain text.
const DB_PASSWORD = "db-pw-6f1d2a";
const DATABASE_URL = `postgres://keeperhub:${DB_PASSWORD}@db.team.internal:5432/keeperhub`;
const AWS_SECRET = "aws-secret-9c3e77";
const REGISTRY_PASSWORD = "registry-pw-41b0";
const ENCRYPTION_KEY = "c0ffee".repeat(10);
const QUEUE_URL = "http://sqs.team.internal:4566/000000000000/keeperhub-workflow-queue";
const DLQ_URL = "http://sqs.team.internal:4566/000000000000/keeperhub-workflow-dlq";
const SECRET_VALUES = [DB_PASSWORD, AWS_SECRET, REGISTRY_PASSWORD, ENCRYPTION_KEY];
const CONFIG = {
  "keeperhub:kubeContext": "team-staging",
  "keeperhub:kubeconfig": "/home/ci/.kube/team",
  "keeperhub:namespace": "keeperhub",
  "keeperhub:registry": "127.0.0.1:5000/keeperhub",
  "keeperhub:registryUsername": "ci",
  "keeperhub:registryPassword": REGISTRY_PASSWORD,
  "keeperhub:databaseUrl": DATABASE_URL,
  "keeperhub:queueUrl": QUEUE_URL,
  "keeperhub:dlqUrl": DLQ_URL,
  "keeperhub:sqsEndpoint": "http://sqs.team.internal:4566",
  "keeperhub:createQueues": "true",
  "keeperhub:awsAccessKeyId": "AKIATEAMKEY",
  "keeperhub:awsSecretAccessKey": AWS_SECRET,
  "keeperhub:encryptionKey": ENCRYPTION_KEY,
  "keeperhub:spawnerReplicas": "3",
  "keeperhub:runnerQuotaPods": "40",
};
const SECRET_KEYS = [
  "keeperhub:registryPassword",
  "keeperhub:databaseUrl",
  "keeperhub:awsAccessKeyId",
  "keeperhub:awsSecretAccessKey",
  "keeperhub:encryptionKey",
];

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram("cluster", CONFIG, SECRET_KEYS);
});

interface PodContainer {
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly env: { name: string; value?: string; valueFrom?: unknown }[];
}

/** Every container of the Deployment's and the CronJob's pod templates. */
function podContainers(): PodContainer[] {
  const spawner = inputs(find(run, K8S_TYPES.deployment, "scheduler-spawner"));
  const dispatcher = inputs(find(run, K8S_TYPES.cronJob, "scheduler-dispatcher"));
  return [
    ...spawner.spec.template.spec.containers,
    ...dispatcher.spec.jobTemplate.spec.template.spec.containers,
  ];
}

describe("stack cluster: resources", () => {
  it("runs without error", () => {
    expect(run.error).toBeUndefined();
  });

  it("declares the cluster set: no container, no minikube, no generated database password", () => {
    const declared = run.registrations.map((r) => `${r.type} ${r.name}`).sort();
    expect(declared).toEqual(
      [
        "keeperhub:infra:EncryptionKey secrets",
        "random:index/randomBytes:RandomBytes secrets-encryption-key",
        "keeperhub:infra:ExternalQueues queue",
        `${COMMAND} queue-ensure`,
        "keeperhub:infra:Migrations migrations",
        `${COMMAND} migrations-migrate`,
        "keeperhub:infra:Images images",
        `${IMAGE} images-scheduler`,
        `${COMMAND} images-scheduler-cleanup`,
        `${IMAGE} images-runner`,
        `${COMMAND} images-runner-cleanup`,
        "keeperhub:infra:ExistingCluster cluster",
        "pulumi:providers:kubernetes cluster-provider",
        `${K8S_TYPES.namespace} cluster-namespace`,
        `${K8S_TYPES.quota} cluster-quota`,
        `${K8S_TYPES.limitRange} cluster-limits`,
        `${COMMAND} cluster-runner-jobs`,
        "keeperhub:infra:Scheduler scheduler",
        `${K8S_TYPES.configMap} scheduler-config`,
        `${K8S_TYPES.secret} scheduler-secrets`,
        `${K8S_TYPES.serviceAccount} scheduler-spawner-account`,
        `${K8S_TYPES.role} scheduler-spawner-role`,
        `${K8S_TYPES.roleBinding} scheduler-spawner-binding`,
        `${K8S_TYPES.serviceAccount} scheduler-runner-account`,
        `${K8S_TYPES.deployment} scheduler-spawner`,
        `${K8S_TYPES.pdb} scheduler-spawner-budget`,
        `${K8S_TYPES.cronJob} scheduler-dispatcher`,
      ].sort(),
    );
  });

  it("runs `khctl doctor --profile cluster` with the stack's targets first, and observes nothing else", () => {
    expect(invokedCommands(run)).toEqual(["doctor"]);
    const doctor = run.invokes[0]?.inputs ?? {};
    expect(doctor.command).toMatch(
      /doctor --profile cluster --stack cluster --context team-staging --kubeconfig \/home\/ci\/\.kube\/team --namespace keeperhub --registry 127\.0\.0\.1:5000\/keeperhub --queue-url \S+keeperhub-workflow-queue --dlq-url \S+keeperhub-workflow-dlq --create-queues --json \|\| true$/,
    );
    // The checks reach the database and SQS as the stack does; an invoke's inputs are never stored.
    expect(doctor.environment).toEqual({
      [ENV.databaseUrl]: DATABASE_URL,
      [ENV.awsRegion]: "us-east-1",
      [ENV.awsEndpointUrl]: "http://sqs.team.internal:4566",
      [ENV.awsAccessKeyId]: "AKIATEAMKEY",
      [ENV.awsSecretAccessKey]: AWS_SECRET,
    });
  });

  it("pins the provider to the configured context and kubeconfig, and uses it for every object", () => {
    const provider = find(run, "pulumi:providers:kubernetes", "cluster-provider");
    expect(inputs(provider)).toMatchObject({ context: "team-staging", kubeconfig: "/home/ci/.kube/team" });
    const objects = run.registrations.filter((r) => r.type.startsWith("kubernetes:"));
    expect(objects.length).toBe(12);
    for (const object of objects)
      expect(object.provider.startsWith(`${provider.urn}::`), object.name).toBe(true);
  });
});

describe("stack cluster: images by digest", () => {
  it("builds both images under the registry and pushes them with the configured credentials", () => {
    for (const kind of ["scheduler", "runner"]) {
      const image = find(run, IMAGE, `images-${kind}`);
      const { imageName, skipPush, registry, build } = inputs(image);
      expect(imageName).toMatch(
        new RegExp(`^127\\.0\\.0\\.1:5000/keeperhub/keeperhub-${kind}:[0-9a-f]{16}$`),
      );
      expect(skipPush).toBe(false);
      expect(registry).toEqual({ server: "127.0.0.1:5000", username: "ci", password: REGISTRY_PASSWORD });
      expect(secretPaths(image.raw)).toContain("registry.password");
      expect(build.dockerfile).toMatch(/services\/Dockerfile$/);
    }
  });

  it("names the pushed digests in every pod spec and in RUNNER_IMAGE, pulled only when not present", () => {
    const digest = (kind: string) => imageDigest(inputs(find(run, IMAGE, `images-${kind}`)));
    const images = run.outputs.images as { scheduler: string; runner: string };
    expect(images).toEqual({ scheduler: digest("scheduler"), runner: digest("runner") });
    for (const ref of Object.values(images)) expect(isDigestRef(ref), ref).toBe(true);
    const containers = podContainers();
    expect(containers.map((c) => c.name).sort()).toEqual(["dispatcher", "spawner"]);
    for (const container of containers) {
      expect(container.image, container.name).toBe(images.scheduler);
      expect(container.imagePullPolicy, container.name).toBe("IfNotPresent");
    }
    const spawner = containers.find((c) => c.name === "spawner") as {
      env: { name: string; value?: string }[];
    };
    expect(spawner.env.find((e) => e.name === ENV.runnerImage)?.value).toBe(images.runner);
  });

  it("rolls the pods after the push: the Deployment and the CronJob wait for both images", () => {
    const spawner = find(run, K8S_TYPES.deployment, "scheduler-spawner");
    const dispatcher = find(run, K8S_TYPES.cronJob, "scheduler-dispatcher");
    for (const kind of ["scheduler", "runner"]) {
      expect(waitsFor(run, spawner, find(run, IMAGE, `images-${kind}`)), kind).toBe(true);
    }
    expect(waitsFor(run, dispatcher, find(run, IMAGE, "images-scheduler"))).toBe(true);
  });
});

describe("stack cluster: secrets", () => {
  it("has no secret value in plain text in any resource's inputs", () => {
    for (const registration of run.registrations) {
      expect(plainOccurrences(registration.raw, SECRET_VALUES), registration.name).toEqual([]);
    }
  });

  it("keeps the database URL, the encryption key and the static AWS keys in Secret keeperhub-secrets", () => {
    const secret = find(run, K8S_TYPES.secret, "scheduler-secrets");
    expect(secretPaths(secret.raw)).toContain("stringData");
    expect(inputs(secret).stringData).toEqual({
      [ENV.databaseUrl]: DATABASE_URL,
      [ENV.integrationEncryptionKey]: ENCRYPTION_KEY,
      [ENV.awsAccessKeyId]: "AKIATEAMKEY",
      [ENV.awsSecretAccessKey]: AWS_SECRET,
    });
  });

  it("gives the pods every secret by secretKeyRef, never a value", () => {
    for (const container of podContainers()) {
      const env = container.env;
      const refs = env.filter((e) => e.valueFrom).map((e) => e.name);
      expect(refs.sort(), container.name).toEqual(
        [...SECRET_ENV, ENV.awsAccessKeyId, ENV.awsSecretAccessKey].sort(),
      );
      for (const entry of env.filter((e) => e.valueFrom)) {
        expect(entry.valueFrom).toEqual({ secretKeyRef: { name: K8S.secret, key: entry.name } });
      }
    }
  });

  it("exports the database URL as a secret", async () => {
    const exported = run.exports.databaseUrl as pulumi.Output<string>;
    expect(await pulumi.isSecret(exported)).toBe(true);
    expect(run.outputs.databaseUrl).toBe(DATABASE_URL);
  });
});

describe("stack cluster: the namespace, quota and spawners", () => {
  it("creates the namespace with PodSecurity restricted, a ResourceQuota and a LimitRange in it", () => {
    const namespace = inputs(find(run, K8S_TYPES.namespace, "cluster-namespace"));
    expect(namespace.metadata.name).toBe("keeperhub");
    expect(namespace.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const quota = inputs(find(run, K8S_TYPES.quota, "cluster-quota"));
    expect(quota.metadata).toEqual({ name: QUOTA_NAME, namespace: "keeperhub" });
    expect(quota.spec.hard).toEqual({ pods: "40", "limits.cpu": "8", "limits.memory": "12Gi" });
    const limits = inputs(find(run, K8S_TYPES.limitRange, "cluster-limits"));
    expect(limits.metadata.name).toBe(LIMIT_RANGE_NAME);
    expect(limits.spec.limits).toEqual([
      {
        type: "Container",
        defaultRequest: DEFAULT_RUNNER_RESOURCES.requests,
        default: DEFAULT_RUNNER_RESOURCES.limits,
        max: { cpu: "2", memory: "2Gi" },
      },
    ]);
  });

  it("starts the pods only after the quota, the limits, the schema and the queues", () => {
    const spawner = find(run, K8S_TYPES.deployment, "scheduler-spawner");
    const dispatcher = find(run, K8S_TYPES.cronJob, "scheduler-dispatcher");
    const before = [
      find(run, K8S_TYPES.quota, "cluster-quota"),
      find(run, K8S_TYPES.limitRange, "cluster-limits"),
      find(run, COMMAND, "migrations-migrate"),
      find(run, COMMAND, "queue-ensure"),
    ];
    for (const pods of [spawner, dispatcher]) {
      for (const first of before)
        expect(waitsFor(run, pods, first), `${pods.name} after ${first.name}`).toBe(true);
    }
  });

  it("runs spawnerReplicas spawners, rolled one at a time, spread across nodes, with a disruption budget", () => {
    const spawner = inputs(find(run, K8S_TYPES.deployment, "scheduler-spawner"));
    expect(spawner.spec.replicas).toBe(3);
    expect(spawner.spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(spawner.spec.template.spec.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: spawner.spec.selector.matchLabels },
      },
    ]);
    const budget = inputs(find(run, K8S_TYPES.pdb, "scheduler-spawner-budget"));
    expect(budget.metadata).toEqual({ name: K8S.spawnerDeployment, namespace: "keeperhub" });
    expect(budget.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: spawner.spec.selector.matchLabels },
    });
  });

  it("points the pods at the configured SQS endpoint, queue and namespace", () => {
    const config = inputs(find(run, K8S_TYPES.configMap, "scheduler-config"));
    expect(config.data).toMatchObject({
      [ENV.awsEndpointUrl]: "http://sqs.team.internal:4566",
      [ENV.sqsQueueUrl]: QUEUE_URL,
      [ENV.k8sNamespace]: "keeperhub",
    });
  });

  it("deletes the runner Jobs on destroy through the stack's context, never the current one", () => {
    const cleanup = inputs(find(run, COMMAND, "cluster-runner-jobs"));
    expect(cleanup.create).toBeUndefined();
    expect(cleanup.delete).toBe(
      "kubectl --kubeconfig /home/ci/.kube/team --context team-staging -n keeperhub delete jobs -l app=workflow-runner --ignore-not-found --wait=true --cascade=foreground",
    );
    const spawner = find(run, K8S_TYPES.deployment, "scheduler-spawner");
    expect(waitsFor(run, spawner, find(run, COMMAND, "cluster-runner-jobs"))).toBe(true);
  });
});

describe("stack cluster: queues and the schema", () => {
  it("creates the queue pair on the configured SQS with the static keys as secrets (createQueues)", () => {
    const ensure = find(run, COMMAND, "queue-ensure");
    expect(inputs(ensure).create).toMatch(/services\/cli\/main\.ts queue ensure$/);
    expect(inputs(ensure).environment).toEqual({
      [ENV.awsEndpointUrl]: "http://sqs.team.internal:4566",
      [ENV.awsRegion]: "us-east-1",
      [ENV.awsAccessKeyId]: "AKIATEAMKEY",
      [ENV.awsSecretAccessKey]: AWS_SECRET,
    });
    expect(secretPaths(ensure.raw)).toEqual(
      expect.arrayContaining([`environment.${ENV.awsAccessKeyId}`, `environment.${ENV.awsSecretAccessKey}`]),
    );
  });

  it("migrates the configured database, again when its URL changes, without the URL in the triggers", () => {
    const migrate = find(run, COMMAND, "migrations-migrate");
    expect(inputs(migrate).environment[ENV.databaseUrl]).toBe(DATABASE_URL);
    const triggers = inputs(migrate).triggers as string[];
    expect(triggers).toHaveLength(2);
    expect(triggers[1]).toMatch(/^[0-9a-f]{16}$/);
    expect(plainOccurrences(migrate.raw.triggers, [DB_PASSWORD, "db.team.internal"])).toEqual([]);
  });

  it("exports the stack's outputs: queues, endpoint, images, namespace, context and next commands", () => {
    expect(run.outputs).toMatchObject({
      profile: "cluster",
      queueUrl: QUEUE_URL,
      dlqUrl: DLQ_URL,
      awsEndpointUrl: "http://sqs.team.internal:4566",
      namespace: "keeperhub",
      kubeContext: "team-staging",
    });
    const next = run.outputs.nextCommands as string[];
    expect(next).toContain("npx khctl status --profile cluster");
    // status, console and logs read the stack's context from the kubeconfig it is in.
    expect(next[0]).toMatch(
      / KUBECONFIG=\/home\/ci\/\.kube\/team KUBE_CONTEXT=team-staging K8S_NAMESPACE=keeperhub$/,
    );
    expect(next.join("\n")).not.toContain(DB_PASSWORD);
  });
});

describe("the cluster preflight's permissions", () => {
  it("cover every kind of object the program declares", () => {
    const declared = new Set(
      run.registrations
        .filter((r: Registration) => r.type.startsWith("kubernetes:"))
        .map((r) => r.type.split(":").at(-1)?.toLowerCase()),
    );
    const checked = new Set(
      CLUSTER_STACK_OBJECTS.map((o) => o.resource.replace(/ies$/, "y").replace(/s$/, "")),
    );
    for (const kind of declared)
      expect(checked.has(kind ?? ""), `${kind} is not in CLUSTER_STACK_OBJECTS`).toBe(true);
    const access = clusterStackAccess().map((a) => `${a.verb} ${a.resource}`);
    for (const verb of ["get", "create", "patch", "delete"]) expect(access).toContain(`${verb} deployments`);
    // What the spawner's Role grants, since RBAC lets a user grant only what it holds.
    expect(access).toEqual(expect.arrayContaining(["create jobs", "list pods", "get pods/log"]));
  });
});
