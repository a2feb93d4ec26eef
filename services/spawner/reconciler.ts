import { setTimeout as delay } from "node:timers/promises";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { runnerSelector } from "../contracts/job-template.js";
import { LABELS } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { failExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { listUnfinishedExecutions } from "./executions.js";
import { deleteJob, jobFinish, type KubeApi, listJobs, listPods } from "./kube.js";
import type { SpawnerMetrics } from "./metrics.js";

/**
 * Keeps executions and Jobs in agreement. Runs on an interval; each pass reads the unfinished executions
 * first and the Jobs second, so a Job created during the pass is never mistaken for a deleted one.
 * Every change is a conditional UPDATE on a pending/running row: a terminal execution is never touched.
 */

/** Container waiting reasons that mean the runner will not start by itself. */
export const STUCK_WAITING_REASONS = [
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
] as const;

export interface ReconcilerOptions {
  /** How long a runner pod may wait in a STUCK_WAITING_REASONS state before its execution fails, ms. */
  readonly stuckPullLimitMs: number;
  /**
   * Seconds after coalesce(started_at, created_at) when an execution with no Job counts as lost
   * (keep it well above JOB_ACTIVE_DEADLINE plus the queue's backlog time).
   */
  readonly lostAfterSeconds: number;
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

export interface ReconcileFix {
  readonly executionId: string;
  /** DeadlineExceeded, BackoffLimitExceeded, ImagePullBackOff, ErrImagePull, JobDeleted, RunnerLost, ... */
  readonly reason: string;
  readonly error: string;
}

export interface Reconciler {
  /** One pass; resolves the executions it marked `error`. Throws when the database or the API fails. */
  reconcileOnce(): Promise<ReconcileFix[]>;
}

const executionIdOf = (object: V1Job | V1Pod): string | undefined =>
  object.metadata?.labels?.[LABELS.executionId];

function stuckContainer(pods: readonly V1Pod[]): { reason: string; message: string } | null {
  for (const pod of pods) {
    for (const status of [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ]) {
      const waiting = status.state?.waiting;
      if (waiting?.reason && (STUCK_WAITING_REASONS as readonly string[]).includes(waiting.reason)) {
        return { reason: waiting.reason, message: waiting.message ?? "" };
      }
    }
  }
  return null;
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const { db, kube, metrics, logger, options } = deps;
  const now = deps.now ?? Date.now;
  /** When each execution's pod was first seen stuck (our clock, so API server skew does not matter). */
  const stuckSince = new Map<string, number>();

  const fix = async (executionId: string, reason: string, error: string): Promise<ReconcileFix | null> => {
    const changed = await failExecution(db, executionId, error);
    if (!changed) return null;
    metrics.reconcilerFixes.inc({ reason });
    logger.warn({ executionId, reason, err: error }, "reconciler marked execution error");
    return { executionId, reason, error };
  };

  return {
    async reconcileOnce() {
      const executions = await listUnfinishedExecutions(db, { lostAfterSeconds: options.lostAfterSeconds });
      if (executions.length === 0) {
        stuckSince.clear();
        return [];
      }
      const jobs = new Map<string, V1Job>();
      for (const job of await listJobs(kube, runnerSelector())) {
        const id = executionIdOf(job);
        if (id) jobs.set(id, job);
      }
      const podsByExecution = new Map<string, V1Pod[]>();
      for (const pod of await listPods(kube, runnerSelector())) {
        const id = executionIdOf(pod);
        if (id) podsByExecution.set(id, [...(podsByExecution.get(id) ?? []), pod]);
      }

      const fixes: ReconcileFix[] = [];
      const seenStuck = new Set<string>();
      for (const execution of executions) {
        const job = jobs.get(execution.id);
        let result: ReconcileFix | null = null;
        if (!job) {
          if (execution.jobName) {
            result = await fix(
              execution.id,
              "JobDeleted",
              `runner Job ${execution.jobName} was deleted before the run finished`,
            );
          } else if (execution.overdue) {
            result = await fix(
              execution.id,
              "RunnerLost",
              `runner lost: no runner Job for this execution after ${options.lostAfterSeconds}s`,
            );
          }
        } else {
          const name = job.metadata?.name ?? execution.jobName ?? execution.id;
          const finish = jobFinish(job);
          if (finish?.outcome === "failed") {
            const detail = finish.message ? `: ${finish.message}` : "";
            result = await fix(
              execution.id,
              finish.reason,
              `runner Job ${name} failed: ${finish.reason}${detail}`,
            );
          } else if (finish?.outcome === "succeeded") {
            // The runner records its result before it exits 0; a finished Job with an unfinished run lost it.
            if (execution.overdue) {
              result = await fix(
                execution.id,
                "RunnerLost",
                `runner lost: Job ${name} finished without recording a result`,
              );
            }
          } else {
            const stuck = stuckContainer(podsByExecution.get(execution.id) ?? []);
            if (stuck) {
              seenStuck.add(execution.id);
              const since = stuckSince.get(execution.id) ?? now();
              stuckSince.set(execution.id, since);
              if (now() - since >= options.stuckPullLimitMs) {
                const detail = stuck.message ? `: ${stuck.message}` : "";
                result = await fix(
                  execution.id,
                  stuck.reason,
                  `runner pod of Job ${name} stuck in ${stuck.reason} for ${Math.round((now() - since) / 1000)}s${detail}`,
                );
                // The pod would keep pulling: remove the Job so it stops holding a runner slot.
                await deleteJob(kube, name).catch((error) =>
                  logger.warn(
                    { executionId: execution.id, jobName: name, err: errorMessage(error) },
                    "could not delete stuck Job",
                  ),
                );
              }
            }
          }
        }
        if (result) fixes.push(result);
      }
      for (const id of stuckSince.keys()) if (!seenStuck.has(id)) stuckSince.delete(id);
      return fixes;
    },
  };
}

/** Runs reconcileOnce at once and then every intervalMs until stop(); a failed pass is logged and retried next time. */
export function startReconcileLoop(
  reconciler: Reconciler,
  options: { intervalMs: number; logger: Logger },
): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await reconciler.reconcileOnce();
      } catch (error) {
        options.logger.warn({ err: errorMessage(error) }, "reconcile pass failed; retrying next interval");
      }
      await delay(options.intervalMs, undefined, { signal: stopping.signal }).catch(() => {});
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
