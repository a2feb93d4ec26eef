import { setMaxListeners } from "node:events";
import { coerceError } from "../core/errors.js";
import { actionRegistry } from "./actions/index.js";
import type { ActionRegistry } from "./actions/registry.js";
import {
  actionTypeOf,
  buildGraph,
  describeNode,
  isEnabled,
  isTrigger,
  type WorkflowDefinition,
  type WorkflowNode,
} from "./definition.js";
import { abortMessage, executeStep, RunAbortedError, type StepOutcome } from "./step.js";
import { resolveTemplates, type TemplateScope } from "./templates.js";

/**
 * The scheduler: walks a validated workflow from its trigger and decides which node runs when;
 * executeStep (step.ts) runs one node. Recording is not done here: the caller gets onStepStart and
 * onStepEnd events, so the engine runs (and is tested) without a database.
 *
 * Semantics:
 * - The trigger's output is `{triggeredAt, ...input}`.
 * - A node starts when all its parents have finished (join); nodes whose parents are done start at
 *   once, so independent branches run concurrently.
 * - A failed node (error or step timeout) stops its descendants: they are reported `skipped` with the
 *   reason; other branches go on. The run is `error` when any step failed.
 * - A Condition whose result is falsy skips its subtree (every descendant, even one that has another
 *   parent), reported `skipped`.
 * - A disabled node (`data.enabled: false`) does not run and is reported `skipped` ("disabled: passed
 *   through"); its children run. Its output is empty (null), as in KeeperHub: a template reading it
 *   gives null, or "" inside a string, rather than failing the step. A trigger always runs.
 * - The step timeout ends one step (an error); the run timeout and the external signal abort every
 *   step in flight (reported `cancelled`), start nothing new, and end the run `error` (timeout) or
 *   `cancelled` (signal). Nodes that never started are not reported.
 */

export type StepEndStatus = "success" | "error" | "skipped" | "cancelled";

export interface StepInfo {
  readonly nodeId: string;
  readonly label: string;
  /** The action type (`HTTP Request`), or `trigger` for the trigger. */
  readonly nodeType: string;
}

export interface StepStartEvent extends StepInfo {
  /**
   * What the step runs with: the resolved config (actions; secrets masked by the action's `redact`) or
   * the run input (trigger).
   */
  readonly input: unknown;
  readonly startedAt: Date;
}

export interface StepEndEvent extends StepInfo {
  readonly status: StepEndStatus;
  /** Set when the step started (not for skipped nodes). */
  readonly input?: unknown;
  readonly output?: unknown;
  /** The failure, or for a skipped node the reason it did not run. */
  readonly error?: string;
  /** False for skipped nodes: no onStepStart was sent for them. */
  readonly started: boolean;
  readonly startedAt: Date;
  readonly completedAt: Date;
  readonly durationMs: number;
}

export interface RunWorkflowOptions {
  /** The run input; the trigger outputs `{triggeredAt, ...input}`. */
  readonly input?: Record<string, unknown>;
  /** Default: now. */
  readonly triggeredAt?: Date;
  /** Default: the process-wide registry (built-ins and plugins). */
  readonly registry?: ActionRegistry;
  /** External cancellation (e.g. SIGTERM): the run ends `cancelled` with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Per-step timeout, milliseconds; 0 or unset for none. */
  readonly stepTimeoutMs?: number;
  /** Whole-run timeout, milliseconds; 0 or unset for none. */
  readonly runTimeoutMs?: number;
  /** Awaited before the step's action runs. A throw aborts the run and runWorkflow rejects. */
  readonly onStepStart?: (event: StepStartEvent) => void | Promise<void>;
  /** Awaited before the step's children are considered. A throw aborts the run and runWorkflow rejects. */
  readonly onStepEnd?: (event: StepEndEvent) => void | Promise<void>;
}

export interface WorkflowRunResult {
  readonly status: "success" | "error" | "cancelled";
  /** One line: the first failure (or the abort reason); undefined on success. */
  readonly error?: string;
  /** Outputs of the leaf nodes that succeeded, by node id. */
  readonly output: Record<string, unknown>;
  /** Every reported step, in the order they ended. */
  readonly steps: readonly StepEndEvent[];
}

type NodeState = StepEndStatus | "waiting" | "running";

/** Runs a workflow to the end. Rejects only when a callback fails (recording broke); step failures resolve. */
export async function runWorkflow(
  definition: WorkflowDefinition,
  options: RunWorkflowOptions = {},
): Promise<WorkflowRunResult> {
  const registry = options.registry ?? actionRegistry;
  // Not strict: a bad config is that node's step error (other branches still run); unreachable nodes never run.
  const graph = buildGraph(definition, registry, { strict: false });
  const state = new Map<string, NodeState>([...graph.nodes.keys()].map((id) => [id, "waiting"]));
  const outputs = new Map<string, unknown>();
  /** Nodes whose children must not run, with the reason given to them. */
  const stops = new Map<string, { kind: "failed" | "skip"; reason: string }>();
  const steps: StepEndEvent[] = [];
  const failures: string[] = [];
  const scope: TemplateScope = {
    outputs,
    labelOf: (id) => graph.nodes.get(id)?.data.label,
  };

  const run = new AbortController();
  // Every step in flight listens on the run's signal; many parallel branches are normal, not a leak.
  setMaxListeners(0, run.signal);
  let callbackError: Error | undefined;
  const onExternalAbort = () =>
    run.abort(new RunAbortedError("cancelled", `cancelled: ${abortMessage(options.signal as AbortSignal)}`));
  if (options.signal?.aborted) onExternalAbort();
  else options.signal?.addEventListener("abort", onExternalAbort, { once: true });
  const runTimer =
    options.runTimeoutMs && options.runTimeoutMs > 0
      ? setTimeout(
          () => run.abort(new RunAbortedError("timeout", `run timed out after ${options.runTimeoutMs}ms`)),
          options.runTimeoutMs,
        )
      : undefined;

  const inFlight = new Set<Promise<void>>();
  const spawn = (task: () => Promise<void>) => {
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        // Only callbacks throw here: recording broke, so stop the run and report it to the caller.
        callbackError ??= coerceError(error);
        if (!run.signal.aborted)
          run.abort(new RunAbortedError("cancelled", `recording failed: ${callbackError.message}`));
      })
      .finally(() => inFlight.delete(promise));
    inFlight.add(promise);
  };

  const info = (node: WorkflowNode): StepInfo => ({
    nodeId: node.id,
    label: node.data.label,
    nodeType: isTrigger(node) ? "trigger" : actionTypeOf(node),
  });

  const end = async (node: WorkflowNode, event: StepEndEvent) => {
    state.set(node.id, event.status);
    steps.push(event);
    await options.onStepEnd?.(event);
    for (const child of graph.children.get(node.id) ?? []) {
      const parents = graph.parents.get(child) ?? [];
      if (parents.every((parent) => !["waiting", "running"].includes(state.get(parent) as string))) {
        const childNode = graph.nodes.get(child) as WorkflowNode;
        spawn(() => visit(childNode));
      }
    }
  };

  const skip = async (node: WorkflowNode, reason: string, kind: "failed" | "skip") => {
    const now = new Date();
    stops.set(node.id, { kind, reason });
    await end(node, {
      ...info(node),
      status: "skipped",
      error: reason,
      started: false,
      startedAt: now,
      completedAt: now,
      durationMs: 0,
    });
  };

  /** Decides what happens to a node whose parents have all finished, and does it. */
  const visit = async (node: WorkflowNode): Promise<void> => {
    if (state.get(node.id) !== "waiting") return;
    if (run.signal.aborted) return; // Nothing new starts once the run is aborted.
    state.set(node.id, "running");
    const parentStops = (graph.parents.get(node.id) ?? []).flatMap((parent) => {
      const stop = stops.get(parent);
      return stop ? [stop] : [];
    });
    const failed = parentStops.find((stop) => stop.kind === "failed");
    if (failed) return skip(node, failed.reason, "failed");
    if (parentStops[0]) return skip(node, parentStops[0].reason, "skip");
    if (!isTrigger(node) && !isEnabled(node)) {
      outputs.set(node.id, null);
      const now = new Date();
      return end(node, {
        ...info(node),
        status: "skipped",
        error: "disabled: passed through",
        started: false,
        startedAt: now,
        completedAt: now,
        durationMs: 0,
      });
    }
    return execute(node);
  };

  const execute = async (node: WorkflowNode): Promise<void> => {
    const startedAt = new Date();
    let input: unknown;
    let outcome: StepOutcome | undefined;
    let action: ReturnType<ActionRegistry["get"]> | undefined;
    const type = actionTypeOf(node);
    if (isTrigger(node)) {
      input = options.input ?? {};
    } else {
      try {
        if (!type) throw new Error("config.actionType is missing");
        action = registry.get(type);
        input = resolveTemplates(node.data.config, scope, action.rawFields);
      } catch (error) {
        input = node.data.config;
        action = undefined;
        outcome = { status: "error", error: coerceError(error).message };
      }
    }
    // What is reported (and recorded): the config with the action's secrets masked.
    const redact = !isTrigger(node) && registry.has(type) ? registry.get(type).redact : undefined;
    const shown = redact ? redact(input as Record<string, unknown>) : input;
    await options.onStepStart?.({ ...info(node), input: shown, startedAt });
    if (isTrigger(node)) {
      outcome = run.signal.aborted
        ? { status: "cancelled", error: abortMessage(run.signal) }
        : {
            status: "success",
            output: { triggeredAt: (options.triggeredAt ?? startedAt).toISOString(), ...options.input },
          };
    } else if (action) {
      outcome = await executeStep(action, input as Record<string, unknown>, {
        runSignal: run.signal,
        timeoutMs: options.stepTimeoutMs,
        nodeId: node.id,
        label: node.data.label,
        scope,
      });
    }
    const result = outcome as StepOutcome;
    const completedAt = new Date();
    if (result.status === "success") {
      outputs.set(node.id, result.output);
      if (actionTypeOf(node) === "Condition" && !isTruthyResult(result.output)) {
        stops.set(node.id, { kind: "skip", reason: `condition of ${describeNode(node)} was false` });
      }
    } else {
      stops.set(node.id, { kind: "failed", reason: `upstream ${describeNode(node)} did not succeed` });
      if (result.status === "error") failures.push(`${describeNode(node)}: ${result.error}`);
    }
    await end(node, {
      ...info(node),
      status: result.status,
      input: shown,
      output: "output" in result ? result.output : undefined,
      error: "error" in result ? result.error : undefined,
      started: true,
      startedAt,
      completedAt,
      durationMs: Math.max(0, completedAt.getTime() - startedAt.getTime()),
    });
  };

  try {
    spawn(() => visit(graph.trigger));
    while (inFlight.size > 0) await Promise.race(inFlight);
  } finally {
    clearTimeout(runTimer);
    options.signal?.removeEventListener("abort", onExternalAbort);
  }
  if (callbackError) throw callbackError;

  const output: Record<string, unknown> = {};
  for (const [id, children] of graph.children) {
    if (children.length === 0 && state.get(id) === "success") output[id] = outputs.get(id);
  }
  if (run.signal.aborted) {
    const reason = run.signal.reason as RunAbortedError;
    return {
      status: reason.kind === "timeout" ? "error" : "cancelled",
      error: failures.length > 0 ? `${reason.message}; ${summarise(failures)}` : reason.message,
      output,
      steps,
    };
  }
  if (failures.length > 0) return { status: "error", error: summarise(failures), output, steps };
  return { status: "success", output, steps };
}

function summarise(failures: readonly string[]): string {
  const more = failures.length - 1;
  return `${failures[0]}${more > 0 ? ` (and ${more} more failed step${more > 1 ? "s" : ""})` : ""}`;
}

function isTruthyResult(output: unknown): boolean {
  return Boolean((output as { result?: unknown } | null)?.result);
}
