import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { K8S } from "../../services/contracts/names.js";
import { childOf } from "../component.js";
import { objectRestore } from "../drift.js";
import { shellQuote } from "../khctl.js";
import {
  type ClusterObject,
  type ClusterObservation,
  clusterObjectRefs,
  kubectlFunction,
  seenObject,
} from "./observe.js";
import {
  dispatcherCronJobArgs,
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
}

/**
 * Runs `khctl doctor --reach` in a pod of the namespace (kubectl run, removed after), so an update fails
 * within seconds, naming the address, when pods cannot reach Postgres or LocalStack, instead of waiting
 * for the spawner to become ready. The pod is removed whatever the outcome.
 */
export function reachCheckScript(args: ReachCheckArgs): string {
  const k = `k --context ${shellQuote(args.context)} -n ${shellQuote(args.namespace)}`;
  const overrides = JSON.stringify(reachCheckPodOverrides());
  return [
    kubectlFunction(args.profile),
    `${k} delete pod ${REACH_CHECK_POD} --ignore-not-found --wait=true >/dev/null`,
    `${k} run ${REACH_CHECK_POD} --rm -i --quiet --restart=Never --image=${shellQuote(args.image)} --image-pull-policy=Never --pod-running-timeout=90s --overrides=${shellQuote(overrides)} --override-type=strategic -- ${reachCheckArgs(args.targets).map(shellQuote).join(" ")}`,
    "status=$?",
    `${k} delete pod ${REACH_CHECK_POD} --ignore-not-found --wait=false >/dev/null 2>&1`,
    "exit $status",
  ].join("\n");
}

export interface SchedulerArgs {
  readonly provider: k8s.Provider;
  /** The namespace resource; every object is created in it. */
  readonly namespace: k8s.core.v1.Namespace;
  /** keeperhub-scheduler and keeperhub-runner references (content tags). */
  readonly images: { readonly scheduler: string; readonly runner: string };
  /** The `minikube image load` commands: the Deployment and CronJob start only after them. */
  readonly imageLoads: pulumi.Resource[];
  readonly settings: SchedulerSettings;
  /** DATABASE_URL as pods see it (secret). */
  readonly databaseUrl: pulumi.Input<string>;
  /** INTEGRATION_ENCRYPTION_KEY (secret). */
  readonly encryptionKey: pulumi.Input<string>;
  /** LocalStack credentials (dummy values, kept in the Secret all the same). */
  readonly awsCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly spawnerProbes: SpawnerProbes;
  readonly dispatcherStartingDeadlineSeconds: number;
  /** Where pods reach Postgres and LocalStack (`name=host:port`), checked from the namespace first. */
  readonly reachTargets: readonly string[];
  /** minikube profile and context, for the reachability check. */
  readonly minikubeProfile: string;
  readonly kubeContext: string;
  /** The minikube start's restore entry: the check runs again when minikube was started again. */
  readonly startRestore: { readonly environment: Record<string, string>; readonly ignoreChanges: string[] };
  /** What this run saw in the cluster: objects deleted behind Pulumi's back are created again. */
  readonly observed: ClusterObservation;
  readonly observedAt: Date;
}

/**
 * The scheduler in minikube: ConfigMap `scheduler-env`, Secret `keeperhub-secrets`, the job-spawner's
 * ServiceAccount/Role/RoleBinding (least privilege), the runner's ServiceAccount (no token), Deployment
 * `job-spawner` and CronJob `schedule-dispatcher`. Pass what the consumers wait for (the queue, the
 * migrations, the runner-Job clean-up) as `dependsOn`: every child inherits it.
 */
export class Scheduler extends pulumi.ComponentResource {
  readonly configMap: k8s.core.v1.ConfigMap;
  readonly secret: k8s.core.v1.Secret;
  readonly reachCheck: command.local.Command;
  readonly spawner: k8s.apps.v1.Deployment;
  readonly dispatcher: k8s.batch.v1.CronJob;

  constructor(name: string, args: SchedulerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Scheduler", name, {}, opts);
    const namespace = args.namespace.metadata.name;
    const refs = clusterObjectRefs(args.settings.namespace);
    // Each object's restore token and options: one deleted from the cluster is created again.
    const restore = (object: ClusterObject) =>
      objectRestore(seenObject(args.observed, refs[object]), args.observedAt);
    const child = (object: ClusterObject, more: pulumi.CustomResourceOptions = {}) =>
      childOf(this, opts, { provider: args.provider, ...restore(object).options, ...more });
    const metadata = (object: ClusterObject, name: string) => ({
      name,
      namespace,
      annotations: restore(object).annotations,
    });

    const configData = schedulerConfigData(args.settings);
    this.configMap = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      schedulerConfigMapArgs(metadata("configMap", K8S.configMap), args.settings),
      child("configMap"),
    );
    const secretData = schedulerSecretData(args);
    this.secret = new k8s.core.v1.Secret(
      `${name}-secrets`,
      schedulerSecretArgs(
        metadata("secret", K8S.secret),
        pulumi.secret(pulumi.output(secretData)) as pulumi.Output<Record<string, string>>,
      ),
      child("secret"),
    );

    const spawnerAccount = new k8s.core.v1.ServiceAccount(
      `${name}-spawner-account`,
      spawnerServiceAccountArgs(metadata("spawnerAccount", K8S.spawnerServiceAccount)),
      child("spawnerAccount"),
    );
    const spawnerRole = new k8s.rbac.v1.Role(
      `${name}-spawner-role`,
      spawnerRoleArgs(metadata("spawnerRole", K8S.spawnerRole)),
      child("spawnerRole"),
    );
    const spawnerBinding = new k8s.rbac.v1.RoleBinding(
      `${name}-spawner-binding`,
      // Names from the resources, so the binding waits for both.
      spawnerRoleBindingArgs(metadata("spawnerBinding", K8S.spawnerRoleBinding), {
        roleName: spawnerRole.metadata.name,
        serviceAccountName: spawnerAccount.metadata.name,
        namespace,
      }),
      child("spawnerBinding"),
    );
    const runnerAccount = new k8s.core.v1.ServiceAccount(
      `${name}-runner-account`,
      runnerServiceAccountArgs(metadata("runnerAccount", K8S.runnerServiceAccount)),
      child("runnerAccount"),
    );

    this.reachCheck = new command.local.Command(
      `${name}-reach-check`,
      {
        create: reachCheckScript({
          profile: args.minikubeProfile,
          context: args.kubeContext,
          namespace: args.settings.namespace,
          image: args.images.scheduler,
          targets: args.reachTargets,
        }),
        environment: args.startRestore.environment,
        // Runs again for a new image or new addresses (a replace), and when minikube was started again.
        triggers: [args.images.scheduler, ...args.reachTargets],
      },
      childOf(this, opts, {
        dependsOn: [...args.imageLoads, args.namespace, runnerAccount],
        ignoreChanges: args.startRestore.ignoreChanges,
      }),
    );

    const configHash = podInputsHash(configData, secretData);
    const podInputs = [this.configMap, this.secret, this.reachCheck];
    this.spawner = new k8s.apps.v1.Deployment(
      `${name}-spawner`,
      spawnerDeploymentArgs({
        namespace,
        annotations: restore("spawner").annotations,
        image: args.images.scheduler,
        runnerImage: args.images.runner,
        probes: args.spawnerProbes,
        configHash,
      }),
      child("spawner", {
        dependsOn: [...args.imageLoads, ...podInputs, spawnerBinding, runnerAccount],
        // The rollout fails after SPAWNER_PROGRESS_DEADLINE_SECONDS without progress; this is the backstop.
        customTimeouts: { create: SPAWNER_WAIT, update: SPAWNER_WAIT },
      }),
    );
    this.dispatcher = new k8s.batch.v1.CronJob(
      `${name}-dispatcher`,
      dispatcherCronJobArgs({
        namespace,
        annotations: restore("dispatcher").annotations,
        image: args.images.scheduler,
        startingDeadlineSeconds: args.dispatcherStartingDeadlineSeconds,
        configHash,
      }),
      child("dispatcher", { dependsOn: [...args.imageLoads, ...podInputs] }),
    );
    this.registerOutputs({
      spawner: this.spawner.metadata.name,
      dispatcher: this.dispatcher.metadata.name,
    });
  }
}
