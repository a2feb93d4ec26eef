import type * as k8s from "@pulumi/kubernetes";
import { DEFAULT_RUNNER_RESOURCES, runnerSelector } from "../../services/contracts/job-template.js";
import { K8S, LABELS, SPAWNER_APP_LABEL } from "../../services/contracts/names.js";
import { shellQuote } from "../khctl.js";

/**
 * The objects only the cluster profile declares (a shared cluster: any context, a registry), as pure
 * functions of their inputs, like specs.ts: the program passes their results to the resources and a
 * real-tier test can apply the same results to a real API server.
 */

type ObjectMeta = k8s.types.input.meta.v1.ObjectMeta;

/** ResourceQuota `keeperhub-quota`: what the namespace's pods may hold at most, runners and spawners alike. */
export const QUOTA_NAME = "keeperhub-quota";
/** LimitRange `keeperhub-limits`: each container's default and largest size. */
export const LIMIT_RANGE_NAME = "keeperhub-limits";
/** PodDisruptionBudget `job-spawner`: a drain never takes the last spawner. */
export const SPAWNER_PDB_NAME = K8S.spawnerDeployment;

export interface QuotaSettings {
  /** Pods at most. */
  readonly pods: number;
  /** Sum of the pods' CPU limits, a quantity. */
  readonly cpu: string;
  /** Sum of the pods' memory limits, a quantity. */
  readonly memory: string;
  /** One container's CPU limit at most. */
  readonly maxCpu: string;
  /** One container's memory limit at most. */
  readonly maxMemory: string;
}

/**
 * The namespace's quota. A quota cannot select pods by label, so it covers the spawners and the
 * dispatcher too; on limits (not requests), since every container has limits (the LimitRange gives one
 * that has none). A runner Job refused by the quota fails its pod's creation, which the spawner's
 * reconciler records; MAX_CONCURRENT_JOBS keeps the spawners below it in the first place.
 */
export function resourceQuotaArgs(metadata: ObjectMeta, quota: QuotaSettings): k8s.core.v1.ResourceQuotaArgs {
  return {
    metadata: { ...metadata, name: QUOTA_NAME },
    spec: {
      hard: { pods: String(quota.pods), "limits.cpu": quota.cpu, "limits.memory": quota.memory },
    },
  };
}

/** Each container's default requests and limits (the runner's defaults) and the largest limits allowed. */
export function limitRangeArgs(metadata: ObjectMeta, quota: QuotaSettings): k8s.core.v1.LimitRangeArgs {
  return {
    metadata: { ...metadata, name: LIMIT_RANGE_NAME },
    spec: {
      limits: [
        {
          type: "Container",
          defaultRequest: { ...DEFAULT_RUNNER_RESOURCES.requests },
          default: { ...DEFAULT_RUNNER_RESOURCES.limits },
          max: { cpu: quota.maxCpu, memory: quota.maxMemory },
        },
      ],
    },
  };
}

/** At most one spawner down at a time by a voluntary disruption (a drain, a node upgrade). */
export function spawnerDisruptionBudgetArgs(metadata: ObjectMeta): k8s.policy.v1.PodDisruptionBudgetArgs {
  return {
    metadata: { ...metadata, name: SPAWNER_PDB_NAME },
    spec: { maxUnavailable: 1, selector: { matchLabels: { [LABELS.app]: SPAWNER_APP_LABEL } } },
  };
}

/** Whether `ref` names an image by digest (`repo@sha256:<64 hex>`). */
export const isDigestRef = (ref: string): boolean => /^[^@\s]+@sha256:[0-9a-f]{64}$/.test(ref);

export interface KubectlTarget {
  readonly context: string;
  /** The kubeconfig file; undefined: KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  readonly namespace: string;
}

/** `kubectl` pinned to the stack's context and namespace (never the current context). */
export function kubectlCommand(target: KubectlTarget): string {
  const kubeconfig = target.kubeconfig ? ` --kubeconfig ${shellQuote(target.kubeconfig)}` : "";
  return `kubectl${kubeconfig} --context ${shellQuote(target.context)} -n ${shellQuote(target.namespace)}`;
}

/**
 * Deletes the runner Jobs (and their pods) the spawners created, on destroy, before the namespace goes.
 * `--ignore-not-found` makes a second run harmless; a cluster that cannot be reached fails the destroy
 * with kubectl's message (a shared cluster is not something that is simply gone, as a minikube can be).
 */
export function clusterRunnerJobsCleanupScript(target: KubectlTarget): string {
  return `${kubectlCommand(target)} delete jobs -l ${shellQuote(runnerSelector())} --ignore-not-found --wait=true --cascade=foreground`;
}
