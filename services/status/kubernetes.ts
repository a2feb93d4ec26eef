import { ApiException, AppsV1Api, BatchV1Api, type KubeConfig, type V1Job } from "@kubernetes/client-node";
import { runnerSelector } from "../contracts/job-template.js";
import { K8S } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { kubeApiConfiguration } from "../core/kube-config.js";
import { type StatusPart, unreachable } from "./parts.js";

export interface DeploymentState {
  readonly desired: number;
  readonly ready: number;
}
export interface CronJobState {
  readonly schedule: string;
  readonly suspended: boolean;
  readonly lastScheduleTime: Date | undefined;
  readonly lastSuccessfulTime: Date | undefined;
  readonly active: number;
}
export interface RunnerJobCounts {
  readonly active: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** What `khctl status` reads from the cluster; `undefined` means the object does not exist. */
export interface KubeSource {
  deployment(namespace: string, name: string): Promise<DeploymentState | undefined>;
  cronJob(namespace: string, name: string): Promise<CronJobState | undefined>;
  runnerJobs(namespace: string): Promise<RunnerJobCounts>;
}

/** A runner Job's state from its conditions: finished jobs have a Complete or Failed condition. */
export function jobState(job: V1Job): keyof RunnerJobCounts {
  const conditions = job.status?.conditions ?? [];
  if (conditions.some((c) => c.type === "Failed" && c.status === "True")) return "failed";
  if (
    conditions.some((c) => (c.type === "Complete" || c.type === "SuccessCriteriaMet") && c.status === "True")
  ) {
    return "succeeded";
  }
  return "active";
}

const notFound = (error: unknown) => error instanceof ApiException && error.code === 404;

/** Reads through @kubernetes/client-node; every request gives up after `timeoutMs`. */
export function kubeSource(kc: KubeConfig, timeoutMs = 5_000): KubeSource {
  const configuration = kubeApiConfiguration(kc, timeoutMs);
  const apps = new AppsV1Api(configuration);
  const batch = new BatchV1Api(configuration);
  return {
    async deployment(namespace, name) {
      try {
        const d = await apps.readNamespacedDeployment({ namespace, name });
        return { desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0 };
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async cronJob(namespace, name) {
      try {
        const c = await batch.readNamespacedCronJob({ namespace, name });
        return {
          schedule: c.spec?.schedule ?? "",
          suspended: c.spec?.suspend ?? false,
          lastScheduleTime: c.status?.lastScheduleTime,
          lastSuccessfulTime: c.status?.lastSuccessfulTime,
          active: c.status?.active?.length ?? 0,
        };
      } catch (error) {
        if (notFound(error)) return undefined;
        throw error;
      }
    },
    async runnerJobs(namespace) {
      const list = await batch.listNamespacedJob({ namespace, labelSelector: runnerSelector() });
      const counts = { active: 0, succeeded: 0, failed: 0 };
      for (const job of list.items) counts[jobState(job)]++;
      return counts;
    },
  };
}

const ago = (date: Date | undefined, now: Date) =>
  date
    ? `${date.toISOString()} (${Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000))}s ago)`
    : "never";

export interface KubernetesStatus {
  readonly context: string | undefined;
  readonly namespace: string;
  readonly deployment: DeploymentState | null;
  readonly cronJob: CronJobState | null;
  readonly runnerJobs: RunnerJobCounts;
}

/** The Kubernetes part: the spawner Deployment, the dispatcher CronJob and the runner Jobs by state. */
export async function kubernetesPart(
  source: KubeSource | Error,
  options: {
    namespace: string;
    context: string | undefined;
    /** The stack whose `pulumi up` puts the objects back (hybrid, cluster). */
    stack: string;
    now?: Date;
  },
): Promise<StatusPart<KubernetesStatus>> {
  const where = `context ${options.context ?? "(current)"}, namespace ${options.namespace}`;
  if (source instanceof Error) return unreachable("kubernetes", true, `${where}: ${errorMessage(source)}`);
  const now = options.now ?? new Date();
  try {
    const [deployment, cronJob, runnerJobs] = await Promise.all([
      source.deployment(options.namespace, K8S.spawnerDeployment),
      source.cronJob(options.namespace, K8S.dispatcherCronJob),
      source.runnerJobs(options.namespace),
    ]);
    const problems: string[] = [];
    if (!deployment) problems.push(`Deployment ${K8S.spawnerDeployment} not found`);
    else if (deployment.ready < 1) problems.push(`Deployment ${K8S.spawnerDeployment} has no ready replica`);
    if (!cronJob) problems.push(`CronJob ${K8S.dispatcherCronJob} not found`);
    else if (cronJob.suspended) problems.push(`CronJob ${K8S.dispatcherCronJob} is suspended`);
    return {
      name: "kubernetes",
      required: true,
      ok: problems.length === 0,
      summary:
        problems.length === 0 ? where : `${where}: ${problems.join("; ")} (pulumi up -s ${options.stack})`,
      lines: [
        `deployment ${K8S.spawnerDeployment}: ${deployment ? `${deployment.ready}/${deployment.desired} ready` : "not found"}`,
        `cronjob ${K8S.dispatcherCronJob}: ${
          cronJob
            ? `${cronJob.schedule}${cronJob.suspended ? " (suspended)" : ""}, last schedule ${ago(cronJob.lastScheduleTime, now)}, ${cronJob.active} active`
            : "not found"
        }`,
        `runner jobs: ${runnerJobs.active} active, ${runnerJobs.succeeded} succeeded, ${runnerJobs.failed} failed`,
      ],
      data: {
        context: options.context,
        namespace: options.namespace,
        deployment: deployment ?? null,
        cronJob: cronJob ?? null,
        runnerJobs,
      },
    };
  } catch (error) {
    return unreachable(
      "kubernetes",
      true,
      `${where}: ${errorMessage(error)} (kubectl --context ... get pods)`,
    );
  }
}
