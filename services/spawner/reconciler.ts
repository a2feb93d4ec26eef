import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { RUNNER_TERMINATION_GRACE_SECONDS, runnerSelector } from "../contracts/job-template.js";
import { IMAGES, LABELS } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { failExecution, recentlyCancelledJobs } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import {
  listUnfinishedExecutions,
  overdueReason,
  resendExecution,
  type StaleRunPolicy,
  type UnfinishedExecution,
  whatToDo,
} from "../db/stale-run-policy.js";
import { deleteJob, isActiveJob, jobFinish, type KubeApi, listJobs, listPods } from "./kube.js";
import type { SpawnerMetrics } from "./metrics.js";

/**
 * Keeps executions and their runner Jobs in agreement (sample-controller style): each pass lists the
 * unfinished executions first and the Jobs and pods second (so a Job created during the pass is never
 * mistaken for a deleted one), asks the pure `decide` what each execution needs, and applies that. Every
 * change is a conditional UPDATE on a pending/running row: a finished execution is never touched.
 */

/** Container waiting reasons that mean the runner will not start by itself. */
export const STUCK_WAITING_REASONS = [
  "ImagePullBackOff",
  "ErrImagePull",
  "ErrImageNeverPull",
  "InvalidImageName",
  "CreateContainerConfigError",
] as const;

/** Pull failures: for one of the stack's own images, the image was never loaded into the cluster. */
const PULL_REASONS = new Set(["ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull"]);

/** What to do about a runner image that is not in the cluster (the stack loads it; no registry has it). */
export const IMAGE_NOT_LOADED_FIX =
  "load it with `pulumi up -s hybrid` (it builds and loads the images), then check with `khctl doctor --profile minikube`";

/**
 * How long an execution whose recorded Job is gone is left to its runner, ms: the runner pod of a deleted
 * Job gets its termination grace period to stop, and the runner records `cancelled` in it. Past that, with
 * the execution still unfinished, the runner is dead: JobDeleted.
 */
export const JOB_GONE_GRACE_MS = (RUNNER_TERMINATION_GRACE_SECONDS + 10) * 1000;

/** How long after a cancel its runner Job is still looked for, seconds (the default JOB_TTL_SECONDS). */
export const CANCELLED_JOB_WINDOW_SECONDS = 3600;

export interface ReconcilerOptions {
  /** How long a runner pod may wait in a STUCK_WAITING_REASONS state before its execution fails, ms. */
  readonly stuckPullLimitMs: number;
  /** How long a runner whose Job is gone may take to record its end, ms. Default JOB_GONE_GRACE_MS. */
  readonly jobGoneGraceMs?: number;
  /** When an execution with no live Job is overdue (db/stale-run-policy.ts). */
  readonly policy: StaleRunPolicy;
}

/** What one execution and its Job look like in this pass. */
export interface Observed {
  readonly execution: UnfinishedExecution;
  readonly job: V1Job | undefined;
  readonly pods: readonly V1Pod[];
  /** When its pod was first seen stuck (the reconciler's clock), if it was. */
  readonly stuckSince: number | undefined;
  /** When its recorded Job was first seen gone (the reconciler's clock), if it was. */
  readonly goneSince?: number | undefined;
}

/** What to do about it. */
export type ReconcileAction =
  | { readonly kind: "none"; readonly stuckSince?: number; readonly goneSince?: number }
  /** Pending, overdue, no Job: its message never led to one; send it again (stale-run policy). */
  | { readonly kind: "resend" }
  | {
      readonly kind: "fail";
      readonly reason: string;
      readonly error: string;
      /** Delete this Job too (a pod that would keep pulling holds a runner slot). */
      readonly deleteJob?: string;
      /** Only if it is still overdue when recorded (it was judged lost for its age, not for its Job). */
      readonly onlyIfOverdue?: boolean;
    };

export interface ReconcileFix {
  readonly executionId: string;
  /** DeadlineExceeded, PodFailurePolicy, ImagePullBackOff, ErrImagePull, JobDeleted, RunnerLost, ... */
  readonly reason: string;
  readonly error: string;
}

/** The reconciler's rules, as a pure function of what it observed and the time. */
export function decide(observed: Observed, now: number, options: ReconcilerOptions): ReconcileAction {
  const { execution, job } = observed;
  if (!job) return decideWithoutJob(observed, now, options);
  const name = job.metadata?.name ?? execution.jobName ?? execution.id;
  const finish = jobFinish(job);
  if (finish?.outcome === "failed") return failedJob(name, finish, observed.pods);
  if (finish?.outcome === "succeeded") {
    // The runner records its result before it exits 0; a finished Job with an unfinished run lost it.
    return execution.overdue
      ? lost(execution, options.policy, `its Job ${name} finished without recording a result`)
      : { kind: "none" };
  }
  return decideStuck(observed, name, now, options.stuckPullLimitMs);
}

/**
 * A failed Job, with why its runner container ended when the pod still says (OOMKilled, exit 137): the
 * Job's own reason (PodFailurePolicy, BackoffLimitExceeded) says only that its one attempt failed.
 */
function failedJob(
  name: string,
  finish: { reason: string; message: string },
  pods: readonly V1Pod[],
): ReconcileAction {
  const detail = finish.message ? `: ${finish.message}` : "";
  const ended = terminatedContainer(pods);
  if (!ended) {
    return {
      kind: "fail",
      reason: finish.reason,
      error: `runner Job ${name} failed: ${finish.reason}${detail}`,
    };
  }
  // The container's reason first: views that show an error's start (status, the console's lists) show it.
  const limit = ended.memoryLimit ? ` of ${ended.memoryLimit}` : "";
  const how =
    ended.reason === "OOMKilled"
      ? `its container went over its memory limit${limit} and was killed`
      : "its container ended";
  return {
    kind: "fail",
    reason: ended.reason,
    error: `runner Job ${name} failed: ${ended.reason} (exit code ${ended.exitCode}): ${how}; ${finish.reason}${detail}`,
  };
}

/** The runner container's end, when it ended for a reason beyond a plain non-zero exit ("Error"). */
function terminatedContainer(
  pods: readonly V1Pod[],
): { reason: string; exitCode: number; memoryLimit?: string } | null {
  for (const pod of pods) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const terminated = status.state?.terminated;
      if (!terminated?.reason || terminated.reason === "Error" || terminated.reason === "Completed") continue;
      const container = pod.spec?.containers.find((c) => c.name === status.name);
      const memoryLimit = container?.resources?.limits?.memory;
      return {
        reason: terminated.reason,
        exitCode: terminated.exitCode,
        ...(memoryLimit ? { memoryLimit: String(memoryLimit) } : {}),
      };
    }
  }
  return null;
}

function decideWithoutJob(observed: Observed, now: number, options: ReconcilerOptions): ReconcileAction {
  const { execution } = observed;
  if (execution.jobName) {
    // Its runner may still be stopping, and records `cancelled` itself if it is: give it its grace.
    const since = observed.goneSince ?? now;
    if (now - since < (options.jobGoneGraceMs ?? JOB_GONE_GRACE_MS))
      return { kind: "none", goneSince: since };
    return {
      kind: "fail",
      reason: "JobDeleted",
      error: `runner Job ${execution.jobName} was deleted before the run finished`,
    };
  }
  if (!execution.overdue) return { kind: "none" };
  if (whatToDo(execution) === "resend") return { kind: "resend" };
  return lost(execution, options.policy, "no runner Job exists for it");
}

function lost(execution: UnfinishedExecution, policy: StaleRunPolicy, detail: string): ReconcileAction {
  return {
    kind: "fail",
    reason: "RunnerLost",
    error: overdueReason(execution, policy, detail),
    onlyIfOverdue: true,
  };
}

function decideStuck(observed: Observed, jobName: string, now: number, limitMs: number): ReconcileAction {
  const stuck = stuckContainer(observed.pods);
  if (!stuck) return { kind: "none" };
  const detail = stuck.message ? `: ${stuck.message}` : "";
  if (PULL_REASONS.has(stuck.reason) && isStackImage(stuck.image)) {
    // Nothing to wait for: no registry has it, so no retry of the pull can succeed.
    return {
      kind: "fail",
      reason: stuck.reason,
      error: `runner image ${stuck.image} is not in the cluster (the pod of Job ${jobName} is in ${stuck.reason}${detail}): ${IMAGE_NOT_LOADED_FIX}`,
      deleteJob: jobName,
    };
  }
  const since = observed.stuckSince ?? now;
  if (now - since < limitMs) return { kind: "none", stuckSince: since };
  return {
    kind: "fail",
    reason: stuck.reason,
    error: `runner pod of Job ${jobName} stuck in ${stuck.reason} for ${Math.round((now - since) / 1000)}s${detail}`,
    deleteJob: jobName,
  };
}

/**
 * One of the stack's own images (`keeperhub-runner:<tag>`, no registry): a name without a registry or a
 * path means an official Docker library image, which ours are not, so it exists only where it was loaded.
 */
export function isStackImage(image: string): boolean {
  const name = image.replace(/[:@].*$/, "");
  return !image.includes("/") && (Object.values(IMAGES) as string[]).includes(name);
}

function stuckContainer(pods: readonly V1Pod[]): { reason: string; message: string; image: string } | null {
  for (const pod of pods) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const status of statuses) {
      const waiting = status.state?.waiting;
      if (waiting?.reason && (STUCK_WAITING_REASONS as readonly string[]).includes(waiting.reason)) {
        const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
          (c) => c.name === status.name,
        );
        return { reason: waiting.reason, message: waiting.message ?? "", image: spec?.image ?? status.image };
      }
    }
  }
  return null;
}

export interface ReconcilerDeps {
  readonly db: Queryable;
  readonly kube: KubeApi;
  readonly metrics: SpawnerMetrics;
  readonly logger: Logger;
  readonly options: ReconcilerOptions;
  /** Clock for the stuck-pull limit, ms. Default Date.now. */
  readonly now?: () => number;
}

export interface Reconciler {
  /** One pass; resolves the executions it marked `error`. Throws when the database or the API fails. */
  reconcileOnce(): Promise<ReconcileFix[]>;
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const now = deps.now ?? Date.now;
  /**
   * When each execution's pod was first seen stuck, and its recorded Job first seen gone (our clock, so API
   * server skew does not matter).
   */
  let clocks: Clocks = { stuckSince: new Map(), goneSince: new Map() };
  return {
    async reconcileOnce() {
      const observed = await observe(deps, clocks);
      const next: Clocks = { stuckSince: new Map(), goneSince: new Map() };
      const fixes: ReconcileFix[] = [];
      const at = now();
      for (const item of observed) {
        const action = decide(item, at, deps.options);
        if (action.kind === "none") {
          if (action.stuckSince !== undefined) next.stuckSince.set(item.execution.id, action.stuckSince);
          if (action.goneSince !== undefined) next.goneSince.set(item.execution.id, action.goneSince);
          continue;
        }
        if (action.kind === "resend") {
          await resend(deps, item.execution);
          continue;
        }
        const fix = await apply(deps, item.execution.id, action);
        if (fix) fixes.push(fix);
      }
      clocks = next;
      // Last and apart: a failure here must not hold up the executions' repairs (the next pass retries).
      await stopCancelledJobs(deps).catch((error) =>
        deps.logger.warn({ err: errorMessage(error) }, "could not stop the Jobs of cancelled runs"),
      );
      return fixes;
    },
  };
}

interface Clocks {
  readonly stuckSince: Map<string, number>;
  readonly goneSince: Map<string, number>;
}

/** The unfinished executions with their Jobs and pods; nothing from the API when nothing is unfinished. */
async function observe(deps: ReconcilerDeps, clocks: Clocks): Promise<Observed[]> {
  const executions = await listUnfinishedExecutions(deps.db, deps.options.policy);
  if (executions.length === 0) return [];
  const jobs = byExecution(await listJobs(deps.kube, runnerSelector()));
  const pods = byExecution(await listPods(deps.kube, runnerSelector()));
  return executions.map((execution) => ({
    execution,
    job: jobs.get(execution.id)?.[0],
    pods: pods.get(execution.id) ?? [],
    stuckSince: clocks.stuckSince.get(execution.id),
    goneSince: clocks.goneSince.get(execution.id),
  }));
}

function byExecution<T extends V1Job | V1Pod>(objects: readonly T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const object of objects) {
    const id = object.metadata?.labels?.[LABELS.executionId];
    if (id) map.set(id, [...(map.get(id) ?? []), object]);
  }
  return map;
}

/**
 * A cancel's side in the hybrid stack (db/executions.ts cancelExecution): the still active Job of a
 * cancelled run is deleted, so its runner pod gets SIGTERM and aborts its steps in flight, as when a Job is
 * deleted by hand. Nothing is asked of the API when no run with a Job was cancelled lately.
 */
async function stopCancelledJobs(deps: ReconcilerDeps): Promise<void> {
  const cancelled = await recentlyCancelledJobs(deps.db, CANCELLED_JOB_WINDOW_SECONDS);
  if (cancelled.length === 0) return;
  const jobs = byExecution(await listJobs(deps.kube, runnerSelector()));
  for (const { id, jobName } of cancelled) {
    const job = jobs.get(id)?.[0];
    if (!job || !isActiveJob(job)) continue;
    await deleteJob(deps.kube, jobName);
    deps.logger.info({ executionId: id, jobName }, "execution cancelled: its runner Job deleted");
  }
}

async function resend(deps: ReconcilerDeps, execution: UnfinishedExecution): Promise<void> {
  if (!(await resendExecution(deps.db, execution.id, deps.options.policy))) return;
  deps.metrics.reconcilerFixes.inc({ reason: "Resent" });
  deps.logger.warn(
    { executionId: execution.id, sends: execution.sendCount },
    "no runner Job for a pending execution: its message is sent again (the next dispatcher pass sends it)",
  );
}

async function apply(
  deps: ReconcilerDeps,
  executionId: string,
  action: Extract<ReconcileAction, { kind: "fail" }>,
): Promise<ReconcileFix | null> {
  const changed = await failExecution(
    deps.db,
    executionId,
    action.error,
    action.onlyIfOverdue ? { onlyIfOverdue: deps.options.policy } : {},
  );
  if (action.deleteJob) {
    const jobName = action.deleteJob;
    await deleteJob(deps.kube, jobName).catch((error) =>
      deps.logger.warn({ executionId, jobName, err: errorMessage(error) }, "could not delete stuck Job"),
    );
  }
  if (!changed) return null;
  deps.metrics.reconcilerFixes.inc({ reason: action.reason });
  deps.logger.warn(
    { executionId, reason: action.reason, err: action.error },
    "reconciler marked execution error",
  );
  return { executionId, reason: action.reason, error: action.error };
}
