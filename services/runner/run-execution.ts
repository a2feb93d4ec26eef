import type { ExecutionStatus } from "../contracts/names.js";
import { RUNNER_SETTINGS } from "../contracts/settings.js";
import { coerceError } from "../core/errors.js";
import { type Logger, silentLogger } from "../core/logger.js";
import { recordStepEnd, recordStepStart } from "../db/execution-logs.js";
import {
  claimExecution,
  createExecution,
  type ExecutionRow,
  finishExecution,
  getExecution,
} from "../db/executions.js";
import { isLargeValue } from "../db/json.js";
import { type Pool, withTransaction } from "../db/pool.js";
import { recordScheduleOutcome } from "../db/schedules.js";
import { getWorkflow } from "../db/workflows.js";
import type { ActionRegistry } from "../workflow/actions/registry.js";
import { buildGraph, validateWorkflow, type WorkflowDefinition } from "../workflow/definition.js";
import { runWorkflow, type StepInfo, type WorkflowRunResult } from "../workflow/engine.js";

/**
 * Runs one execution and records it: claim (pending -> running), run the engine with every step
 * written to workflow_execution_logs, then finish (success | error | cancelled) together with the
 * schedule's last_* fields. The runner behind `khctl run`, the executor and `khctl run --workflow`.
 */

/** Default per-step timeout (contracts/settings.ts). */
export const DEFAULT_STEP_TIMEOUT_MS = RUNNER_SETTINGS.stepTimeoutSeconds.default * 1000;
/** Default whole-run timeout (contracts/settings.ts): the runner Job's activeDeadlineSeconds default. */
export const DEFAULT_RUN_TIMEOUT_MS = RUNNER_SETTINGS.runTimeoutSeconds.default * 1000;

export interface RunExecutionOptions {
  /** Cancels the run (e.g. on SIGTERM); the reason (`"SIGTERM"`) is recorded with the `cancelled` status. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Per-step timeout in milliseconds; 0 for none. Default DEFAULT_STEP_TIMEOUT_MS (60 s). */
  readonly stepTimeoutMs?: number;
  /** Whole-run timeout in milliseconds; 0 for none. Default DEFAULT_RUN_TIMEOUT_MS (300 s). */
  readonly runTimeoutMs?: number;
  /** Where action types come from. Default: the process-wide registry (built-ins and plugins). */
  readonly registry?: ActionRegistry;
}

export type RunExecutionResult =
  /** This call claimed and ran the execution; `status` is how it ended. */
  | {
      readonly outcome: "ran";
      readonly executionId: string;
      readonly status: "success" | "error" | "cancelled";
      readonly error?: string;
    }
  /**
   * Nothing was run: the execution is not pending (another runner has it or it is finished), does not
   * exist (`missing`), or the signal was already aborted (it stays `pending`).
   */
  | {
      readonly outcome: "not-claimed";
      readonly executionId: string;
      readonly status: ExecutionStatus | "missing";
    };

/** Loads and checks the execution's workflow; `problem` says why it cannot run. */
async function loadDefinition(
  pool: Pool,
  workflowId: string,
  registry: ActionRegistry | undefined,
): Promise<{ definition?: WorkflowDefinition; stepCount: number; problem?: string }> {
  const row = await getWorkflow(pool, workflowId);
  if (!row) return { stepCount: 0, problem: `workflow ${workflowId} does not exist` };
  const nodeCount = Array.isArray(row.nodes) ? row.nodes.length : 0;
  try {
    // Not strict: an unknown action type or bad field is a step error when that node runs, not a reason
    // to run nothing; nodes not reachable from the trigger are ignored.
    const definition = validateWorkflow(
      { name: row.name, description: row.description, nodes: row.nodes, edges: row.edges },
      { registry, strict: false },
    );
    return { definition, stepCount: buildGraph(definition, registry, { strict: false }).reachable.size };
  } catch (error) {
    return {
      stepCount: nodeCount,
      problem: `workflow ${workflowId} is invalid: ${coerceError(error).message}`,
    };
  }
}

export async function runExecution(
  pool: Pool,
  executionId: string,
  options: RunExecutionOptions = {},
): Promise<RunExecutionResult> {
  const logger = (options.logger ?? silentLogger).child({ executionId });
  const existing = await getExecution(pool, executionId);
  const notRunnable = whyNotRunnable(existing, executionId, options, logger);
  if (notRunnable || !existing)
    return notRunnable ?? { outcome: "not-claimed", executionId, status: "missing" };

  const loaded = await loadDefinition(pool, existing.workflow_id, options.registry);
  const claimed = await claimExecution(pool, executionId, loaded.stepCount);
  if (!claimed) {
    const now = await getExecution(pool, executionId);
    logger.info({ status: now?.status }, "another runner claimed the execution first; nothing to run");
    return { outcome: "not-claimed", executionId, status: now?.status ?? "missing" };
  }
  logger.info({ workflowId: claimed.workflow_id }, "execution claimed");

  if (!loaded.definition) {
    const error = loaded.problem ?? "workflow cannot run";
    await finish(pool, claimed, { status: "error", error, output: {}, steps: [] });
    logger.error({ error }, "execution failed before its first step");
    return { outcome: "ran", executionId, status: "error", error };
  }
  const result = await runRecorded(pool, claimed, loaded.definition, options, logger);
  await finish(pool, claimed, result);
  logger.info({ status: result.status, error: result.error }, "execution finished");
  return {
    outcome: "ran",
    executionId,
    status: result.status,
    ...(result.error ? { error: result.error } : {}),
  };
}

/** Why this call runs nothing: the execution is missing, not pending, or the run was cancelled already. */
function whyNotRunnable(
  existing: ExecutionRow | null,
  executionId: string,
  options: RunExecutionOptions,
  logger: Logger,
): RunExecutionResult | null {
  if (!existing) {
    logger.warn("execution does not exist; nothing to run");
    return { outcome: "not-claimed", executionId, status: "missing" };
  }
  if (existing.status !== "pending") {
    logger.info(
      { status: existing.status },
      "execution is not pending (already claimed or finished); nothing to run",
    );
    return { outcome: "not-claimed", executionId, status: existing.status };
  }
  if (options.signal?.aborted) {
    logger.info("cancelled before the run started; the execution stays pending");
    return { outcome: "not-claimed", executionId, status: "pending" };
  }
  return null;
}

/**
 * Runs the engine with every step written to the step log as it starts and ends. When recording a step
 * fails, the failure is recorded if it can be, and the call throws: recording broke.
 */
async function runRecorded(
  pool: Pool,
  claimed: ExecutionRow,
  definition: WorkflowDefinition,
  options: RunExecutionOptions,
  logger: Logger,
): Promise<WorkflowRunResult> {
  const executionId = claimed.id;
  try {
    return await runWorkflow(definition, {
      input: claimed.input ?? {},
      triggeredAt: claimed.scheduled_for ?? claimed.started_at ?? new Date(),
      registry: options.registry,
      signal: options.signal,
      stepTimeoutMs: options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
      runTimeoutMs: options.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
      onStepStart: async (step) => {
        logger.debug({ nodeId: step.nodeId, nodeType: step.nodeType }, "step started");
        const opened = await recordStepStart(pool, {
          executionId,
          ...stepIdentity(step),
          input: step.input,
          startedAt: step.startedAt,
        });
        // Another process recorded the run's end (it judged this runner lost): stop, start nothing more.
        if (!opened) throw new Error("the execution is no longer running: its end was recorded elsewhere");
      },
      onStepEnd: async (step) => {
        logger.debug({ nodeId: step.nodeId, status: step.status, error: step.error }, "step ended");
        await recordStepEnd(pool, {
          executionId,
          ...stepIdentity(step),
          input: step.input,
          startedAt: step.startedAt,
          status: step.status,
          output: step.output,
          error: step.error,
          completedAt: step.completedAt,
          durationMs: step.durationMs,
        });
      },
    });
  } catch (thrown) {
    const error = `recording failed: ${coerceError(thrown).message}`;
    await finish(pool, claimed, { status: "error", error, output: {}, steps: [] }).catch((finishError) =>
      logger.error({ error: coerceError(finishError).message }, "could not record the failure"),
    );
    throw new Error(`execution ${executionId}: ${error}`, { cause: thrown });
  }
}

const stepIdentity = (step: StepInfo) => ({
  nodeId: step.nodeId,
  nodeName: step.label,
  nodeType: step.nodeType,
});

/** Finishes the execution and, for a scheduled one, updates its schedule, in one transaction. */
async function finish(pool: Pool, execution: ExecutionRow, result: WorkflowRunResult): Promise<void> {
  await withTransaction(pool, async (client) => {
    const finished = await finishExecution(client, execution.id, {
      status: result.status,
      output: leafOutputs(result.output),
      error: result.error ?? null,
    });
    if (!finished) throw new Error(`execution ${execution.id} was no longer running when it finished`);
    if (execution.schedule_id) {
      await recordScheduleOutcome(client, execution.schedule_id, {
        status: result.status,
        error: result.error ?? null,
        ranAt: finished.started_at ?? new Date(),
      });
    }
  });
}

/**
 * The run's output as stored: each leaf step's output, except that one too large to store whole is not
 * stored a second time (its step log row keeps a preview and its size): a pointer to that step instead.
 */
function leafOutputs(output: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(output).map(([nodeId, value]) => [
      nodeId,
      isLargeValue(value) ? { truncated: true, seeStep: nodeId } : value,
    ]),
  );
}

export interface RunWorkflowNowOptions extends RunExecutionOptions {
  /** The run input (the trigger outputs `{triggeredAt, ...input}`). Default `{}`. */
  readonly input?: Record<string, unknown>;
}

/**
 * Creates a manual execution of a workflow and runs it in this process (`khctl run --workflow`).
 * Throws when the workflow does not exist.
 */
export async function runWorkflowNow(
  pool: Pool,
  workflowId: string,
  options: RunWorkflowNowOptions = {},
): Promise<RunExecutionResult> {
  if (!(await getWorkflow(pool, workflowId))) throw new Error(`workflow ${workflowId} does not exist`);
  const executionId = await createExecution(pool, {
    workflowId,
    triggerType: "manual",
    input: options.input ?? {},
    enqueued: true,
  });
  return runExecution(pool, executionId, options);
}
