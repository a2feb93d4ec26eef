import { setMaxListeners } from "node:events";
import { coerceError } from "../core/errors.js";
import { actionRegistry } from "./actions/index.js";
import type { ActionDefinition, ActionRegistry } from "./actions/registry.js";
import {
  actionTypeOf,
  buildGraph,
  describeNode,
  isTrigger,
  type WorkflowDefinition,
  type WorkflowGraph,
  type WorkflowNode,
} from "./definition.js";
import { dispositionOf, type NodeState, readyChildren, type StepEndStatus, type Stop } from "./readiness.js";
import { maskSecrets, maskText } from "./secrets.js";
import { shownConfig } from "./shown.js";
import {
  abortMessage,
  boundedOutcome,
  executeStep,
  nestingFailure,
  RunAbortedError,
  type StepOutcome,
} from "./step.js";
import { resolveTemplates, type TemplateScope } from "./templates.js";

/**
 * The engine: walks a validated workflow from its trigger; readiness.ts decides which node is ready and
 * what it does, executeStep (step.ts) runs one node. Recording is not done here: the caller gets onStepStart and
 * onStepEnd events, so the engine runs (and is tested) without a database.
 *
 * Semantics:
 * - The trigger's output is `{triggeredAt, ...input}`.
 * - A node starts when all its parents have finished (join); nodes whose parents are done start at
 *   once, so independent branches run concurrently.
 * - A failed node (error or step timeout) stops its descendants: they are reported `skipped` with the
 *   reason; other branches go on. The run is `error` when any step failed.
 * - An action may close a gate on its descendants (ActionDefinition.gate): a Condition whose result is
 *   falsy skips its subtree (every descendant, even one that has another parent), reported `skipped`.
 * - A disabled node (`data.enabled: false`) does not run and is reported `skipped` ("disabled: passed
 *   through"); its children run. Its output is empty (null), as in KeeperHub: a template reading it
 *   gives null, or "" inside a string, rather than failing the step. A trigger always runs.
 * - What is reported for recording (step inputs, outputs and errors, the run's output and error) has its
 *   secrets masked (secrets.ts); templates of later steps read the real values.
 * - A step's output nested deeper than MAX_VALUE_DEPTH (64, values.ts) fails the step without it, and a run
 *   input that deep fails the trigger: nothing later (the step log's JSON, templates) walks such a value.
 * - The step timeout ends one step (an error); the run timeout and the external signal abort every
 *   step in flight (reported `cancelled`), start nothing new, and end the run `error` (timeout) or
 *   `cancelled` (signal). Nodes that never started are not reported.
 */

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

/** Runs a workflow to the end. Rejects only when a callback fails (recording broke); step failures resolve. */
export async function runWorkflow(
  definition: WorkflowDefinition,
  options: RunWorkflowOptions = {},
): Promise<WorkflowRunResult> {
  return new WorkflowRun(definition, options).run();
}

/** One run of a workflow: the state of its nodes, and the steps that move it on. */
class WorkflowRun {
  private readonly registry: ActionRegistry;
  private readonly graph: WorkflowGraph;
  private readonly state: Map<string, NodeState>;
  private readonly outputs = new Map<string, unknown>();
  /** Nodes whose descendants must not run, and why. */
  private readonly stops = new Map<string, Stop>();
  private readonly steps: StepEndEvent[] = [];
  private readonly failures: string[] = [];
  private readonly scope: TemplateScope;
  /** Aborted by the run timeout, the caller's signal, or a failed callback: every step in flight ends. */
  private readonly abort = new AbortController();
  private readonly tasks = new Set<Promise<void>>();
  private callbackError: Error | undefined;

  constructor(
    definition: WorkflowDefinition,
    private readonly options: RunWorkflowOptions,
  ) {
    this.registry = options.registry ?? actionRegistry;
    // Not strict: a bad config is that node's step error (other branches still run); unreachable nodes never run.
    this.graph = buildGraph(definition, this.registry, { strict: false });
    this.state = new Map([...this.graph.nodes.keys()].map((id) => [id, "waiting"]));
    this.scope = { outputs: this.outputs, labelOf: (id) => this.graph.nodes.get(id)?.data.label };
    // Every step in flight listens on the run's signal; many parallel branches are normal, not a leak.
    setMaxListeners(0, this.abort.signal);
  }

  async run(): Promise<WorkflowRunResult> {
    const { signal, runTimeoutMs } = this.options;
    const onExternalAbort = () =>
      this.stop(new RunAbortedError("cancelled", `cancelled: ${abortMessage(signal as AbortSignal)}`));
    if (signal?.aborted) onExternalAbort();
    else signal?.addEventListener("abort", onExternalAbort, { once: true });
    const timer =
      runTimeoutMs && runTimeoutMs > 0
        ? setTimeout(
            () => this.stop(new RunAbortedError("timeout", `run timed out after ${runTimeoutMs}ms`)),
            runTimeoutMs,
          )
        : undefined;
    try {
      this.spawn(() => this.visit(this.graph.trigger));
      while (this.tasks.size > 0) await Promise.race(this.tasks);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onExternalAbort);
    }
    if (this.callbackError) throw this.callbackError;
    return this.result();
  }

  private stop(reason: RunAbortedError): void {
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  private spawn(task: () => Promise<void>): void {
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        // Only callbacks throw here: recording broke, so stop the run and report it to the caller.
        this.callbackError ??= coerceError(error);
        this.stop(new RunAbortedError("cancelled", `recording failed: ${this.callbackError.message}`));
      })
      .finally(() => this.tasks.delete(promise));
    this.tasks.add(promise);
  }

  /** A node whose parents have all finished: skip it, pass it through, or run it. */
  private async visit(node: WorkflowNode): Promise<void> {
    // Nothing new starts once the run is aborted; nodes that never started are not reported.
    if (this.state.get(node.id) !== "waiting" || this.abort.signal.aborted) return;
    this.state.set(node.id, "running");
    const parentStops = (this.graph.parents.get(node.id) ?? []).flatMap((parent) => {
      const stop = this.stops.get(parent);
      return stop ? [stop] : [];
    });
    const disposition = dispositionOf(node, parentStops);
    if (disposition.kind === "skip") {
      this.stops.set(node.id, disposition.stop);
      return this.end(node, this.notStarted(node, disposition.stop.reason));
    }
    if (disposition.kind === "pass-through") {
      // Its output is empty (null), as in KeeperHub: a template reading it gives null, not a failure.
      this.outputs.set(node.id, null);
      return this.end(node, this.notStarted(node, "disabled: passed through"));
    }
    return this.execute(node);
  }

  private async execute(node: WorkflowNode): Promise<void> {
    const startedAt = new Date();
    const prepared = this.prepare(node);
    await this.options.onStepStart?.({ ...this.info(node), input: prepared.shown, startedAt });
    // Bounded before anything recursive (masking for the log is iterative; JSON serialisation is not).
    const outcome = boundedOutcome(prepared.failure ?? (await this.perform(node, prepared, startedAt)));
    const completedAt = new Date();
    this.settle(node, outcome, prepared.action);
    await this.end(node, {
      ...this.info(node),
      status: outcome.status,
      input: prepared.shown,
      output: "output" in outcome ? maskSecrets(outcome.output) : undefined,
      error: "error" in outcome ? maskText(outcome.error) : undefined,
      started: true,
      startedAt,
      completedAt,
      durationMs: Math.max(0, completedAt.getTime() - startedAt.getTime()),
    });
  }

  /** The step's input: the run input for the trigger; for an action, its config with templates resolved. */
  private prepare(node: WorkflowNode): {
    input: unknown;
    /** The input as reported and recorded: the action's secrets masked. */
    shown: unknown;
    action?: ActionDefinition;
    failure?: StepOutcome;
  } {
    if (isTrigger(node)) return this.prepareTrigger();
    const type = actionTypeOf(node);
    const known = this.registry.has(type) ? this.registry.get(type) : undefined;
    const shown = (input: unknown) => shownConfig(input, known);
    try {
      if (!type) throw new Error("config.actionType is missing");
      const action = this.registry.get(type);
      const input = resolveTemplates(node.data.config, this.scope, action.rawFields);
      return { input, shown: shown(input), action };
    } catch (error) {
      const input = node.data.config;
      return { input, shown: shown(input), failure: { status: "error", error: coerceError(error).message } };
    }
  }

  /** The trigger runs with the run input; one nested too deep (from a queue message, say) fails it. */
  private prepareTrigger(): { input: unknown; shown: unknown; failure?: StepOutcome } {
    const input = this.options.input ?? {};
    const problem = nestingFailure(input, "input");
    if (problem) return { input: {}, shown: null, failure: { status: "error", error: `run ${problem}` } };
    return { input, shown: maskSecrets(input) };
  }

  private async perform(
    node: WorkflowNode,
    prepared: { input: unknown; action?: ActionDefinition },
    startedAt: Date,
  ): Promise<StepOutcome> {
    const signal = this.abort.signal;
    if (!prepared.action) {
      if (signal.aborted) return { status: "cancelled", error: abortMessage(signal) };
      const triggeredAt = (this.options.triggeredAt ?? startedAt).toISOString();
      return { status: "success", output: { triggeredAt, ...this.options.input } };
    }
    return executeStep(prepared.action, prepared.input as Record<string, unknown>, {
      runSignal: signal,
      timeoutMs: this.options.stepTimeoutMs,
      nodeId: node.id,
      label: node.data.label,
      scope: this.scope,
    });
  }

  /** Records the step's result: its output, and whether its descendants run (a failure or a closed gate stops them). */
  private settle(node: WorkflowNode, outcome: StepOutcome, action: ActionDefinition | undefined): void {
    if (outcome.status === "success") {
      this.outputs.set(node.id, outcome.output);
      const closed = action?.gate?.(outcome.output, describeNode(node));
      if (closed) this.stops.set(node.id, { kind: "gate", reason: closed });
      return;
    }
    this.stops.set(node.id, { kind: "failed", reason: `upstream ${describeNode(node)} did not succeed` });
    if (outcome.status === "error") this.failures.push(`${describeNode(node)}: ${maskText(outcome.error)}`);
  }

  /** Reports the step, then starts the children it made ready. */
  private async end(node: WorkflowNode, event: StepEndEvent): Promise<void> {
    this.state.set(node.id, event.status);
    this.steps.push(event);
    await this.options.onStepEnd?.(event);
    for (const child of readyChildren(this.graph, this.state, node.id)) {
      const childNode = this.graph.nodes.get(child) as WorkflowNode;
      this.spawn(() => this.visit(childNode));
    }
  }

  private info(node: WorkflowNode): StepInfo {
    return {
      nodeId: node.id,
      label: node.data.label,
      nodeType: isTrigger(node) ? "trigger" : actionTypeOf(node),
    };
  }

  private notStarted(node: WorkflowNode, reason: string): StepEndEvent {
    const now = new Date();
    return {
      ...this.info(node),
      status: "skipped",
      error: reason,
      started: false,
      startedAt: now,
      completedAt: now,
      durationMs: 0,
    };
  }

  private result(): WorkflowRunResult {
    const { steps, failures } = this;
    const output: Record<string, unknown> = {};
    for (const [id, children] of this.graph.children) {
      if (children.length === 0 && this.state.get(id) === "success")
        output[id] = maskSecrets(this.outputs.get(id));
    }
    if (this.abort.signal.aborted) {
      const reason = this.abort.signal.reason as RunAbortedError;
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
}

function summarise(failures: readonly string[]): string {
  const more = failures.length - 1;
  return `${failures[0]}${more > 0 ? ` (and ${more} more failed step${more > 1 ? "s" : ""})` : ""}`;
}

export type { StepEndStatus };
