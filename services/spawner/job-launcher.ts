import {
  buildJobTemplate,
  JobTemplateError,
  type RunnerPodOptions,
  runnerSelector,
} from "../contracts/job-template.js";
import { jobNameFor, MAX_RECEIVE_COUNT } from "../contracts/names.js";
import type { KubernetesConfig } from "../core/config.js";
import { type ExecutionRow, failExecution, recordJobName } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import type { Launcher } from "../intake/launcher.js";
import type { HandleContext } from "../queue/consumer-types.js";
import {
  classifyKubeError,
  createJob,
  isActiveJob,
  type KubeApi,
  type KubeErrorInfo,
  listJobs,
} from "./kube.js";
import type { SpawnerMetrics } from "./metrics.js";

export interface JobLauncherDeps {
  readonly db: Queryable;
  readonly kube: KubeApi;
  readonly config: Pick<
    KubernetesConfig,
    | "namespace"
    | "runnerImage"
    | "jobTtlSeconds"
    | "jobActiveDeadlineSeconds"
    | "maxConcurrentJobs"
    | "runnerNodeSelector"
  >;
  readonly metrics: SpawnerMetrics;
  /** Size and placement of the runner pods. Default: the template's resources, any node. */
  readonly runnerPod?: RunnerPodOptions;
  /**
   * How long the active-Job count may be reused before capacity() lists the Jobs again, ms. At the cap it
   * lists on every call. Default 2000.
   */
  readonly activeRefreshMs?: number;
}

/**
 * The spawner's launcher: one runner Job per execution (contracts/job-template.ts), named after it so a
 * second create finds the first (409: already launched). A refused create (RBAC, an invalid object) or an
 * unbuildable template can never succeed: the execution is recorded as error and the message deleted; a
 * transient failure (5xx, timeout) leaves the message for redelivery. Back-pressure: at
 * MAX_CONCURRENT_JOBS active runner Jobs nothing more is received.
 */
export function createJobLauncher(deps: JobLauncherDeps): Launcher {
  const active = new ActiveJobCount(deps);
  return {
    launch: async (execution, context) => {
      const outcome = await launchJob(deps, execution, context);
      if (outcome === "launched") active.created();
      return outcome === "retry" ? "retry" : "done";
    },
    capacity: (freeSlots, inFlight) => active.capacity(freeSlots, inFlight),
  };
}

async function launchJob(
  deps: JobLauncherDeps,
  execution: ExecutionRow,
  context: HandleContext,
): Promise<"launched" | "failed" | "retry"> {
  const { db, kube, config, metrics } = deps;
  const jobName = jobNameFor(execution.id);
  let job: ReturnType<typeof buildJobTemplate>;
  try {
    job = buildJobTemplate({
      executionId: execution.id,
      workflowId: execution.workflow_id,
      scheduleId: execution.schedule_id,
      config,
      nodeSelector: config.runnerNodeSelector,
      ...deps.runnerPod,
    });
  } catch (error) {
    if (!(error instanceof JobTemplateError)) throw error;
    metrics.createErrors.inc({ reason: "InvalidTemplate" });
    await failExecution(db, execution.id, `cannot build the runner Job: ${error.message}`);
    context.logger.error({ err: error.message }, "cannot build the runner Job; execution marked error");
    return "failed";
  }
  try {
    const result = await createJob(kube, job);
    if (result === "created") metrics.jobsCreated.inc();
    // "exists": a redelivery, or a crash after the create and before the delete: the Job is there.
    context.logger.info(
      { jobName },
      result === "created" ? "runner Job created" : "runner Job already exists",
    );
  } catch (error) {
    const info = classifyKubeError(error);
    metrics.createErrors.inc({ reason: info.reason });
    const details = { jobName, status: info.status, reason: info.reason, err: info.message };
    if (info.kind !== "permanent" || forbiddenForNow(info, context.receiveCount)) {
      context.logger.warn(
        { ...details, receiveCount: context.receiveCount },
        "Job create failed; will retry",
      );
      return "retry";
    }
    await failExecution(
      db,
      execution.id,
      `Kubernetes refused the runner Job ${jobName}: ${info.reason}: ${info.message}`,
    );
    context.logger.error(details, "Job create refused; execution marked error");
    return "failed";
  }
  await recordJobName(db, execution.id, jobName);
  return "launched";
}

/**
 * A 403 that clears by itself: a ResourceQuota that is full now (Jobs finish and free it), or RBAC that has
 * not reached every API server yet right after `pulumi up` created the Role. Such a create is retried
 * with the queue's growing backoff; an RBAC denial that outlasts all but the last receive (about two
 * minutes) is taken as meant, and the execution is recorded as error then.
 */
function forbiddenForNow(info: KubeErrorInfo, receiveCount: number): boolean {
  if (info.status !== 403) return false;
  if (/exceeded quota/i.test(info.message)) return true;
  return receiveCount < MAX_RECEIVE_COUNT - 1;
}

/**
 * The active runner Jobs, counted cheaply: listing every Job on each receive would cost a large request
 * per message, so the last list plus our own creates since is trusted for a while, and the Jobs are
 * listed again when that is stale or says we are at the cap.
 */
class ActiveJobCount {
  private listed = 0;
  private createdSinceList = 0;
  private listedAt = Number.NEGATIVE_INFINITY;
  private readonly refreshMs: number;

  constructor(private readonly deps: JobLauncherDeps) {
    this.refreshMs = deps.activeRefreshMs ?? 2000;
  }

  created(): void {
    this.createdSinceList++;
  }

  /** How many messages may be received now: free slots, less what would pass MAX_CONCURRENT_JOBS. */
  async capacity(freeSlots: number, inFlight: number): Promise<number> {
    const max = this.deps.config.maxConcurrentJobs;
    // Messages in flight may become Jobs not in the list yet: count them too, so the cap is never passed.
    const estimate = () => this.listed + this.createdSinceList + inFlight;
    if (performance.now() - this.listedAt >= this.refreshMs || estimate() >= max) await this.list();
    return Math.max(0, Math.min(freeSlots, max - estimate()));
  }

  private async list(): Promise<void> {
    const createdBefore = this.createdSinceList;
    const jobs = await listJobs(this.deps.kube, runnerSelector());
    const listed = jobs.filter(isActiveJob).length;
    // A create that finished during the list may be counted twice: an over-count, never an overshoot.
    this.createdSinceList -= createdBefore;
    this.listed = listed;
    this.listedAt = performance.now();
    this.deps.metrics.activeJobs.set(listed);
  }
}
