import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { childOf } from "../component.js";
import {
  clusterRunnerJobsCleanupScript,
  type KubectlTarget,
  limitRangeArgs,
  type QuotaSettings,
  resourceQuotaArgs,
} from "./cluster-specs.js";
import { namespaceArgs } from "./specs.js";

export interface ExistingClusterArgs {
  /** The kubeconfig context the provider is pinned to; it can never deploy to another cluster. */
  readonly kubeContext: string;
  /** The kubeconfig file holding it; undefined: KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  /** Namespace to create (PodSecurity "restricted"); the scheduler objects and runner Jobs live in it. */
  readonly namespace: string;
  readonly quota: QuotaSettings;
}

/**
 * A cluster the team already runs (the cluster profile): nothing is started or loaded, the provider is
 * pinned to the configured context, and the program creates the namespace with its ResourceQuota and
 * LimitRange, and a clean-up that deletes the spawners' runner Jobs on destroy.
 */
export class ExistingCluster extends pulumi.ComponentResource {
  readonly provider: k8s.Provider;
  readonly namespace: k8s.core.v1.Namespace;
  readonly quota: k8s.core.v1.ResourceQuota;
  readonly limits: k8s.core.v1.LimitRange;
  /** Deletes runner Jobs on destroy; the spawner depends on it, so it runs after the spawners are gone. */
  readonly runnerJobsCleanup: command.local.Command;

  constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:ExistingCluster", name, {}, opts);
    this.provider = new k8s.Provider(
      `${name}-provider`,
      {
        context: args.kubeContext,
        ...(args.kubeconfig ? { kubeconfig: args.kubeconfig } : {}),
        enableServerSideApply: true,
      },
      childOf(this, opts),
    );
    const inNamespace = childOf(this, opts, { provider: this.provider });
    this.namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      namespaceArgs(args.namespace),
      inNamespace,
    );
    const metadata = { namespace: this.namespace.metadata.name };
    this.quota = new k8s.core.v1.ResourceQuota(
      `${name}-quota`,
      resourceQuotaArgs(metadata, args.quota),
      inNamespace,
    );
    this.limits = new k8s.core.v1.LimitRange(
      `${name}-limits`,
      limitRangeArgs(metadata, args.quota),
      inNamespace,
    );
    const target: KubectlTarget = {
      context: args.kubeContext,
      kubeconfig: args.kubeconfig,
      namespace: args.namespace,
    };
    this.runnerJobsCleanup = new command.local.Command(
      `${name}-runner-jobs`,
      { delete: clusterRunnerJobsCleanupScript(target) },
      childOf(this, opts, { dependsOn: [this.namespace] }),
    );
    this.registerOutputs({ namespace: this.namespace.metadata.name, kubeContext: args.kubeContext });
  }
}
