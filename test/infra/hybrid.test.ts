import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { reachCheckPodOverrides } from "../../infra/cluster/specs.js";
import { RESTORE_ANNOTATION, RESTORE_ENV } from "../../infra/drift.js";
import { shellQuote } from "../../infra/khctl.js";
import { buildJobTemplate, RUNNER_JOB_REFERENCES } from "../../services/contracts/job-template.js";
import {
  DISPATCHER_SCHEDULE,
  ENV,
  HOST_ALIAS,
  K8S,
  SECRET_ENV,
  SPAWNER_HEALTH,
} from "../../services/contracts/names.js";
import {
  COMMAND,
  COMMON_REGISTRATIONS,
  CONTAINER,
  find,
  IMAGE,
  inputs,
  invokedCommands,
  K8S_TYPES,
  type ProgramRun,
  plainOccurrences,
  runProgram,
  secretPaths,
  waitsFor,
} from "./mocks.js";

// Stack `hybrid` with a non-default context and minikube profile, to prove the config is what is used.
const ENCRYPTION_KEY = "c0ffee".repeat(10);
const LOCALSTACK_TOKEN = "ls-token-0123456789";
const CONFIG = {
  "keeperhub:profile": "minikube",
  "keeperhub:minikubeProfile": "kh-ci",
  "keeperhub:kubeContext": "kh-ci-context",
  "keeperhub:jobTtlSeconds": "600",
  "keeperhub:maxConcurrentJobs": "4",
  "keeperhub:encryptionKey": ENCRYPTION_KEY,
  "keeperhub:localstackAuthToken": LOCALSTACK_TOKEN,
};
// The mocks' RandomPassword result for the generated database password (see mocks.ts).
const GENERATED_DB_PASSWORD = "generated-password-secrets-db-password";

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram("hybrid", CONFIG, ["keeperhub:encryptionKey", "keeperhub:localstackAuthToken"]);
});

describe("stack hybrid: resources", () => {
  it("declares exactly the hybrid set: no executor or dispatcher container, no app without a checkout", () => {
    const declared = run.registrations.map((r) => `${r.type} ${r.name}`).sort();
    expect(declared).toEqual(
      [
        ...COMMON_REGISTRATIONS,
        `${IMAGE} images-runner`,
        `${COMMAND} images-runner-cleanup`,
        "keeperhub:infra:Cluster cluster",
        `${COMMAND} cluster-minikube`,
        `${COMMAND} cluster-load-scheduler`,
        `${COMMAND} cluster-load-runner`,
        `${COMMAND} cluster-runner-jobs`,
        "pulumi:providers:kubernetes cluster-provider",
        `${K8S_TYPES.namespace} cluster-namespace`,
        "keeperhub:infra:Scheduler scheduler",
        `${K8S_TYPES.configMap} scheduler-config`,
        `${K8S_TYPES.secret} scheduler-secrets`,
        `${K8S_TYPES.serviceAccount} scheduler-spawner-account`,
        `${K8S_TYPES.role} scheduler-spawner-role`,
        `${K8S_TYPES.roleBinding} scheduler-spawner-binding`,
        `${K8S_TYPES.serviceAccount} scheduler-runner-account`,
        `${COMMAND} scheduler-reach-check`,
        `${K8S_TYPES.deployment} scheduler-spawner`,
        `${K8S_TYPES.cronJob} scheduler-dispatcher`,
      ].sort(),
    );
  });

  it("runs `khctl doctor --profile minikube` as the preflight, then looks at the queues and minikube", () => {
    const [first, ...rest] = invokedCommands(run);
    expect(first).toBe("doctor");
    expect(rest.sort()).toEqual(["minikube", "queue check"]);
    expect(run.invokes[0]?.inputs.command).toMatch(
      /services\/cli\/main\.ts doctor --profile minikube --stack hybrid --postgres-port 5433 --localstack-port 4566 --localstack-image localstack\/localstack:4\.14\.0 --localstack-token --json \|\| true$/,
    );
    const observe = String(
      run.invokes.find((i) => String(i.inputs.command).startsWith("state="))?.inputs.command,
    );
    expect(observe).toMatch(/^state=\$\(minikube -p kh-ci status /);
    expect(observe).toContain("k --context kh-ci-context -n local get namespace/local");
  });

  it("pins every image and publishes the configured ports", () => {
    const pulled = run.registrations
      .filter((r) => r.type === "docker:index/remoteImage:RemoteImage")
      .map((r) => inputs(r).name as string);
    expect(pulled).toEqual(["postgres:16.9-bookworm", "localstack/localstack:4.14.0"]);
    for (const image of run.registrations.filter((r) => r.type === IMAGE)) {
      const { imageName, skipPush, build } = inputs(image);
      expect(imageName).toMatch(/^keeperhub-(scheduler|runner):[0-9a-f]{16}$/);
      expect(skipPush).toBe(true);
      expect(build.dockerfile).toMatch(/services\/Dockerfile$/);
      expect(build.args.NODE_IMAGE).toBe("node:24.22.3-bookworm-slim");
    }
    const text = JSON.stringify(run.registrations.map(inputs));
    expect(text).not.toMatch(/:latest\b/);

    const postgres = inputs(find(run, CONTAINER, "containers-postgres"));
    expect(postgres.ports).toEqual([{ internal: 5432, external: 5433 }]);
    expect(postgres.healthcheck.tests.join(" ")).toMatch(/pg_isready/);
    expect(postgres.wait).toBe(true);
    const localstack = inputs(find(run, CONTAINER, "containers-localstack"));
    expect(localstack.ports).toEqual([{ internal: 4566, external: 4566 }]);
    expect(localstack.envs).toEqual(
      expect.arrayContaining([
        "SERVICES=sqs",
        `LOCALSTACK_HOST=${HOST_ALIAS}:4566`,
        "SQS_ENDPOINT_STRATEGY=path",
      ]),
    );
    expect(localstack.healthcheck.tests.join(" ")).toMatch(/_localstack\/health/);
    expect(localstack.wait).toBe(true);
  });

  it("loads each image into the configured minikube profile, re-running only when its tag changes", () => {
    const images = run.outputs.images as { scheduler: string; runner: string };
    for (const kind of ["scheduler", "runner"] as const) {
      const load = find(run, COMMAND, `cluster-load-${kind}`);
      expect(inputs(load).create).toBe(`minikube -p kh-ci image load ${images[kind]}`);
      expect(inputs(load).triggers).toEqual([images[kind]]);
      // Present in minikube (the observation): the stored restore token is kept.
      expect(inputs(load).environment[RESTORE_ENV]).toBe("created");
      expect(load.ignoreChanges).toEqual([`environment.${RESTORE_ENV}`]);
    }
    const start = find(run, COMMAND, "cluster-minikube");
    expect(inputs(start).create).toMatch(
      /minikube -p kh-ci status .*\|\| minikube -p kh-ci start --memory=4096 --cpus=2/,
    );
    // Never replaced (its delete may stop minikube): memory, CPUs or profile changes are an update.
    expect(inputs(start).triggers).toBeUndefined();
    expect(start.ignoreChanges).toEqual(["triggers", `environment.${RESTORE_ENV}`]);
    // Destroy leaves minikube running by default.
    expect(inputs(start).delete).toBeUndefined();
  });

  it("pins the Kubernetes provider to the configured context and uses it for every object", () => {
    const provider = find(run, "pulumi:providers:kubernetes", "cluster-provider");
    expect(inputs(provider).context).toBe("kh-ci-context");
    const objects = run.registrations.filter((r) => r.type.startsWith("kubernetes:"));
    expect(objects.length).toBe(9);
    for (const object of objects) expect(object.provider.startsWith(`${provider.urn}::`)).toBe(true);
  });

  it("gives every object a restore token, kept while it exists, that re-creates it (old one deleted first) when deleted", () => {
    const objects = run.registrations.filter((r) => r.type.startsWith("kubernetes:"));
    for (const object of objects) {
      expect(inputs(object).metadata.annotations, object.name).toEqual({ [RESTORE_ANNOTATION]: "created" });
      expect(object.ignoreChanges, object.name).toEqual([`metadata.annotations["${RESTORE_ANNOTATION}"]`]);
      expect(object.replaceOnChanges, object.name).toEqual([`metadata.annotations["${RESTORE_ANNOTATION}"]`]);
      expect(object.deleteBeforeReplace, object.name).toBe(true);
    }
  });

  it("creates namespace local with the ConfigMap, Secret and accounts by their contract names", () => {
    const namespace = inputs(find(run, K8S_TYPES.namespace, "cluster-namespace"));
    expect(namespace.metadata.name).toBe("local");
    expect(namespace.metadata.labels).toEqual({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
    });
    const config = inputs(find(run, K8S_TYPES.configMap, "scheduler-config"));
    expect(config.metadata).toMatchObject({ name: K8S.configMap, namespace: "local" });
    expect(config.data).toEqual({
      [ENV.awsEndpointUrl]: `http://${HOST_ALIAS}:4566`,
      [ENV.awsRegion]: "us-east-1",
      [ENV.sqsQueueUrl]: run.outputs.queueUrl,
      [ENV.k8sNamespace]: "local",
      [ENV.jobTtlSeconds]: "600",
      [ENV.jobActiveDeadline]: "300",
      [ENV.maxConcurrentJobs]: "4",
      [ENV.logLevel]: "info",
    });
    const secret = find(run, K8S_TYPES.secret, "scheduler-secrets");
    expect(inputs(secret).metadata.name).toBe(K8S.secret);
    expect(Object.keys(inputs(secret).stringData)).toEqual(expect.arrayContaining([...SECRET_ENV]));
    expect(inputs(secret).stringData[ENV.integrationEncryptionKey]).toBe(ENCRYPTION_KEY);
    expect(inputs(secret).stringData[ENV.databaseUrl]).toBe(
      `postgres://keeperhub:${GENERATED_DB_PASSWORD}@${HOST_ALIAS}:5433/keeperhub`,
    );
    const runner = inputs(find(run, K8S_TYPES.serviceAccount, "scheduler-runner-account"));
    expect(runner.metadata.name).toBe(K8S.runnerServiceAccount);
    expect(runner.automountServiceAccountToken).toBe(false);
  });

  it("gives the job-spawner least privilege: the runner Jobs and pods it uses, nothing else", () => {
    const role = inputs(find(run, K8S_TYPES.role, "scheduler-spawner-role"));
    expect(role.metadata).toMatchObject({ name: K8S.spawnerRole, namespace: "local" });
    // What the real API server allows with this Role is checked in test/real/kube/objects.test.ts.
    expect(role.rules).toEqual([
      { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "list", "delete"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    ]);
    const binding = inputs(find(run, K8S_TYPES.roleBinding, "scheduler-spawner-binding"));
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: K8S.spawnerRole,
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: K8S.spawnerServiceAccount, namespace: "local" },
    ]);
  });

  it("runs the job-spawner with probes, resources, a hardened context and RUNNER_IMAGE = the runner's tag", () => {
    const images = run.outputs.images as { scheduler: string; runner: string };
    const deployment = inputs(find(run, K8S_TYPES.deployment, "scheduler-spawner"));
    expect(deployment.metadata).toMatchObject({ name: K8S.spawnerDeployment, namespace: "local" });
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe(K8S.spawnerServiceAccount);
    const [container] = pod.containers;
    expect(container.image).toBe(images.scheduler);
    expect(container.args).toEqual(["spawner"]);
    expect(container.imagePullPolicy).toBe("Never");
    expect(container.ports).toEqual([{ name: "http", containerPort: SPAWNER_HEALTH.port }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: SPAWNER_HEALTH.livenessPath, port: "http" });
    // Ready soon after it listens: probed every second until it first answers, for up to a minute.
    expect(container.startupProbe).toMatchObject({
      httpGet: { path: SPAWNER_HEALTH.livenessPath, port: "http" },
      periodSeconds: 1,
      failureThreshold: 60,
    });
    expect(container.readinessProbe.httpGet).toEqual({ path: SPAWNER_HEALTH.readinessPath, port: "http" });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits).toBeDefined();
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.env).toContainEqual({ name: ENV.runnerImage, value: images.runner });
    expect(container.envFrom).toEqual([{ configMapRef: { name: K8S.configMap } }]);
    expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
  });

  it("rolls the spawner and the dispatcher's template on any change to the ConfigMap or the Secret", async () => {
    const deployment = find(run, K8S_TYPES.deployment, "scheduler-spawner");
    const cron = find(run, K8S_TYPES.cronJob, "scheduler-dispatcher");
    const spawnerHash = inputs(deployment).spec.template.metadata.annotations["keeperhub.io/config-hash"];
    const cronHash =
      inputs(cron).spec.jobTemplate.spec.template.metadata.annotations["keeperhub.io/config-hash"];
    expect(spawnerHash).toMatch(/^[0-9a-f]{16}$/);
    expect(cronHash).toBe(spawnerHash);
    const { podInputsHash } = await import("../../infra/cluster/scheduler.js");
    const config = inputs(find(run, K8S_TYPES.configMap, "scheduler-config")).data;
    const secret = inputs(find(run, K8S_TYPES.secret, "scheduler-secrets")).stringData;
    const hash = (c: unknown, s: unknown) =>
      new Promise((done) =>
        podInputsHash(c as Record<string, string>, s as Record<string, string>).apply(done),
      );
    expect(await hash(config, secret)).toBe(spawnerHash);
    expect(await pulumi.isSecret(podInputsHash(config, pulumi.secret(secret)))).toBe(false);
    // A Secret-only change (a new Postgres port changes the cluster database URL) changes it too.
    const changedSecret = {
      ...secret,
      [ENV.databaseUrl]: secret[ENV.databaseUrl].replace(":5433/", ":5434/"),
    };
    expect(await hash(config, changedSecret)).not.toBe(spawnerHash);
    expect(await hash({ ...config, [ENV.logLevel]: "debug" }, secret)).not.toBe(spawnerHash);
  });

  it("keeps every workload spec readable in a preview: only the Secret's data is secret", () => {
    const workloads = run.registrations.filter((r) =>
      [K8S_TYPES.deployment, K8S_TYPES.cronJob, "kubernetes:batch/v1:Job"].includes(r.type),
    );
    expect(workloads.map((r) => r.name).sort()).toEqual(["scheduler-dispatcher", "scheduler-spawner"]);
    for (const workload of workloads) expect(secretPaths(workload.raw), workload.name).toEqual([]);
    const objects = run.registrations.filter((r) => r.type.startsWith("kubernetes:"));
    const secretOnes = objects.flatMap((r) => secretPaths(r.raw).map((path) => `${r.name}: ${path}`));
    expect(secretOnes).toEqual(["scheduler-secrets: stringData"]);
  });

  it("fails a stuck rollout within minutes: a progress deadline, Pulumi's wait capped, reachability checked first", () => {
    const deployment = find(run, K8S_TYPES.deployment, "scheduler-spawner");
    expect(inputs(deployment).spec.progressDeadlineSeconds).toBe(90);
    expect(deployment.timeouts).toEqual({ create: "3m", update: "3m" });
    const images = run.outputs.images as { scheduler: string };
    const check = find(run, COMMAND, "scheduler-reach-check");
    expect(inputs(check).create).toContain(
      `run keeperhub-reach-check --rm -i --quiet --restart=Never --image=${images.scheduler} --image-pull-policy=Never`,
    );
    expect(inputs(check).create).toContain(
      `-- doctor --reach postgres=${HOST_ALIAS}:5433 --reach localstack=${HOST_ALIAS}:4566`,
    );
    // Hardened for the namespace's PodSecurity "restricted" (merged into kubectl's container by name; the
    // real API server judges the result in test/real/kube/objects.test.ts).
    expect(inputs(check).create).toContain(
      `--overrides=${shellQuote(JSON.stringify(reachCheckPodOverrides()))} --override-type=strategic`,
    );
    expect(inputs(check).create).toMatch(
      /k --context kh-ci-context -n local delete pod keeperhub-reach-check/,
    );
    expect(inputs(check).triggers).toEqual([
      images.scheduler,
      `postgres=${HOST_ALIAS}:5433`,
      `localstack=${HOST_ALIAS}:4566`,
    ]);
    for (const consumer of [deployment, find(run, K8S_TYPES.cronJob, "scheduler-dispatcher")]) {
      expect(waitsFor(run, consumer, check), consumer.name).toBe(true);
    }
    expect(waitsFor(run, check, find(run, COMMAND, "cluster-load-scheduler"))).toBe(true);
  });

  it("schedules the dispatcher every minute, never two at once, with a starting deadline and history limits", () => {
    const images = run.outputs.images as { scheduler: string };
    const cron = inputs(find(run, K8S_TYPES.cronJob, "scheduler-dispatcher"));
    expect(cron.metadata).toMatchObject({ name: K8S.dispatcherCronJob, namespace: "local" });
    expect(cron.spec).toMatchObject({
      schedule: DISPATCHER_SCHEDULE,
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: 30,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].image).toBe(images.scheduler);
    expect(pod.containers[0].args).toEqual(["dispatch"]);
  });

  it("deletes the spawner's runner Jobs on destroy, after the spawner is gone", () => {
    const cleanup = find(run, COMMAND, "cluster-runner-jobs");
    expect(inputs(cleanup).create).toBeUndefined();
    expect(inputs(cleanup).delete).toMatch(
      /k --context kh-ci-context -n local delete jobs -l app=workflow-runner --ignore-not-found/,
    );
    // Destroy runs in reverse dependency order: the Deployment (which depends on it) goes first.
    expect(waitsFor(run, find(run, K8S_TYPES.deployment, "scheduler-spawner"), cleanup)).toBe(true);
    expect(waitsFor(run, cleanup, find(run, K8S_TYPES.namespace, "cluster-namespace"))).toBe(true);
  });
});

describe("stack hybrid: order", () => {
  it("reads the machine (the preflight first) before it declares anything: no provider, no Kubernetes", () => {
    expect(invokedCommands(run)[0]).toBe("doctor");
    const firstRegistration = run.events.findIndex((e) => e.kind === "register");
    expect(firstRegistration).toBe(run.invokes.length);
    expect(run.registrations.some((r) => r.type === "pulumi:providers:kubernetes")).toBe(true);
  });

  it("waits for health: the queue after LocalStack, the migrations after Postgres", () => {
    expect(
      waitsFor(run, find(run, COMMAND, "queue-ensure"), find(run, CONTAINER, "containers-localstack")),
    ).toBe(true);
    expect(
      waitsFor(run, find(run, COMMAND, "migrations-migrate"), find(run, CONTAINER, "containers-postgres")),
    ).toBe(true);
  });

  it("starts the Deployment and the CronJob after both image loads, the queue and the migrations", () => {
    const before = [
      find(run, COMMAND, "cluster-load-scheduler"),
      find(run, COMMAND, "cluster-load-runner"),
      find(run, COMMAND, "queue-ensure"),
      find(run, COMMAND, "migrations-migrate"),
      find(run, COMMAND, "containers-postgres-password"),
    ];
    for (const consumer of [
      find(run, K8S_TYPES.deployment, "scheduler-spawner"),
      find(run, K8S_TYPES.cronJob, "scheduler-dispatcher"),
    ]) {
      for (const dependency of before)
        expect(waitsFor(run, consumer, dependency), dependency.name).toBe(true);
    }
  });

  it("loads each image after it is built and minikube runs", () => {
    for (const kind of ["scheduler", "runner"]) {
      const load = find(run, COMMAND, `cluster-load-${kind}`);
      expect(waitsFor(run, load, find(run, IMAGE, `images-${kind}`))).toBe(true);
      expect(waitsFor(run, load, find(run, COMMAND, "cluster-minikube"))).toBe(true);
    }
    expect(
      waitsFor(
        run,
        find(run, "pulumi:providers:kubernetes", "cluster-provider"),
        find(run, COMMAND, "cluster-minikube"),
      ),
    ).toBe(true);
  });
});

describe("stack hybrid: secrets", () => {
  it("never sends a secret as a plain value, in pod env or anywhere else", () => {
    const secrets = [ENCRYPTION_KEY, GENERATED_DB_PASSWORD, LOCALSTACK_TOKEN];
    const leaks = run.registrations.flatMap((r) =>
      plainOccurrences(r.raw, secrets).map((path) => `${r.name}: ${path}`),
    );
    expect(leaks).toEqual([]);
    // And the secrets did reach the resources that need them (wrapped), so the check above means something.
    expect(JSON.stringify(inputs(find(run, K8S_TYPES.secret, "scheduler-secrets")))).toContain(
      ENCRYPTION_KEY,
    );
  });

  it("gives a set LocalStack auth token to the LocalStack container only, and tells the preflight one is set", () => {
    const holders = run.registrations
      .filter((r) => JSON.stringify(r.raw).includes(LOCALSTACK_TOKEN))
      .map((r) => r.name);
    expect(holders).toEqual(["containers-localstack"]);
    expect(JSON.stringify(inputs(find(run, CONTAINER, "containers-localstack")))).toContain(
      `LOCALSTACK_AUTH_TOKEN=${LOCALSTACK_TOKEN}`,
    );
    const doctor = run.invokes.map((i) => String(i.inputs.command)).find((c) => / doctor /.test(c));
    expect(doctor).toContain("--localstack-token");
  });

  it("passes every secret env var to pods by secretKeyRef", () => {
    const pods = [
      inputs(find(run, K8S_TYPES.deployment, "scheduler-spawner")).spec.template.spec,
      inputs(find(run, K8S_TYPES.cronJob, "scheduler-dispatcher")).spec.jobTemplate.spec.template.spec,
    ];
    for (const pod of pods) {
      for (const container of pod.containers) {
        for (const name of SECRET_ENV) {
          expect(container.env).toContainEqual({
            name,
            valueFrom: { secretKeyRef: { name: K8S.secret, key: name } },
          });
        }
        const literal = container.env.filter((e: { value?: string }) => e.value !== undefined);
        expect(literal.map((e: { name: string }) => e.name)).not.toEqual(
          expect.arrayContaining([...SECRET_ENV]),
        );
      }
    }
  });

  it("exports the database URL as a secret", async () => {
    expect(await pulumi.isSecret(run.exports.databaseUrl as pulumi.Output<string>)).toBe(true);
  });
});

describe("stack hybrid: the runner Job template's references", () => {
  it("exist in the namespace: ServiceAccount, Secret with every key, ConfigMap", () => {
    const images = run.outputs.images as { runner: string };
    const job = buildJobTemplate({
      executionId: "a".repeat(21),
      workflowId: "wf1",
      config: {
        namespace: "local",
        runnerImage: images.runner,
        jobTtlSeconds: 600,
        jobActiveDeadlineSeconds: 300,
      },
    });
    const pod = job.spec?.template.spec;
    const byName = (type: string) =>
      run.registrations
        .filter((r) => r.type === type)
        .map((r) => ({ name: inputs(r).metadata.name, namespace: inputs(r).metadata.namespace })) as {
        name: string;
        namespace: string;
      }[];
    expect(byName(K8S_TYPES.serviceAccount)).toContainEqual({
      name: pod?.serviceAccountName,
      namespace: "local",
    });
    expect(pod?.serviceAccountName).toBe(RUNNER_JOB_REFERENCES.serviceAccount);

    const secretRefs = (pod?.containers ?? []).flatMap((c) =>
      (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
    );
    const secret = inputs(find(run, K8S_TYPES.secret, "scheduler-secrets"));
    for (const ref of secretRefs) {
      expect(ref.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(ref.key);
    }
    const configMaps = (pod?.containers ?? []).flatMap((c) =>
      (c.envFrom ?? []).flatMap((e) => (e.configMapRef?.name ? [e.configMapRef.name] : [])),
    );
    expect(configMaps.length).toBeGreaterThan(0);
    for (const name of configMaps) expect(byName(K8S_TYPES.configMap).map((m) => m.name)).toContain(name);
  });
});

describe("stack hybrid: outputs", () => {
  it("exports URLs, namespace, context, image tags and next commands, and no app URL without an app", () => {
    expect(run.outputs).toMatchObject({
      profile: "minikube",
      queueUrl: `http://${HOST_ALIAS}:4566/queue/us-east-1/000000000000/keeperhub-workflow-queue`,
      dlqUrl: `http://${HOST_ALIAS}:4566/queue/us-east-1/000000000000/keeperhub-workflow-dlq`,
      namespace: "local",
      kubeContext: "kh-ci-context",
      databaseUrl: `postgres://keeperhub:${GENERATED_DB_PASSWORD}@localhost:5433/keeperhub`,
      images: { scheduler: expect.any(String), runner: expect.any(String) },
    });
    expect(run.outputs).not.toHaveProperty("appUrl");
    expect(Object.values(run.outputs).filter((value) => value === undefined)).toEqual([]);
    expect((run.outputs.nextCommands as string[]).join("\n")).toMatch(/khctl status --profile minikube/);
    // The console runs on the host (it reads the cluster through the kubeconfig, for the runner pods).
    expect(run.outputs.nextCommands).toContain("npx khctl console --profile minikube");
    expect(run.outputs.consoleUrl).toBe("http://127.0.0.1:54332");
  });
});
