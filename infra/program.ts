import type * as pulumi from "@pulumi/pulumi";
import { DOCKER, K8S, LABELS, RUNNER_APP_LABEL, SPAWNER_HEALTH } from "../services/contracts/names.js";
import { AppDev } from "./app.js";
import {
  Cluster,
  type ClusterObservation,
  MINIKUBE_PODS,
  observeCluster,
  Scheduler,
} from "./cluster/index.js";
import { createClusterStack } from "./cluster-stack.js";
import { CONSOLE_URL, type KeeperhubOutputs, STACK_EXAMPLE, schedulerSettings } from "./stack-shared.js";

export { CONSOLE_URL, type KeeperhubOutputs, STACK_EXAMPLE, schedulerSettings };

import type { StackConfig, StackSecrets } from "./config.js";
import { Containers, LOCALSTACK_CREDENTIALS, localstackUrlHost } from "./containers.js";
import type { Seen } from "./drift.js";
import { type BuiltImage, Images } from "./images.js";
import { LocalServices, type WorkerSettings } from "./local-services.js";
import { Migrations } from "./migrations.js";
import { observeQueues, Queue } from "./queue.js";
import { Secrets } from "./secrets.js";

/**
 * Commands worth trying after `pulumi up`, for the stack's profile. Pure, for tests and the README; every
 * khctl line is run against the embedded default by test/infra/next-commands.test.ts.
 */
export function nextCommands(config: StackConfig, stack: string): string[] {
  const env = `export DATABASE_URL=$(pulumi stack output databaseUrl --show-secrets -s ${stack}) SQS_QUEUE_URL=$(pulumi stack output queueUrl -s ${stack}) AWS_ENDPOINT_URL=http://localhost:${config.ports.localstack}`;
  const common = [
    env,
    `npx khctl status --profile ${config.profile}`,
    `npx khctl console --profile ${config.profile}`,
    `npx khctl workflow create --file ${STACK_EXAMPLE}`,
    "npx khctl trigger <workflowId> --wait",
  ];
  if (config.profile === "dev") {
    return [...common, `docker logs -f ${DOCKER.executor}`, `pulumi destroy -s ${stack}`];
  }
  const kubectl = `kubectl --context ${config.kubeContext} -n ${config.namespace}`;
  return [
    ...common,
    `${kubectl} get deploy,cronjob,jobs`,
    `${kubectl} logs -f deploy/${K8S.spawnerDeployment}`,
    `${kubectl} get jobs -l ${LABELS.app}=${RUNNER_APP_LABEL}`,
    `pulumi destroy -s ${stack}`,
  ];
}

/** What this preview or update found on the machine, read before anything is declared. */
export interface Observations {
  /** When it looked (restore tokens carry it). */
  readonly at: Date;
  /** LocalStack's queues. */
  readonly queues: Seen;
  /** minikube, its images and the stack's objects (minikube profile only). */
  readonly cluster?: ClusterObservation;
}

/** The SQS endpoint from the host. */
const hostSqsEndpoint = (config: StackConfig) => `http://localhost:${config.ports.localstack}`;

/**
 * Reads what can drift on every preview and update, before anything is declared (after the preflight,
 * which infra/index.ts runs first): LocalStack's queues and, for the minikube profile, minikube, its images
 * and the objects.
 */
export async function observe(config: StackConfig): Promise<Observations> {
  const at = new Date();
  // The cluster profile's queues and objects are the team's: the preflight checks them, nothing restores.
  if (config.profile === "cluster") return { at, queues: "unknown" };
  const [queues, cluster] = await Promise.all([
    observeQueues({ endpoint: hostSqsEndpoint(config), region: config.awsRegion }),
    config.profile === "minikube"
      ? observeCluster({
          profile: config.minikube.profile,
          context: config.kubeContext,
          namespace: config.namespace,
        })
      : undefined,
  ]);
  return { at, queues, ...(cluster ? { cluster } : {}) };
}

/** The profiles with Docker containers (the cluster profile has none). */
type DockerProfile = "dev" | "minikube";

/** What the Docker profiles declare: the Docker side, the queue, the schema and the images. */
export interface DockerSide {
  readonly secrets: Secrets;
  readonly containers: Containers;
  readonly queue: Queue;
  readonly migrations: Migrations;
  readonly images: Images;
  /** What a container on the stack's network needs (the workers, the app). */
  readonly networkSettings: WorkerSettings<pulumi.Input<string>>;
}

const after = (...resources: pulumi.Resource[]): pulumi.ComponentResourceOptions => ({
  dependsOn: resources,
});

/** The secrets, the containers, the queue (after LocalStack) and the schema (after the password is set). */
function declareDockerSide(
  config: StackConfig & { readonly profile: DockerProfile },
  secretsConfig: StackSecrets,
  stack: string,
  observed: Observations,
): DockerSide {
  const secrets = new Secrets("secrets", {
    dbPassword: secretsConfig.dbPassword,
    encryptionKey: secretsConfig.encryptionKey,
  });
  const queueUrlHost = localstackUrlHost(config.profile, config.ports.localstack);
  const containers = new Containers("containers", {
    stack,
    queueUrlHost,
    images: config.images,
    ports: config.ports,
    dbPassword: secrets.dbPassword,
    localstackAuthToken: secretsConfig.localstackAuthToken,
  });
  const queue = new Queue(
    "queue",
    {
      endpoint: containers.endpoints.host,
      region: config.awsRegion,
      urlHost: queueUrlHost,
      localstackId: containers.localstack.id,
      seen: observed.queues,
      seenAt: observed.at,
    },
    after(containers.localstack),
  );
  const migrations = new Migrations(
    "migrations",
    { databaseUrl: containers.hostDatabaseUrl, postgresId: containers.postgres.id },
    after(containers.postgresPassword),
  );
  const images = new Images("images", { nodeImage: config.nodeImage, runner: config.profile === "minikube" });
  const networkSettings = {
    databaseUrl: containers.networkDatabaseUrl,
    awsEndpointUrl: containers.endpoints.network,
    awsRegion: config.awsRegion,
    queueUrl: queue.queueUrl,
    logLevel: config.logLevel,
    encryptionKey: secrets.encryptionKey,
  };
  return { secrets, containers, queue, migrations, images, networkSettings };
}

/** The app-dev container, with `keeperhub:appCheckoutPath` only; after the queue and the schema. */
function declareApp(config: StackConfig, stack: string, side: DockerSide): void {
  if (!config.appCheckoutPath) return;
  new AppDev(
    "app",
    {
      stack,
      image: config.images.app,
      checkoutPath: config.appCheckoutPath,
      command: config.appCommand,
      hostPort: config.ports.app,
      network: side.containers.network.name,
      settings: side.networkSettings,
    },
    after(side.queue, side.migrations),
  );
}

/** The outputs both profiles export. */
function commonOutputs(config: StackConfig, stack: string, side: DockerSide): KeeperhubOutputs {
  return {
    profile: config.profile,
    databaseUrl: side.containers.hostDatabaseUrl,
    queueUrl: side.queue.queueUrl,
    dlqUrl: side.queue.deadLetterQueueUrl,
    awsEndpointUrl: side.containers.endpoints.host,
    images: side.images.refs,
    nextCommands: nextCommands(config, stack),
    consoleUrl: CONSOLE_URL,
    ...(config.appCheckoutPath ? { appUrl: `http://localhost:${config.ports.app}` } : {}),
  };
}

/** The dev profile's workers: containers of the scheduler image, after the image, the queue and the schema. */
function declareLocalWorkers(stack: string, side: DockerSide): void {
  new LocalServices(
    "workers",
    {
      stack,
      image: side.images.scheduler.ref,
      network: side.containers.network.name,
      settings: side.networkSettings,
    },
    after(side.images, side.queue, side.migrations),
  );
}

/** The minikube profile: minikube, the images loaded into it, and the scheduler's objects. */
function declareCluster(config: StackConfig, side: DockerSide, observed: ClusterObservation, at: Date): void {
  const { images, containers } = side;
  if (!images.runner) throw new Error("the minikube profile builds the runner image (Images runner: true)");
  const loaded = (image: BuiltImage) => ({ resource: image.build, ref: image.ref, tag: image.tag });
  const cluster = new Cluster("cluster", {
    minikube: config.minikube,
    kubeContext: config.kubeContext,
    namespace: config.namespace,
    images: { scheduler: loaded(images.scheduler), runner: loaded(images.runner) },
    observed,
    observedAt: at,
  });
  new Scheduler(
    "scheduler",
    {
      provider: cluster.provider,
      namespace: cluster.namespace,
      images: { scheduler: images.scheduler.ref, runner: images.runner.ref },
      imageLoads: Object.values(cluster.imageLoads),
      settings: schedulerSettings(config, containers.endpoints.cluster, side.queue.queueUrl),
      databaseUrl: containers.clusterDatabaseUrl,
      encryptionKey: side.secrets.encryptionKey,
      awsCredentials: LOCALSTACK_CREDENTIALS,
      spawnerProbes: SPAWNER_HEALTH,
      dispatcherStartingDeadlineSeconds: config.dispatcherStartingDeadlineSeconds,
      reachCheck: {
        targets: Object.entries(containers.clusterAddresses).map(([what, address]) => `${what}=${address}`),
        minikubeProfile: config.minikube.profile,
        kubeContext: config.kubeContext,
        startRestore: cluster.startRestore,
      },
      pods: MINIKUBE_PODS,
      observed: { cluster: observed, at },
    },
    after(side.queue, side.migrations, cluster.runnerJobsCleanup),
  );
}

/**
 * Declares the stack: the Docker side, the queue and the schema, the images, and the profile's workers
 * (containers for `dev`, minikube objects for `minikube`); the cluster profile's own (cluster-stack.ts).
 * Call after `observe`, which ran the preflight.
 */
export function createKeeperhub(
  config: StackConfig,
  secretsConfig: StackSecrets,
  stack: string,
  observed: Observations,
): KeeperhubOutputs {
  if (config.profile === "cluster") return createClusterStack(config, secretsConfig, stack);
  const side = declareDockerSide({ ...config, profile: config.profile }, secretsConfig, stack, observed);
  declareApp(config, stack, side);
  const outputs = commonOutputs(config, stack, side);
  if (config.profile === "dev") {
    declareLocalWorkers(stack, side);
    return outputs;
  }
  if (!observed.cluster) throw new Error("the minikube profile needs an observation of minikube (observe())");
  declareCluster(config, side, observed.cluster, observed.at);
  return { ...outputs, namespace: config.namespace, kubeContext: config.kubeContext };
}
