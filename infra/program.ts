import type * as pulumi from "@pulumi/pulumi";
import { DOCKER, K8S, LABELS, RUNNER_APP_LABEL, SPAWNER_HEALTH } from "../services/contracts/names.js";
import { AppDev } from "./app.js";
import { Cluster, Scheduler } from "./cluster/index.js";
import type { StackConfig, StackSecrets } from "./config.js";
import { Containers, LOCALSTACK_CREDENTIALS } from "./containers.js";
import { Images } from "./images.js";
import { LocalServices } from "./local-services.js";
import { Migrations } from "./migrations.js";
import { Preflight } from "./preflight.js";
import { Queue } from "./queue.js";
import { Secrets } from "./secrets.js";

/** The stack outputs (`pulumi stack output`). */
export interface KeeperhubOutputs {
  readonly profile: string;
  /** http://localhost:<appPort>, or a note that the app is not part of this stack. */
  readonly appUrl: string;
  /** From the host (secret): `pulumi stack output databaseUrl --show-secrets`. */
  readonly databaseUrl: pulumi.Output<string>;
  readonly queueUrl: pulumi.Output<string>;
  readonly dlqUrl: pulumi.Output<string>;
  /** SQS endpoint from the host. */
  readonly awsEndpointUrl: string;
  readonly namespace: string | undefined;
  readonly kubeContext: string | undefined;
  readonly images: { readonly scheduler: string; readonly runner: string };
  readonly nextCommands: string[];
}

/** Commands worth trying after `pulumi up`, for the stack's profile. Pure, for tests and the README. */
export function nextCommands(config: StackConfig, stack: string): string[] {
  const env = `export DATABASE_URL=$(pulumi stack output databaseUrl --show-secrets -s ${stack}) SQS_QUEUE_URL=$(pulumi stack output queueUrl -s ${stack}) AWS_ENDPOINT_URL=http://localhost:${config.ports.localstack}`;
  const common = [
    env,
    `npx khctl status --profile ${config.profile}`,
    "npx khctl workflow create --file examples/http-check.json",
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

/**
 * Declares the stack: preflight first, then the Docker side, the queue and the schema, the images, and
 * the profile's workers (containers for `dev`, minikube objects for `minikube`). Every component
 * depends on the preflight, so nothing changes when a check fails.
 */
export function createKeeperhub(
  config: StackConfig,
  secretsConfig: StackSecrets,
  stack: string,
): KeeperhubOutputs {
  const preflight = new Preflight("preflight", {
    profile: config.profile,
    stack,
    ports: config.ports,
    appEnabled: config.appCheckoutPath !== undefined,
  });
  const after = (...resources: pulumi.Resource[]): pulumi.ComponentResourceOptions => ({
    dependsOn: [preflight, ...resources],
  });

  const secrets = new Secrets(
    "secrets",
    { dbPassword: secretsConfig.dbPassword, encryptionKey: secretsConfig.encryptionKey },
    after(),
  );
  const containers = new Containers(
    "containers",
    { stack, images: config.images, ports: config.ports, dbPassword: secrets.dbPassword },
    after(),
  );
  const queue = new Queue(
    "queue",
    { endpoint: containers.endpoints.host, region: config.awsRegion, localstackId: containers.localstack.id },
    after(containers.localstack),
  );
  const migrations = new Migrations(
    "migrations",
    { databaseUrl: containers.hostDatabaseUrl, postgresId: containers.postgres.id },
    after(containers.postgres),
  );
  const images = new Images("images", { nodeImage: config.nodeImage }, after());
  const consumersReady = [queue, migrations];

  const networkSettings = {
    databaseUrl: containers.networkDatabaseUrl,
    awsEndpointUrl: containers.endpoints.network,
    awsRegion: config.awsRegion,
    queueUrl: queue.queueUrl,
    logLevel: config.logLevel,
    encryptionKey: secrets.encryptionKey,
  };
  if (config.appCheckoutPath) {
    new AppDev(
      "app",
      {
        stack,
        image: config.images.app,
        checkoutPath: config.appCheckoutPath,
        command: config.appCommand,
        hostPort: config.ports.app,
        network: containers.network.name,
        settings: networkSettings,
      },
      after(...consumersReady),
    );
  }

  let namespace: string | undefined;
  let kubeContext: string | undefined;
  if (config.profile === "dev") {
    new LocalServices(
      "workers",
      {
        stack,
        image: images.scheduler.imageName,
        network: containers.network.name,
        settings: networkSettings,
      },
      after(images, ...consumersReady),
    );
  } else {
    const cluster = new Cluster(
      "cluster",
      {
        minikube: config.minikube,
        kubeContext: config.kubeContext,
        namespace: config.namespace,
        images: {
          scheduler: { resource: images.scheduler, ref: images.refs.scheduler },
          runner: { resource: images.runner, ref: images.refs.runner },
        },
      },
      after(),
    );
    new Scheduler(
      "scheduler",
      {
        provider: cluster.provider,
        namespace: cluster.namespace,
        images: images.refs,
        imageLoads: Object.values(cluster.imageLoads),
        settings: {
          awsEndpointUrl: containers.endpoints.cluster,
          awsRegion: config.awsRegion,
          queueUrl: queue.queueUrl,
          namespace: config.namespace,
          jobTtlSeconds: config.jobs.ttlSeconds,
          jobActiveDeadlineSeconds: config.jobs.activeDeadlineSeconds,
          maxConcurrentJobs: config.jobs.maxConcurrent,
          logLevel: config.logLevel,
        },
        databaseUrl: containers.clusterDatabaseUrl,
        encryptionKey: secrets.encryptionKey,
        awsCredentials: LOCALSTACK_CREDENTIALS,
        spawnerProbes: SPAWNER_HEALTH,
        dispatcherStartingDeadlineSeconds: config.dispatcherStartingDeadlineSeconds,
      },
      after(...consumersReady, cluster.runnerJobsCleanup),
    );
    namespace = config.namespace;
    kubeContext = config.kubeContext;
  }

  return {
    profile: config.profile,
    appUrl: config.appCheckoutPath
      ? `http://localhost:${config.ports.app}`
      : "not deployed: set keeperhub:appCheckoutPath to run the app",
    databaseUrl: containers.hostDatabaseUrl,
    queueUrl: queue.queueUrl,
    dlqUrl: queue.deadLetterQueueUrl,
    awsEndpointUrl: containers.endpoints.host,
    namespace,
    kubeContext,
    images: images.refs,
    nextCommands: nextCommands(config, stack),
  };
}
