import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ENV, K8S, SECRET_ENV } from "../../services/contracts/names.js";
import { childOf } from "../component.js";
import {
  AWS_CREDENTIAL_ENV,
  dispatcherCronJobArgs,
  type SchedulerSettings,
  type SpawnerProbes,
  schedulerConfigData,
  spawnerDeploymentArgs,
  spawnerRoleRules,
} from "./specs.js";

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
  readonly spawner: k8s.apps.v1.Deployment;
  readonly dispatcher: k8s.batch.v1.CronJob;

  constructor(name: string, args: SchedulerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Scheduler", name, {}, opts);
    const child = childOf(this, opts, { provider: args.provider });
    const namespace = args.namespace.metadata.name;

    const configData = schedulerConfigData(args.settings);
    this.configMap = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: { name: K8S.configMap, namespace }, data: configData },
      child,
    );
    const secretData: Record<string, pulumi.Input<string>> = {
      [ENV.databaseUrl]: args.databaseUrl,
      [ENV.integrationEncryptionKey]: args.encryptionKey,
      [AWS_CREDENTIAL_ENV[0]]: args.awsCredentials.accessKeyId,
      [AWS_CREDENTIAL_ENV[1]]: args.awsCredentials.secretAccessKey,
    };
    // Every key the pods reference must exist, or they fail with CreateContainerConfigError.
    for (const key of SECRET_ENV) if (!(key in secretData)) throw new Error(`Secret is missing key ${key}`);
    this.secret = new k8s.core.v1.Secret(
      `${name}-secrets`,
      {
        metadata: { name: K8S.secret, namespace },
        type: "Opaque",
        stringData: pulumi.secret(pulumi.output(secretData)) as pulumi.Output<Record<string, string>>,
      },
      child,
    );

    const spawnerAccount = new k8s.core.v1.ServiceAccount(
      `${name}-spawner-account`,
      { metadata: { name: K8S.spawnerServiceAccount, namespace } },
      child,
    );
    const spawnerRole = new k8s.rbac.v1.Role(
      `${name}-spawner-role`,
      { metadata: { name: K8S.spawnerRole, namespace }, rules: spawnerRoleRules() },
      child,
    );
    const spawnerBinding = new k8s.rbac.v1.RoleBinding(
      `${name}-spawner-binding`,
      {
        metadata: { name: K8S.spawnerRoleBinding, namespace },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: spawnerRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: spawnerAccount.metadata.name, namespace }],
      },
      child,
    );
    const runnerAccount = new k8s.core.v1.ServiceAccount(
      `${name}-runner-account`,
      { metadata: { name: K8S.runnerServiceAccount, namespace }, automountServiceAccountToken: false },
      child,
    );

    const podInputs = [this.configMap, this.secret];
    this.spawner = new k8s.apps.v1.Deployment(
      `${name}-spawner`,
      spawnerDeploymentArgs({
        namespace,
        image: args.images.scheduler,
        runnerImage: args.images.runner,
        probes: args.spawnerProbes,
        configHash: pulumi
          .output(configData)
          .apply((data) => createHash("sha256").update(JSON.stringify(data)).digest("hex").slice(0, 16)),
      }),
      childOf(this, opts, {
        provider: args.provider,
        dependsOn: [...args.imageLoads, ...podInputs, spawnerBinding, runnerAccount],
      }),
    );
    this.dispatcher = new k8s.batch.v1.CronJob(
      `${name}-dispatcher`,
      dispatcherCronJobArgs({
        namespace,
        image: args.images.scheduler,
        startingDeadlineSeconds: args.dispatcherStartingDeadlineSeconds,
      }),
      childOf(this, opts, { provider: args.provider, dependsOn: [...args.imageLoads, ...podInputs] }),
    );
    this.registerOutputs({
      spawner: this.spawner.metadata.name,
      dispatcher: this.dispatcher.metadata.name,
    });
  }
}
