import * as z from "zod";
import { toStorableText } from "../core/text.js";
import { validateSchedule } from "../scheduling/cron.js";
import { actionRegistry } from "./actions/index.js";
import type { ActionRegistry } from "./actions/registry.js";
import { configReferences, labelMatches } from "./templates.js";
import { checkStorableText, ValueError, visitStrings } from "./values.js";

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
 *   could not have run yet when the step starts), by its id and its label.
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
  checkTopLevel(input);
  const parsed = workflowSchema.safeParse(input);
  if (!parsed.success) throw new WorkflowValidationError(describeIssue(input, parsed.error.issues[0]));
  const definition = parsed.data;
  buildGraph(definition, registry, { strict: options.strict ?? true });
  return definition;
}

/** The whole input must be one object; zod alone would say "expected object" without naming where. */
function checkTopLevel(input: unknown): void {
  if (input !== null && typeof input === "object" && !Array.isArray(input)) return;
  const what = Array.isArray(input)
    ? "an array (one workflow per file)"
    : input === null
      ? "null"
      : `a ${typeof input}`;
  fail(`the top level must be one workflow object {name, description?, nodes, edges}, not ${what}`);
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
 * returns the graph; throws WorkflowValidationError. Linear in the size of the workflow, and iterative
 * (a chain of ten thousand nodes is a valid workflow, not a stack overflow).
 */
export function buildGraph(
  definition: WorkflowDefinition,
  registry: ActionRegistry = actionRegistry,
  options: { strict?: boolean } = {},
): WorkflowGraph {
  const strict = options.strict ?? true;
  const nodes = indexNodes(definition);
  checkStorable(definition);
  if (strict) for (const node of definition.nodes) checkNodeConfig(node, registry, fail);
  const { parents, children } = linkEdges(definition, nodes);
  const trigger = theTrigger(definition, parents);
  const order = topologicalOrder(nodes, parents, children);
  const reachable = descendantsOf(trigger.id, children);
  reachable.add(trigger.id);
  if (strict) {
    const stray = definition.nodes.find((node) => !reachable.has(node.id));
    if (stray)
      fail(`${describeNode(stray)}: not reachable from the trigger "${trigger.id}"; connect it or remove it`);
  }
  checkReferences(definition, nodes, parents, order);
  return { trigger, nodes, parents, children, reachable };
}

/** Every string of the workflow can be stored, and no config nests too deeply; the message names where. */
function checkStorable(definition: WorkflowDefinition): void {
  const check = (who: string, value: unknown, root: string) => {
    try {
      visitStrings(value, root, checkStorableText);
    } catch (error) {
      if (error instanceof ValueError) fail(`${who}${error.message}`);
      throw error;
    }
  };
  check("", definition.name, "name");
  check("", definition.description ?? "", "description");
  for (const node of definition.nodes) {
    const printable = (text: string) => toStorableText(text);
    const who = `${describeNode({ id: printable(node.id), data: { label: printable(node.data.label) } })}: `;
    check(who, node.id, "id");
    check(who, node.data.label, "data.label");
    check(who, node.data.config, "config");
  }
  for (const [index, edge] of definition.edges.entries()) {
    check(`edge #${index + 1}: `, [edge.id ?? "", edge.source, edge.target], "ids");
  }
}

function fail(message: string): never {
  throw new WorkflowValidationError(message);
}

function indexNodes(definition: WorkflowDefinition): Map<string, WorkflowNode> {
  const nodes = new Map<string, WorkflowNode>();
  for (const node of definition.nodes) {
    if (nodes.has(node.id)) fail(`${describeNode(node)}: duplicate node id "${node.id}"`);
    nodes.set(node.id, node);
  }
  return nodes;
}

function linkEdges(definition: WorkflowDefinition, nodes: ReadonlyMap<string, WorkflowNode>) {
  const parents = new Map<string, string[]>([...nodes.keys()].map((id) => [id, []]));
  const children = new Map<string, string[]>([...nodes.keys()].map((id) => [id, []]));
  const edgeIds = new Set<string>();
  const pairs = new Set<string>();
  for (const [index, edge] of definition.edges.entries()) {
    const name = `edge ${edge.id ? `"${edge.id}"` : `#${index + 1}`} (${edge.source} -> ${edge.target})`;
    if (edge.id !== undefined) {
      if (edgeIds.has(edge.id)) fail(`${name}: duplicate edge id "${edge.id}"`);
      edgeIds.add(edge.id);
    }
    if (!nodes.has(edge.source)) fail(`${name}: source node "${edge.source}" does not exist`);
    if (!nodes.has(edge.target)) fail(`${name}: target node "${edge.target}" does not exist`);
    // Duplicate edges count once.
    const pair = `${edge.source}\u0000${edge.target}`;
    if (pairs.has(pair)) continue;
    pairs.add(pair);
    (parents.get(edge.target) as string[]).push(edge.source);
    (children.get(edge.source) as string[]).push(edge.target);
  }
  return { parents, children };
}

function theTrigger(
  definition: WorkflowDefinition,
  parents: ReadonlyMap<string, readonly string[]>,
): WorkflowNode {
  const triggers = definition.nodes.filter(isTrigger);
  if (triggers.length === 0) fail('workflow has no trigger: add one node with data.type "trigger"');
  if (triggers.length > 1) {
    fail(
      `workflow has ${triggers.length} triggers (${triggers.map(describeNode).join(", ")}); exactly one is allowed`,
    );
  }
  const trigger = triggers[0] as WorkflowNode;
  const incoming = parents.get(trigger.id) ?? [];
  if (incoming.length > 0) {
    fail(
      `${describeNode(trigger)}: a trigger cannot have incoming edges (from ${incoming.map((id) => `"${id}"`).join(", ")})`,
    );
  }
  return trigger;
}

/** Each node's position in a topological order; a cycle is reported as a path (`a -> b -> a`). */
function topologicalOrder(
  nodes: ReadonlyMap<string, WorkflowNode>,
  parents: ReadonlyMap<string, readonly string[]>,
  children: ReadonlyMap<string, readonly string[]>,
): Map<string, number> {
  const cycle = findCycle([...nodes.keys()], children);
  if (cycle)
    fail(`${describeNode(nodes.get(cycle[0] as string) as WorkflowNode)}: cycle ${cycle.join(" -> ")}`);
  // Kahn's algorithm: a node gets its position once all its parents have theirs.
  const waiting = new Map([...nodes.keys()].map((id) => [id, parents.get(id)?.length ?? 0]));
  const queue = [...nodes.keys()].filter((id) => waiting.get(id) === 0);
  const order = new Map<string, number>();
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head] as string;
    order.set(id, head);
    for (const child of children.get(id) ?? []) {
      const left = (waiting.get(child) as number) - 1;
      waiting.set(child, left);
      if (left === 0) queue.push(child);
    }
  }
  return order;
}

/**
 * A template reference names an existing node upstream of the node that uses it. Each check walks up
 * from the node through its parents and stops early: at the referenced node, or at nodes that come
 * before it in topological order (their ancestors cannot include it).
 */
function checkReferences(
  definition: WorkflowDefinition,
  nodes: ReadonlyMap<string, WorkflowNode>,
  parents: ReadonlyMap<string, readonly string[]>,
  order: ReadonlyMap<string, number>,
): void {
  for (const node of definition.nodes) {
    for (const reference of configReferences(node.data.config)) {
      const referenced = reference.nodeId;
      const target = nodes.get(referenced);
      if (!target) fail(`${describeNode(node)}: template refers to unknown node "${referenced}"`);
      if (!labelMatches(reference, target.data.label)) {
        fail(
          `${describeNode(node)}: template ${reference.raw} names node "${referenced}" by the label "${reference.rest.split(/[.[]/)[0]}", but its label is "${target.data.label}"`,
        );
      }
      if (!isUpstream(referenced, node.id, parents, order)) {
        fail(
          `${describeNode(node)}: template refers to ${describeNode(target)}, which is not upstream of it (connect it by edges first)`,
        );
      }
    }
  }
}

function isUpstream(
  ancestor: string,
  of: string,
  parents: ReadonlyMap<string, readonly string[]>,
  order: ReadonlyMap<string, number>,
): boolean {
  const floor = order.get(ancestor) as number;
  if (floor >= (order.get(of) as number)) return false;
  const seen = new Set<string>([of]);
  const queue = [of];
  for (let head = 0; head < queue.length; head++) {
    for (const parent of parents.get(queue[head] as string) ?? []) {
      if (parent === ancestor) return true;
      if (seen.has(parent) || (order.get(parent) as number) < floor) continue;
      seen.add(parent);
      queue.push(parent);
    }
  }
  return false;
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

/** The first cycle found, as a closed path of node ids (`[a, b, a]`), or undefined. Iterative. */
export function findCycle(
  ids: readonly string[],
  children: ReadonlyMap<string, readonly string[]>,
): string[] | undefined {
  const done = new Set<string>();
  for (const root of ids) {
    if (done.has(root)) continue;
    // The current path, each node with the index of its next child to visit.
    const path: { id: string; next: number }[] = [{ id: root, next: 0 }];
    const onPath = new Map<string, number>([[root, 0]]);
    while (path.length > 0) {
      const top = path[path.length - 1] as { id: string; next: number };
      const child = (children.get(top.id) ?? [])[top.next++];
      if (child === undefined) {
        path.pop();
        onPath.delete(top.id);
        done.add(top.id);
        continue;
      }
      const at = onPath.get(child);
      if (at !== undefined) return [...path.slice(at).map((step) => step.id), child];
      if (done.has(child)) continue;
      onPath.set(child, path.length);
      path.push({ id: child, next: 0 });
    }
  }
  return undefined;
}

/** Every node reachable from `start` along `next` (start itself excluded unless on a cycle). */
export function descendantsOf(start: string, next: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const queue = [...(next.get(start) ?? [])];
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head] as string;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const child of next.get(id) ?? []) if (!seen.has(child)) queue.push(child);
  }
  return seen;
}
