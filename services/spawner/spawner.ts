import type { Message } from "@aws-sdk/client-sqs";
import { buildJobTemplate, JobTemplateError, runnerSelector } from "../contracts/job-template.js";
import { parseWorkflowMessage, type WorkflowMessage } from "../contracts/message.js";
import { isTerminal, jobNameFor } from "../contracts/names.js";
import type { KubernetesConfig } from "../core/config.js";
import { errorMessage } from "../core/errors.js";
import { failExecution, getExecution, insertExecution } from "../db/executions.js";
import type { Pool } from "../db/pool.js";
import { adoptExecution } from "../executor/handler.js";
import type { HandleContext, HandleOutcome } from "../queue/consumer-types.js";
import { recordJobName } from "./executions.js";
import { classifyKubeError, createJob, isActiveJob, type KubeApi, listJobs } from "./kube.js";
import type { SpawnerMetrics } from "./metrics.js";

/**
 * The unit of work of the spawner: one queue message -> one runner Job. The consumer loop (queue/consumer.ts)
 * fetches and calls `handle`; `capacity` is its back-pressure hook.
 */

export interface JobSpawnerDeps {
  readonly db: Pool;
  readonly kube: KubeApi;
  readonly config: Pick<
    KubernetesConfig,
    "namespace" | "runnerImage" | "jobTtlSeconds" | "jobActiveDeadlineSeconds" | "maxConcurrentJobs"
  >;
  readonly metrics: SpawnerMetrics;
  /**
   * How long the active-Job count may be reused before capacity() lists the Jobs again, ms. At the cap it
   * lists on every call. Default 2000.
   */
  readonly activeRefreshMs?: number;
}

export interface JobSpawner {
  /** The consumer's MessageHandler. */
  handle(message: Message, context: HandleContext): Promise<HandleOutcome>;
  /** The consumer's capacity hook: how many messages may be received now, 0 at MAX_CONCURRENT_JOBS. */
  capacity(freeSlots: number): Promise<number>;
  /** Messages being handled right now. */
  inFlight(): number;
}

// Postgres integrity errors (class 23: e.g. the workflow does not exist, a CHECK fails) and bad input
// (class 22) mean the message can never be recorded; retrying cannot help. Conflicts never reach here.
const isPermanentDbError = (error: unknown): boolean =>
  /^2[23]/.test((error as { code?: string }).code ?? "");

export function createJobSpawner(deps: JobSpawnerDeps): JobSpawner {
  const { db, kube, config, metrics } = deps;
  const activeRefreshMs = deps.activeRefreshMs ?? 2000;
  let inFlight = 0;
  /** Jobs this spawner created (or found existing) since it started. */
  let created = 0;
  /** The last count of active runner Jobs, and the value of `created` when that list began. */
  let active = { listed: 0, createdAtList: 0, listedAt: Number.NEGATIVE_INFINITY };

  /** The execution this message is about: the one it names, or one created for it (idempotently). */
  const resolveExecution = async (message: WorkflowMessage, messageId: string): Promise<string> => {
    // An older dispatcher sends no id: adopt the execution as the executor does, keyed by the schedule slot
    // or the SQS message id, so a redelivery finds the same row.
    if (!message.executionId) return adoptExecution(db, message, messageId);
    // Normally the row exists (the dispatcher writes it first); if not, record it from the message.
    const scheduleId = message.scheduleId ?? null;
    const { id } = await insertExecution(db, {
      id: message.executionId,
      workflowId: message.workflowId,
      triggerType: message.triggerType,
      input: message.input ?? {},
      scheduleId,
      scheduledFor: scheduleId || message.triggerType === "schedule" ? new Date(message.triggerTime) : null,
    });
    return id;
  };

  const handleOne = async (message: Message, context: HandleContext): Promise<HandleOutcome> => {
    const messageId = message.MessageId ?? "(none)";
    let log = context.logger;
    metrics.messagesReceived.inc();

    let parsed: WorkflowMessage;
    try {
      parsed = parseWorkflowMessage(message.Body ?? "");
    } catch (error) {
      log.error({ err: errorMessage(error) }, "malformed message; dead-lettering it");
      return "dead-letter";
    }

    let executionId: string;
    try {
      executionId = await resolveExecution(parsed, messageId);
    } catch (error) {
      if (isPermanentDbError(error)) {
        log.error(
          { workflowId: parsed.workflowId, err: errorMessage(error) },
          "message cannot be recorded (e.g. its workflow does not exist); dead-lettering it",
        );
        return "dead-letter";
      }
      log.warn({ err: errorMessage(error) }, "could not record the execution; will retry");
      return "retry";
    }
    log = log.child({ executionId });

    const execution = await getExecution(db, executionId);
    if (!execution) {
      log.warn("execution row vanished; will retry");
      return "retry";
    }
    if (isTerminal(execution.status)) {
      log.info({ status: execution.status }, "execution already finished; no Job");
      return "done";
    }

    const jobName = jobNameFor(executionId);
    let job: ReturnType<typeof buildJobTemplate>;
    try {
      job = buildJobTemplate({
        executionId,
        workflowId: execution.workflow_id,
        scheduleId: execution.schedule_id,
        config,
      });
    } catch (error) {
      if (!(error instanceof JobTemplateError)) throw error;
      metrics.createErrors.inc({ reason: "InvalidTemplate" });
      await failExecution(db, executionId, `cannot build the runner Job: ${error.message}`);
      log.error({ err: error.message }, "cannot build the runner Job; execution marked error");
      return "done";
    }

    try {
      const result = await createJob(kube, job);
      if (result === "created") {
        metrics.jobsCreated.inc();
        log.info({ jobName }, "runner Job created");
      } else {
        // A redelivery, or a crash after the create and before the delete: the Job is already there.
        log.info({ jobName }, "runner Job already exists; treating as created");
      }
    } catch (error) {
      const info = classifyKubeError(error);
      metrics.createErrors.inc({ reason: info.reason });
      if (info.kind === "permanent") {
        const reason = `Kubernetes refused the runner Job ${jobName}: ${info.reason}: ${info.message}`;
        await failExecution(db, executionId, reason);
        log.error(
          { jobName, status: info.status, reason: info.reason, err: info.message },
          "Job create refused; execution marked error",
        );
        return "done";
      }
      log.warn(
        {
          jobName,
          status: info.status,
          reason: info.reason,
          err: info.message,
          receiveCount: context.receiveCount,
        },
        "Job create failed; message left for redelivery",
      );
      return "retry";
    }
    created++;
    await recordJobName(db, executionId, jobName);
    return "done";
  };

  return {
    async handle(message, context) {
      inFlight++;
      try {
        return await handleOne(message, context);
      } finally {
        inFlight--;
      }
    },
    async capacity(freeSlots) {
      const estimate = () => active.listed + (created - active.createdAtList) + inFlight;
      // Listing every Job on each receive would cost a large request per message: trust the last count
      // plus our own creates for a while, and list again when it is stale or says we are at the cap.
      if (performance.now() - active.listedAt >= activeRefreshMs || estimate() >= config.maxConcurrentJobs) {
        const createdBefore = created;
        const listed = (await listJobs(kube, runnerSelector())).filter(isActiveJob).length;
        // A create that finished during the list may be counted twice: an over-count, never an overshoot.
        active = { listed, createdAtList: createdBefore, listedAt: performance.now() };
        metrics.activeJobs.set(listed);
      }
      // Creates in flight may not be in the list yet: count them too, so the cap is never overshot.
      return Math.max(0, Math.min(freeSlots, config.maxConcurrentJobs - estimate()));
    },
    inFlight: () => inFlight,
  };
}
