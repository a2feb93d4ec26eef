import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { K8S } from "../../services/contracts/names.js";
import { childOf } from "../component.js";
import { objectRestore } from "../drift.js";
import { shellQuote } from "../khctl.js";
import { spawnerDisruptionBudgetArgs } from "./cluster-specs.js";
import {
  type ClusterObject,
  type ClusterObservation,
  clusterObjectRefs,
  kubectlFunction,
  seenObject,
} from "./observe.js";
import {
  dispatcherCronJobArgs,
  MINIKUBE_POD_SOURCE,
  type PodSource,
  podSourceFor,
  REACH_CHECK_POD,
  reachCheckArgs,
  reachCheckPodOverrides,
  runnerServiceAccountArgs,
  type SchedulerSettings,
  type SpawnerProbes,
  schedulerConfigData,
  schedulerConfigMapArgs,
  schedulerSecretArgs,
  schedulerSecretData,
  spawnerDeploymentArgs,
  spawnerRoleArgs,
  spawnerRoleBindingArgs,
  spawnerServiceAccountArgs,
} from "./specs.js";

/**
 * A hash of everything the pods read from the ConfigMap and the Secret (a change to either must roll the
 * pods). Computed from secrets, so Pulumi would mark it secret, and with it the whole `spec` of the
 * Deployment and the CronJob: a preview would print `[secret]` for any change to them. A 16-hex-digit
 * prefix of a SHA-256 says nothing about the data, so it is unsecreted: only the Secret's data stays secret.
 */
export function podInputsHash(
  configData: pulumi.Input<Record<string, pulumi.Input<string>>>,
  secretData: pulumi.Input<Record<string, pulumi.Input<string>>>,
): pulumi.Output<string> {
  return pulumi.unsecret(
    pulumi
      .all([pulumi.output(configData), pulumi.output(secretData)])
      .apply(([config, secret]) => dataDigest({ config, secret })),
  );
}

/** A short digest of named key/value maps; sorted keys, so build order never changes it. Pure. */
export function dataDigest(maps: Record<string, Record<string, string>>): string {
  const sorted = (data: Record<string, string>) =>
    Object.entries(data).sort(([a], [b]) => a.localeCompare(b));
  const canonical = Object.fromEntries(Object.entries(maps).map(([name, data]) => [name, sorted(data)]));
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex").slice(0, 16);
}

/** Seconds Pulumi waits for the spawner Deployment before it gives up (its rollout deadline is shorter). */
export const SPAWNER_WAIT = "3m";

export interface ReachCheckArgs {
  readonly profile: string;
  readonly context: string;
  readonly namespace: string;
  /** keeperhub-scheduler:<tag>, loaded into minikube. */
  readonly image: string;
  /** `name=host:port` as pods see them. */
  readonly targets: readonly string[];
  /** Where the pod must run (unset: wherever the scheduler puts it). */
  readonly nodeSelector?: Record<string, string>;
}

/**
 * Runs `khctl doctor --reach` in a pod of the namespace (kubectl run, removed after), so an update fails
 * within seconds, naming the address, when pods cannot reach Postgres or LocalStack, instead of waiting
 * for the spawner to become ready. The pod is removed whatever the outcome.
 */
export function reachCheckScript(args: ReachCheckArgs): string {
  const k = `k --context ${shellQuote(args.context)} -n ${shellQuote(args.namespace)}`;
  const overrides = JSON.stringify(reachCheckPodOverrides(args.nodeSelector));
  return [
    kubectlFunction(args.profile),
    `${k} delete pod ${REACH_CHECK_POD} --ignore-not-found --wait=true >/dev/null`,
    `${k} run ${REACH_CHECK_POD} --rm -i --quiet --restart=Never --image=${shellQuote(args.image)} --image-pull-policy=Never --pod-running-timeout=90s --overrides=${shellQuote(overrides)} --override-type=strategic -- ${reachCheckArgs(args.targets).map(shellQuote).join(" ")}`,
    "status=$?",
    `${k} delete pod ${REACH_CHECK_POD} --ignore-not-found --wait=false >/dev/null 2>&1`,
    "exit $status",
  ].join("\n");
}

/** The reachability check from the namespace (hybrid: the pods reach the host's containers). */
export interface ReachCheckSettings {
  /** Where pods reach Postgres and LocalStack (`name=host:port`), checked from the namespace first. */
  readonly targets: readonly string[];
  /** minikube profile and context. */
  readonly minikubeProfile: string;
  readonly kubeContext: string;
  /** The minikube start's restore entry: the check runs again when minikube was started again. */
  readonly startRestore: { readonly environment: Record<string, string>; readonly ignoreChanges: string[] };
}

/** How the pods are run: how images are found, spawner replicas, account annotations. */
export interface SchedulerPods {
  readonly imagePullPolicy: PodSource["imagePullPolicy"];
  /** Spawner replicas; more than one get a PodDisruptionBudget and spread across nodes. */
  readonly spawnerReplicas: number;
  /** Annotations of the spawner's and the runners' ServiceAccounts (IRSA, Pod Identity). */
  readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
}

/** hybrid's pods: images loaded into minikube, one spawner, plain accounts. */
export const MINIKUBE_PODS: SchedulerPods = {
  imagePullPolicy: MINIKUBE_POD_SOURCE.imagePullPolicy,
  spawnerReplicas: 1,
  serviceAccountAnnotations: {},
};

export interface SchedulerArgs {
  readonly provider: k8s.Provider;
  /** The namespace resource; every object is created in it. */
  readonly namespace: k8s.core.v1.Namespace;
  /**
   * keeperhub-scheduler and keeperhub-runner references as the image resources hold them: content tags
   * (hybrid) or `repo@sha256:…` digests (cluster).
   */
  readonly images: { readonly scheduler: pulumi.Output<string>; readonly runner: pulumi.Output<string> };
  /** The `minikube image load` commands (none for a registry): the Deployment and CronJob start after them. */
  readonly imageLoads: pulumi.Resource[];
  readonly settings: SchedulerSettings;
  /** DATABASE_URL as pods see it (secret). */
  readonly databaseUrl: pulumi.Input<string>;
  /** INTEGRATION_ENCRYPTION_KEY (secret). */
  readonly encryptionKey: pulumi.Input<string>;
  /** Static AWS credentials for the Secret (LocalStack's, or from config); undefined: none. */
  readonly awsCredentials: SchedulerSecretsInput["awsCredentials"];
  readonly spawnerProbes: SpawnerProbes;
  readonly dispatcherStartingDeadlineSeconds: number;
  /** The reachability check (hybrid); undefined: none (cluster: the preflight checks from the host). */
  readonly reachCheck?: ReachCheckSettings;
  /** How the pods are run: MINIKUBE_PODS for hybrid. */
  readonly pods: SchedulerPods;
  /**
   * What this run saw in the cluster: objects deleted behind Pulumi's back are created again (hybrid);
   * undefined: not looked at, no restore tokens (cluster).
   */
  readonly observed?: { readonly cluster: ClusterObservation; readonly at: Date };
}

type SchedulerSecretsInput = Parameters<typeof schedulerSecretData>[0];

/** A Scheduler's child options and metadata for each object, with its restore token (objectRestore). */
interface ObjectFactory {
  /** The resource options of `object`: provider, parent, restore options, and `more`. */
  options(object: ClusterObject, more?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions;
  /** Metadata for `object` named `name` in the namespace, with its restore annotation. */
  metadata(object: ClusterObject, name: string): k8s.types.input.meta.v1.ObjectMeta;
  /** The restore annotations alone (for builders that make their own metadata). */
  annotations(object: ClusterObject): Record<string, string>;
  /** The options of an object nothing restores (one hybrid never declares): provider and parent. */
  plain(more?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions;
}

function objectFactory(
  parent: pulumi.ComponentResource,
  args: SchedulerArgs,
  opts: pulumi.ComponentResourceOptions | undefined,
): ObjectFactory {
  const refs = clusterObjectRefs(args.settings.namespace);
  const observed = args.observed;
  // Each object's restore token and options: one deleted from the cluster is created again.
  const restore = (object: ClusterObject) =>
    observed
      ? objectRestore(seenObject(observed.cluster, refs[object]), observed.at)
      : { annotations: {}, options: {} };
  return {
    options: (object, more = {}) =>
      childOf(parent, opts, { provider: args.provider, ...restore(object).options, ...more }),
    metadata: (object, name) => ({
      name,
      namespace: args.namespace.metadata.name,
      annotations: restore(object).annotations,
    }),
    annotations: (object) => restore(object).annotations,
    plain: (more = {}) => childOf(parent, opts, { provider: args.provider, ...more }),
  };
}

/** Metadata with the accounts' annotations (IRSA, Pod Identity) beside the restore token. */
function accountMetadata(
  objects: ObjectFactory,
  object: ClusterObject,
  name: string,
  annotations: Readonly<Record<string, string>>,
): k8s.types.input.meta.v1.ObjectMeta {
  const metadata = objects.metadata(object, name);
  return { ...metadata, annotations: { ...annotations, ...objects.annotations(object) } };
}

/** The spawner's ServiceAccount, Role and RoleBinding, and the runner's ServiceAccount. */
function createAccounts(name: string, objects: ObjectFactory, args: SchedulerArgs) {
  const namespace = args.namespace.metadata.name;
  const annotations = args.pods.serviceAccountAnnotations;
  const spawnerAccount = new k8s.core.v1.ServiceAccount(
    `${name}-spawner-account`,
    spawnerServiceAccountArgs(
      accountMetadata(objects, "spawnerAccount", K8S.spawnerServiceAccount, annotations),
    ),
    objects.options("spawnerAccount"),
  );
  const spawnerRole = new k8s.rbac.v1.Role(
    `${name}-spawner-role`,
    spawnerRoleArgs(objects.metadata("spawnerRole", K8S.spawnerRole)),
    objects.options("spawnerRole"),
  );
  const spawnerBinding = new k8s.rbac.v1.RoleBinding(
    `${name}-spawner-binding`,
    // Names from the resources, so the binding waits for both.
    spawnerRoleBindingArgs(objects.metadata("spawnerBinding", K8S.spawnerRoleBinding), {
      roleName: spawnerRole.metadata.name,
      serviceAccountName: spawnerAccount.metadata.name,
      namespace,
    }),
    objects.options("spawnerBinding"),
  );
  const runnerAccount = new k8s.core.v1.ServiceAccount(
    `${name}-runner-account`,
    runnerServiceAccountArgs(
      accountMetadata(objects, "runnerAccount", K8S.runnerServiceAccount, annotations),
    ),
    objects.options("runnerAccount"),
  );
  return { spawnerBinding, runnerAccount };
}

/** The reachability check (reachCheckScript) as a command: again for a new image, new addresses, a new minikube. */
function createReachCheck(
  parent: pulumi.ComponentResource,
  name: string,
  args: SchedulerArgs,
  opts: pulumi.ComponentResourceOptions | undefined,
  runnerAccount: pulumi.Resource,
): command.local.Command | undefined {
  const reach = args.reachCheck;
  if (!reach) return undefined;
  const script = args.images.scheduler.apply((image) =>
    reachCheckScript({
      profile: reach.minikubeProfile,
      context: reach.kubeContext,
      namespace: args.settings.namespace,
      image,
      targets: reach.targets,
    }),
  );
  return new command.local.Command(
    `${name}-reach-check`,
    {
      create: script,
      environment: reach.startRestore.environment,
      // Runs again for a new image or new addresses (a replace), and when minikube was started again.
      triggers: [args.images.scheduler, ...reach.targets],
    },
    childOf(parent, opts, {
      dependsOn: [...args.imageLoads, args.namespace, runnerAccount],
      ignoreChanges: reach.startRestore.ignoreChanges,
    }),
  );
}

/**
 * The scheduler in minikube: ConfigMap `scheduler-env`, Secret `keeperhub-secrets`, the job-spawner's
 * ServiceAccount/Role/RoleBinding (least privilege), the runner's ServiceAccount (no token), Deployment
 * `job-spawner` and CronJob `schedule-dispatcher`. Pass what the consumers wait for (the queue, the
 * migrations, the runner-Job clean-up) as `dependsOn`: every child inherits it. The Deployment and the
 * CronJob depend on the ConfigMap and the Secret (and the images), so `pulumi up --target <the Secret>
 * --target-dependents` rolls both with it.
 */
export class Scheduler extends pulumi.ComponentResource {
  readonly configMap: k8s.core.v1.ConfigMap;
  readonly secret: k8s.core.v1.Secret;
  readonly reachCheck: command.local.Command | undefined;
  readonly spawner: k8s.apps.v1.Deployment;
  /** With more than one spawner: a drain never takes them all. */
  readonly spawnerBudget: k8s.policy.v1.PodDisruptionBudget | undefined;
  readonly dispatcher: k8s.batch.v1.CronJob;

  constructor(name: string, args: SchedulerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Scheduler", name, {}, opts);
    const objects = objectFactory(this, args, opts);
    const configData = schedulerConfigData(args.settings);
    this.configMap = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      schedulerConfigMapArgs(objects.metadata("configMap", K8S.configMap), args.settings),
      objects.options("configMap"),
    );
    const secretData = schedulerSecretData(args);
    this.secret = new k8s.core.v1.Secret(
      `${name}-secrets`,
      schedulerSecretArgs(
        objects.metadata("secret", K8S.secret),
        pulumi.secret(pulumi.output(secretData)) as pulumi.Output<Record<string, string>>,
      ),
      objects.options("secret"),
    );
    const { spawnerBinding, runnerAccount } = createAccounts(name, objects, args);
    this.reachCheck = createReachCheck(this, name, args, opts, runnerAccount);
    const podInputs = [
      ...args.imageLoads,
      this.configMap,
      this.secret,
      ...(this.reachCheck ? [this.reachCheck] : []),
    ];
    const configHash = podInputsHash(configData, secretData);
    const source = podSource(args);
    this.spawner = createSpawner(name, args, objects, { configHash, source }, [
      ...podInputs,
      spawnerBinding,
      runnerAccount,
    ]);
    this.spawnerBudget = createSpawnerBudget(name, args, objects);
    this.dispatcher = new k8s.batch.v1.CronJob(
      `${name}-dispatcher`,
      dispatcherCronJobArgs({
        namespace: args.namespace.metadata.name,
        annotations: objects.annotations("dispatcher"),
        image: args.images.scheduler,
        startingDeadlineSeconds: args.dispatcherStartingDeadlineSeconds,
        configHash,
        source,
      }),
      objects.options("dispatcher", { dependsOn: podInputs }),
    );
    this.registerOutputs({ spawner: this.spawner.metadata.name, dispatcher: this.dispatcher.metadata.name });
  }
}

/** The pods' PodSource: the pull policy asked for, and the Secret's keys as schedulerSecretData writes them. */
function podSource(args: SchedulerArgs): PodSource {
  return podSourceFor(args.pods.imagePullPolicy, args.awsCredentials !== undefined);
}

/** PodDisruptionBudget `job-spawner`, only with more than one spawner (with one it would block every drain). */
function createSpawnerBudget(
  name: string,
  args: SchedulerArgs,
  objects: ObjectFactory,
): k8s.policy.v1.PodDisruptionBudget | undefined {
  if (args.pods.spawnerReplicas < 2) return undefined;
  return new k8s.policy.v1.PodDisruptionBudget(
    `${name}-spawner-budget`,
    spawnerDisruptionBudgetArgs({ namespace: args.namespace.metadata.name }),
    objects.plain(),
  );
}

/** Deployment `job-spawner`, after `dependsOn`; a stuck rollout fails within SPAWNER_WAIT. */
function createSpawner(
  name: string,
  args: SchedulerArgs,
  objects: ObjectFactory,
  pods: { readonly configHash: pulumi.Output<string>; readonly source: PodSource },
  dependsOn: pulumi.Resource[],
): k8s.apps.v1.Deployment {
  return new k8s.apps.v1.Deployment(
    `${name}-spawner`,
    spawnerDeploymentArgs({
      namespace: args.namespace.metadata.name,
      annotations: objects.annotations("spawner"),
      image: args.images.scheduler,
      runnerImage: args.images.runner,
      probes: args.spawnerProbes,
      configHash: pods.configHash,
      source: pods.source,
      replicas: args.pods.spawnerReplicas,
    }),
    objects.options("spawner", {
      dependsOn,
      // The rollout fails after SPAWNER_PROGRESS_DEADLINE_SECONDS without progress; this is the backstop.
      customTimeouts: { create: SPAWNER_WAIT, update: SPAWNER_WAIT },
    }),
  );
}
