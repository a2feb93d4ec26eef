import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

/**
 * The spawner's Prometheus metrics, on their own registry (served at /metrics), so tests and two spawners
 * in one process never share counters.
 */
export interface SpawnerMetrics {
  readonly registry: Registry;
  /** Messages handed to the spawner by the consumer loop. */
  readonly messagesReceived: Counter;
  /** Jobs the API server accepted (AlreadyExists is not counted). */
  readonly jobsCreated: Counter;
  /** Failed Job creates, by the API's reason (Forbidden, Invalid, InternalError, Timeout, ...). */
  readonly createErrors: Counter<"reason">;
  /** Active runner Jobs at the last count (not finished, not being deleted). */
  readonly activeJobs: Gauge;
  /** Executions the reconciler marked `error`, by reason (DeadlineExceeded, ImagePullBackOff, JobDeleted, RunnerLost, ...). */
  readonly reconcilerFixes: Counter<"reason">;
}

export function createSpawnerMetrics(options: { defaultMetrics?: boolean } = {}): SpawnerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: "keeperhub_spawner_" });
  const registers = [registry];
  return {
    registry,
    messagesReceived: new Counter({
      name: "keeperhub_spawner_messages_received_total",
      help: "Queue messages received by the spawner",
      registers,
    }),
    jobsCreated: new Counter({
      name: "keeperhub_spawner_jobs_created_total",
      help: "Runner Jobs created",
      registers,
    }),
    createErrors: new Counter({
      name: "keeperhub_spawner_job_create_errors_total",
      help: "Runner Job creates that failed, by reason",
      labelNames: ["reason"],
      registers,
    }),
    activeJobs: new Gauge({
      name: "keeperhub_spawner_active_jobs",
      help: "Active runner Jobs at the last count",
      registers,
    }),
    reconcilerFixes: new Counter({
      name: "keeperhub_spawner_reconciler_fixes_total",
      help: "Executions the reconciler marked as error, by reason",
      labelNames: ["reason"],
      registers,
    }),
  };
}
