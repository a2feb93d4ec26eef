import { isEnabled, isTrigger, type WorkflowGraph, type WorkflowNode } from "./definition.js";

/**
 * Which nodes are ready, and what a ready node does: the engine's scheduling rules as pure functions of the
 * graph and the nodes' states, so they are tested without running anything (engine.ts runs them).
 */

/** How a step ended, as reported. */
export type StepEndStatus = "success" | "error" | "skipped" | "cancelled";

/** Where a node is in the run. */
export type NodeState = "waiting" | "running" | StepEndStatus;

/** Why a node's descendants do not run: it did not succeed, or its gate closed (a false Condition). */
export interface Stop {
  readonly kind: "failed" | "gate";
  /** Given to each descendant that is skipped because of it. */
  readonly reason: string;
}

/** What a node whose parents have all finished does. */
export type Disposition =
  /** A parent stopped its descendants: skipped with that parent's reason (a failure wins over a gate). */
  | { readonly kind: "skip"; readonly stop: Stop }
  /** Disabled (`data.enabled: false`): not run, reported skipped, its children run. A trigger always runs. */
  | { readonly kind: "pass-through" }
  | { readonly kind: "run" };

const isFinished = (state: NodeState | undefined): boolean => state !== "waiting" && state !== "running";

/**
 * The children of `finished` that are ready now: still waiting, with every parent finished (a join waits
 * for all its parents; independent branches become ready at once).
 */
export function readyChildren(
  graph: Pick<WorkflowGraph, "children" | "parents">,
  state: ReadonlyMap<string, NodeState>,
  finished: string,
): string[] {
  return (graph.children.get(finished) ?? []).filter(
    (child) =>
      state.get(child) === "waiting" &&
      (graph.parents.get(child) ?? []).every((p) => isFinished(state.get(p))),
  );
}

/** What a ready node does, given the stops its parents left. */
export function dispositionOf(node: WorkflowNode, parentStops: readonly Stop[]): Disposition {
  const stop = parentStops.find((s) => s.kind === "failed") ?? parentStops[0];
  if (stop) return { kind: "skip", stop: { kind: stop.kind, reason: stop.reason } };
  if (!isTrigger(node) && !isEnabled(node)) return { kind: "pass-through" };
  return { kind: "run" };
}
