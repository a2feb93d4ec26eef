import { z } from "zod";
import { validateSchedule } from "../scheduling/cron.js";
import { actionRegistry } from "./actions/index.js";
import type { ActionRegistry } from "./actions/registry.js";
import { referencedNodeIds } from "./templates.js";

/**
 * A workflow in KeeperHub's format (`{name, description?, nodes, edges}`, React Flow nodes and edges),
 * and its validation. Fields KeeperHub adds for its editor (position, selected, handles, ...) are kept
 * and ignored, so an exported workflow validates unchanged.
 *
 * Rules, each reported as one line naming the node (id and label) and the problem:
 * - node and edge ids are unique; every edge joins two existing nodes;
 * - exactly one trigger, with no incoming edges; its `triggerType` is Manual (the default when unset),
 *   Schedule (then `scheduleCron`, and `scheduleTimezone` when set, must be valid) or Webhook;
 * - every action has an `actionType` known to the action registry (plugins included), and a config
 *   that action accepts;
 * - no cycles (reported as a path, `a -> b -> a`);
 * - every node is reachable from the trigger: a node that could never run is a mistake, not a no-op
 *   (strict mode; at run time such nodes are ignored);
 * - a template reference names an existing node upstream of the node that uses it (anything else
 *   could not have run yet when the step starts).
 */

export const TRIGGER_KINDS = ["Manual", "Schedule", "Webhook"] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

const configSchema = z.record(z.string(), z.unknown());

const nodeSchema = z.looseObject({
  id: z.string().trim().min(1, "node id must be a non-empty string"),
  data: z.looseObject({
    type: z.enum(["trigger", "action"], { error: 'must be "trigger" or "action"' }),
    label: z.string().default(""),
    description: z.string().optional(),
    /** false: the node does not run; its children still do (pass-through). Default true. */
    enabled: z.boolean().optional(),
    config: configSchema.default({}),
  }),
});

const edgeSchema = z.looseObject({
  id: z.string().min(1).optional(),
  source: z.string().min(1, "edge source must be a node id"),
  target: z.string().min(1, "edge target must be a node id"),
});

export const workflowSchema = z.object({
  name: z.string().trim().min(1, "name must be a non-empty string"),
  description: z.string().nullish(),
  nodes: z.array(nodeSchema).min(1, "nodes must hold at least the trigger"),
  edges: z.array(edgeSchema).default([]),
});

export type WorkflowNode = z.infer<typeof nodeSchema>;
export type WorkflowEdge = z.infer<typeof edgeSchema>;
export type WorkflowDefinition = z.infer<typeof workflowSchema>;

/** Thrown by validateWorkflow; the message is one line. */
export class WorkflowValidationError extends Error {
  override name = "WorkflowValidationError";
}

/** `node "id" (Label)`, the way every message names a node. */
export function describeNode(node: { id: string; data?: { label?: unknown } }): string {
  const label = typeof node.data?.label === "string" && node.data.label ? ` (${node.data.label})` : "";
  return `node "${node.id}"${label}`;
}

/** The graph of a valid workflow, as the engine walks it. */
export interface WorkflowGraph {
  readonly trigger: WorkflowNode;
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  /** Distinct parent ids of each node (duplicate edges count once). */
  readonly parents: ReadonlyMap<string, readonly string[]>;
  readonly children: ReadonlyMap<string, readonly string[]>;
  /** The trigger and every node reachable from it: the nodes a run can reach. */
  readonly reachable: ReadonlySet<string>;
}

export const isTrigger = (node: WorkflowNode): boolean => node.data.type === "trigger";
export const triggerKindOf = (node: WorkflowNode): string =>
  typeof node.data.config.triggerType === "string" ? node.data.config.triggerType : "Manual";
export const actionTypeOf = (node: WorkflowNode): string =>
  typeof node.data.config.actionType === "string" ? node.data.config.actionType : "";
/** Whether the node runs: `enabled: false` turns it into a pass-through. */
export const isEnabled = (node: WorkflowNode): boolean => node.data.enabled !== false;

export interface ValidateOptions {
  /** Where action types are looked up. Default: the process-wide registry (built-ins and plugins). */
  readonly registry?: ActionRegistry;
  /**
   * Default true (`khctl workflow create`): check node configs (trigger type and schedule, action type
   * known to the registry, the action's own fields) and require every node to be reachable from the
   * trigger. The runner passes false for stored workflows: an unknown action type or a bad field is then
   * a step error of that node while other branches still run, and unreachable nodes are ignored.
   */
  readonly strict?: boolean;
}

/** Validates a workflow file or stored row; returns the typed definition or throws WorkflowValidationError. */
export function validateWorkflow(input: unknown, options: ValidateOptions = {}): WorkflowDefinition {
  const registry = options.registry ?? actionRegistry;
  const parsed = workflowSchema.safeParse(input);
  if (!parsed.success) throw new WorkflowValidationError(describeIssue(input, parsed.error.issues[0]));
  const definition = parsed.data;
  buildGraph(definition, registry, { strict: options.strict ?? true });
  return definition;
}

function describeIssue(input: unknown, issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "invalid workflow";
  const [collection, index, ...rest] = issue.path;
  if ((collection === "nodes" || collection === "edges") && typeof index === "number") {
    const item = (input as Record<string, unknown[]>)[collection]?.[index] as
      | { id?: unknown; data?: { label?: unknown } }
      | undefined;
    const who =
      collection === "nodes" && typeof item?.id === "string" && item.id
        ? describeNode(item as { id: string })
        : `${collection === "nodes" ? "node" : "edge"} #${index + 1}${typeof item?.id === "string" ? ` "${item.id}"` : ""}`;
    return `${who}: ${rest.length ? `${rest.join(".")}: ` : ""}${issue.message}`;
  }
  return `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`;
}

/**
 * Checks the graph rules above (node configs and reachability only when strict, the default) and
 * returns the graph; throws WorkflowValidationError.
 */
export function buildGraph(
  definition: WorkflowDefinition,
  registry: ActionRegistry = actionRegistry,
  options: { strict?: boolean } = {},
): WorkflowGraph {
  const fail = (message: string): never => {
    throw new WorkflowValidationError(message);
  };
  const nodes = new Map<string, WorkflowNode>();
  for (const node of definition.nodes) {
    if (nodes.has(node.id)) fail(`${describeNode(node)}: duplicate node id "${node.id}"`);
    nodes.set(node.id, node);
  }

  const strict = options.strict ?? true;
  if (strict) {
    for (const node of definition.nodes) checkNodeConfig(node, registry, fail);
  }

  const parents = new Map<string, string[]>([...nodes.keys()].map((id) => [id, []]));
  const children = new Map<string, string[]>([...nodes.keys()].map((id) => [id, []]));
  const edgeIds = new Set<string>();
  for (const [index, edge] of definition.edges.entries()) {
    const name = `edge ${edge.id ? `"${edge.id}"` : `#${index + 1}`} (${edge.source} -> ${edge.target})`;
    if (edge.id !== undefined) {
      if (edgeIds.has(edge.id)) fail(`${name}: duplicate edge id "${edge.id}"`);
      edgeIds.add(edge.id);
    }
    if (!nodes.has(edge.source)) fail(`${name}: source node "${edge.source}" does not exist`);
    if (!nodes.has(edge.target)) fail(`${name}: target node "${edge.target}" does not exist`);
    const targetParents = parents.get(edge.target) as string[];
    if (!targetParents.includes(edge.source)) {
      targetParents.push(edge.source);
      (children.get(edge.source) as string[]).push(edge.target);
    }
  }

  const triggers = definition.nodes.filter(isTrigger);
  if (triggers.length === 0) fail('workflow has no trigger: add one node with data.type "trigger"');
  if (triggers.length > 1) {
    fail(
      `workflow has ${triggers.length} triggers (${triggers.map(describeNode).join(", ")}); exactly one is allowed`,
    );
  }
  const trigger = triggers[0] as WorkflowNode;
  const incoming = parents.get(trigger.id) as string[];
  if (incoming.length > 0) {
    fail(
      `${describeNode(trigger)}: a trigger cannot have incoming edges (from ${incoming.map((id) => `"${id}"`).join(", ")})`,
    );
  }

  const cycle = findCycle([...nodes.keys()], children);
  if (cycle) {
    const first = nodes.get(cycle[0] as string) as WorkflowNode;
    fail(`${describeNode(first)}: cycle ${cycle.join(" -> ")}`);
  }

  const reachable = descendantsOf(trigger.id, children);
  reachable.add(trigger.id);
  for (const node of definition.nodes) {
    if (strict && !reachable.has(node.id)) {
      fail(`${describeNode(node)}: not reachable from the trigger "${trigger.id}"; connect it or remove it`);
    }
  }

  for (const node of definition.nodes) {
    const ancestors = descendantsOf(node.id, parents);
    for (const referenced of referencedNodeIds(node.data.config)) {
      if (!nodes.has(referenced))
        fail(`${describeNode(node)}: template refers to unknown node "${referenced}"`);
      if (!ancestors.has(referenced)) {
        fail(
          `${describeNode(node)}: template refers to ${describeNode(nodes.get(referenced) as WorkflowNode)}, which is not upstream of it (connect it by edges first)`,
        );
      }
    }
  }

  return { trigger, nodes, parents, children, reachable };
}

function checkNodeConfig(
  node: WorkflowNode,
  registry: ActionRegistry,
  fail: (message: string) => never,
): void {
  const config = node.data.config;
  if (isTrigger(node)) {
    const kind = triggerKindOf(node);
    if (!(TRIGGER_KINDS as readonly string[]).includes(kind)) {
      fail(`${describeNode(node)}: unknown trigger type "${kind}" (known: ${TRIGGER_KINDS.join(", ")})`);
    }
    if (kind === "Schedule") {
      if (typeof config.scheduleCron !== "string" || !config.scheduleCron.trim()) {
        fail(`${describeNode(node)}: a Schedule trigger needs config.scheduleCron`);
      }
      const timezone =
        typeof config.scheduleTimezone === "string" && config.scheduleTimezone
          ? config.scheduleTimezone
          : "UTC";
      try {
        validateSchedule(config.scheduleCron as string, timezone);
      } catch (error) {
        fail(`${describeNode(node)}: ${(error as Error).message}`);
      }
    }
    return;
  }
  const type = actionTypeOf(node);
  if (!type) fail(`${describeNode(node)}: config.actionType is missing`);
  if (!registry.has(type)) {
    fail(`${describeNode(node)}: unknown action type "${type}" (known: ${registry.types().join(", ")})`);
  }
  try {
    registry.get(type).validate?.(config);
  } catch (error) {
    fail(`${describeNode(node)}: ${type}: ${(error as Error).message}`);
  }
}

/** The first cycle found, as a closed path of node ids (`[a, b, a]`), or undefined. */
export function findCycle(
  ids: readonly string[],
  children: ReadonlyMap<string, readonly string[]>,
): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, "open");
    stack.push(id);
    for (const child of children.get(id) ?? []) {
      const seen = state.get(child);
      if (seen === "open") return [...stack.slice(stack.indexOf(child)), child];
      if (seen === undefined) {
        const found = visit(child);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const id of ids) {
    if (state.has(id)) continue;
    const found = visit(id);
    if (found) return found;
  }
  return undefined;
}

/** Every node reachable from `start` along `next` (start itself excluded unless on a cycle). */
export function descendantsOf(start: string, next: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const queue = [...(next.get(start) ?? [])];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...(next.get(id) ?? []));
  }
  return seen;
}
