import * as pulumi from "@pulumi/pulumi";
import { K8S, LABELS, RUNNER_APP_LABEL, SPAWNER_HEALTH } from "../services/contracts/names.js";
import {
  dataDigest,
  ExistingCluster,
  kubectlCommand,
  Scheduler,
  type SchedulerArgs,
} from "./cluster/index.js";
import type { ClusterSettings, StackConfig, StackSecrets } from "./config.js";
import { Images, type RegistryPush } from "./images.js";
import { shellQuote } from "./khctl.js";
import { Migrations } from "./migrations.js";
import { ExternalQueues } from "./queue.js";
import { EncryptionKey } from "./secrets.js";
import { CONSOLE_URL, type KeeperhubOutputs, STACK_EXAMPLE, schedulerSettings } from "./stack-shared.js";

/**
 * The cluster profile (stack `cluster`): the same pipeline on a Kubernetes cluster the team runs, with a
 * registry, a Postgres and an SQS of its own. No Docker containers and no minikube: the images are built
 * here and pushed, the pods name them by digest, the schema is migrated against `databaseUrl` from here,
 * and the queue pair is created only when asked (`createQueues`).
 */

/** The SQS endpoint from the host and from pods: the emulator's, else AWS's own for the region. Pure. */
export function sqsEndpointOf(cluster: ClusterSettings, region: string): string {
  return cluster.sqsEndpoint ?? `https://sqs.${region}.amazonaws.com`;
}

/** Commands worth trying after `pulumi up -s <stack>` of the cluster profile. Pure. */
export function clusterNextCommands(config: StackConfig, cluster: ClusterSettings, stack: string): string[] {
  const endpoint = cluster.sqsEndpoint ? ` AWS_ENDPOINT_URL=${cluster.sqsEndpoint}` : "";
  // khctl status, console and logs find the context in KUBECONFIG, as kubectl does.
  const kubeconfig = cluster.kubeconfig ? ` KUBECONFIG=${shellQuote(cluster.kubeconfig)}` : "";
  const env = `export DATABASE_URL=$(pulumi stack output databaseUrl --show-secrets -s ${stack}) SQS_QUEUE_URL=${cluster.queueUrl} AWS_REGION=${config.awsRegion}${endpoint}${kubeconfig} KUBE_CONTEXT=${shellQuote(config.kubeContext)} K8S_NAMESPACE=${config.namespace}`;
  const kubectl = kubectlCommand({
    context: config.kubeContext,
    kubeconfig: cluster.kubeconfig,
    namespace: config.namespace,
  });
  return [
    env,
    "npx khctl status --profile cluster",
    "npx khctl console --profile cluster",
    `npx khctl workflow create --file ${STACK_EXAMPLE}`,
    "npx khctl trigger <workflowId> --wait",
    `${kubectl} get deploy,pdb,cronjob,jobs,resourcequota`,
    `${kubectl} logs -f deploy/${K8S.spawnerDeployment}`,
    `${kubectl} get jobs -l ${LABELS.app}=${RUNNER_APP_LABEL}`,
    `pulumi destroy -s ${stack}`,
  ];
}

/** The push target of the images. Pure. */
export function registryPush(
  cluster: ClusterSettings,
  password: pulumi.Output<string> | undefined,
): RegistryPush {
  return {
    repository: cluster.registry,
    server: cluster.registryServer,
    ...(cluster.registryUsername ? { username: cluster.registryUsername, password } : {}),
  };
}

/** Static credentials from config (both keys, checked by the config), or none: the pods' own identity. */
function staticCredentials(cluster: ClusterSettings, secrets: StackSecrets): SchedulerArgs["awsCredentials"] {
  if (cluster.awsCredentials === "ambient") return undefined;
  if (!secrets.awsAccessKeyId || !secrets.awsSecretAccessKey) {
    throw new Error("static AWS credentials need keeperhub:awsAccessKeyId and keeperhub:awsSecretAccessKey");
  }
  return { accessKeyId: secrets.awsAccessKeyId, secretAccessKey: secrets.awsSecretAccessKey };
}

/**
 * A short, unsecreted digest of the database URL: the migrations run again against a new database, and
 * the digest says nothing about the URL (as podInputsHash).
 */
function databaseDigest(databaseUrl: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.unsecret(databaseUrl.apply((url) => dataDigest({ database: { url } })));
}

/** What the pods wait for: the schema, the queues (when created here) and the cluster's own objects. */
interface ClusterSide {
  readonly databaseUrl: pulumi.Output<string>;
  readonly awsCredentials: SchedulerArgs["awsCredentials"];
  readonly encryptionKey: pulumi.Output<string>;
  readonly images: Images;
  readonly target: ExistingCluster;
  readonly before: pulumi.Resource[];
}

/** The key, the queues, the schema, the images and the cluster's namespace, quota and limits. */
function declareClusterSide(
  config: StackConfig,
  cluster: ClusterSettings,
  secrets: StackSecrets,
): ClusterSide {
  if (!secrets.databaseUrl) throw new Error("the cluster profile needs keeperhub:databaseUrl");
  const databaseUrl = pulumi.secret(secrets.databaseUrl);
  const awsCredentials = staticCredentials(cluster, secrets);
  const key = new EncryptionKey("secrets", { encryptionKey: secrets.encryptionKey });
  const queues = cluster.createQueues
    ? new ExternalQueues("queue", {
        endpoint: cluster.sqsEndpoint,
        region: config.awsRegion,
        credentials: awsCredentials,
      })
    : undefined;
  const migrations = new Migrations("migrations", { databaseUrl, postgresId: databaseDigest(databaseUrl) });
  const images = new Images("images", {
    nodeImage: config.nodeImage,
    runner: true,
    registry: registryPush(cluster, secrets.registryPassword),
  });
  const target = new ExistingCluster("cluster", {
    kubeContext: config.kubeContext,
    kubeconfig: cluster.kubeconfig,
    namespace: config.namespace,
    quota: cluster.quota,
  });
  // The quota and the limits too: pods created before them would escape both.
  const before = [
    ...(queues ? [queues] : []),
    migrations,
    target.runnerJobsCleanup,
    target.quota,
    target.limits,
  ];
  return { databaseUrl, awsCredentials, encryptionKey: key.encryptionKey, images, target, before };
}

/** Declares the cluster profile's stack and returns its outputs. Call after the preflight. */
export function createClusterStack(
  config: StackConfig,
  secrets: StackSecrets,
  stack: string,
): KeeperhubOutputs {
  const cluster = config.cluster;
  if (!cluster) throw new Error("the cluster profile needs its settings (parseStackConfig)");
  const side = declareClusterSide(config, cluster, secrets);
  const { images, target } = side;
  if (!images.runner) throw new Error("the cluster profile builds the runner image (Images runner: true)");
  new Scheduler(
    "scheduler",
    {
      provider: target.provider,
      namespace: target.namespace,
      images: { scheduler: images.scheduler.ref, runner: images.runner.ref },
      imageLoads: [],
      settings: schedulerSettings(config, cluster.sqsEndpoint, cluster.queueUrl),
      databaseUrl: side.databaseUrl,
      encryptionKey: side.encryptionKey,
      awsCredentials: side.awsCredentials,
      spawnerProbes: SPAWNER_HEALTH,
      dispatcherStartingDeadlineSeconds: config.dispatcherStartingDeadlineSeconds,
      pods: {
        imagePullPolicy: "IfNotPresent",
        spawnerReplicas: cluster.spawnerReplicas,
        serviceAccountAnnotations: cluster.serviceAccountAnnotations,
      },
    },
    { dependsOn: side.before },
  );
  return {
    profile: config.profile,
    databaseUrl: side.databaseUrl,
    queueUrl: cluster.queueUrl,
    dlqUrl: cluster.dlqUrl,
    awsEndpointUrl: sqsEndpointOf(cluster, config.awsRegion),
    images: images.refs,
    nextCommands: clusterNextCommands(config, cluster, stack),
    consoleUrl: CONSOLE_URL,
    namespace: config.namespace,
    kubeContext: config.kubeContext,
  };
}
