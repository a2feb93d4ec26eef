import { type Html, html } from "./html.js";

/**
 * A workflow's graph as SVG, each node coloured by its step's status in one execution (and named by it:
 * the word is drawn under the label, so colour is never the only sign). Nodes are laid out in columns by
 * their longest path from a root, left to right, in the order the definition lists them; drawn at its own
 * size, in a region that scrolls when the window is narrower. Pure.
 */

export interface GraphNode {
  readonly id: string;
  readonly label: string;
  /** The step's status in this execution; undefined when it did not run (yet). */
  readonly status?: string;
  /** Drawn under the label instead of a status (the definition graph: the node's kind). */
  readonly detail?: string;
}
export interface GraphEdge {
  readonly source: string;
  readonly target: string;
}

type StoredNode = {
  id?: unknown;
  data?: { type?: unknown; label?: unknown; config?: { triggerType?: unknown; actionType?: unknown } };
};
type StoredEdge = { source?: unknown; target?: unknown };

/** What a node is, in a word or two: its trigger type ("Schedule trigger") or its action type. */
function kindOf(node: StoredNode): string | undefined {
  const config = node.data?.config ?? {};
  if (node.data?.type === "trigger") return `${String(config.triggerType ?? "Manual")} trigger`;
  return typeof config.actionType === "string" ? config.actionType : undefined;
}

/**
 * A stored workflow's nodes and edges as the graph draws them (entries without ids are left out). With
 * `statusOf`, each node carries its step's status in one execution; without, its kind (the definition).
 */
export function graphOf(
  workflow: { nodes: unknown[]; edges: unknown[] } | null,
  statusOf?: (nodeId: string) => string | undefined,
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = ((workflow?.nodes ?? []) as StoredNode[]).flatMap((node) => {
    if (typeof node.id !== "string") return [];
    const label = typeof node.data?.label === "string" ? node.data.label : node.id;
    const status = statusOf?.(node.id);
    const detail = statusOf ? undefined : kindOf(node);
    return [{ id: node.id, label, ...(status ? { status } : {}), ...(detail ? { detail } : {}) }];
  });
  const edges = ((workflow?.edges ?? []) as StoredEdge[]).flatMap((edge) =>
    typeof edge.source === "string" && typeof edge.target === "string"
      ? [{ source: edge.source, target: edge.target }]
      : [],
  );
  return { nodes, edges };
}

const NODE = { width: 168, height: 50 };
const GAP = { x: 56, y: 18 };
const PAD = 8;

/** Column of each node: its longest path from a node without parents (cycles, which validation refuses, end at 0). */
export function columnsOf(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): Map<string, number> {
  const ids = new Set(nodes.map((n) => n.id));
  const parents = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const e of edges) if (ids.has(e.source) && ids.has(e.target)) parents.get(e.target)?.push(e.source);
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = column.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const value = Math.max(-1, ...(parents.get(id) ?? []).map(depth)) + 1;
    visiting.delete(id);
    column.set(id, value);
    return value;
  };
  for (const node of nodes) depth(node.id);
  return column;
}

const shorten = (text: string, max = 22) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function renderGraph(nodes: readonly GraphNode[], edges: readonly GraphEdge[], title: string): Html {
  if (nodes.length === 0) return html``;
  const columns = columnsOf(nodes, edges);
  const rowsUsed = new Map<number, number>();
  const place = new Map<string, { x: number; y: number }>();
  for (const node of nodes) {
    const column = columns.get(node.id) ?? 0;
    const row = rowsUsed.get(column) ?? 0;
    rowsUsed.set(column, row + 1);
    place.set(node.id, {
      x: PAD + column * (NODE.width + GAP.x),
      y: PAD + row * (NODE.height + GAP.y),
    });
  }
  const width = PAD * 2 + (Math.max(...columns.values()) + 1) * (NODE.width + GAP.x) - GAP.x;
  const height = PAD * 2 + Math.max(...rowsUsed.values()) * (NODE.height + GAP.y) - GAP.y;
  const lines = edges.flatMap((edge) => {
    const from = place.get(edge.source);
    const to = place.get(edge.target);
    if (!from || !to) return [];
    const [x1, y1] = [from.x + NODE.width, from.y + NODE.height / 2];
    const [x2, y2] = [to.x, to.y + NODE.height / 2];
    const bend = Math.max(20, (x2 - x1) / 2);
    return [
      html`<path class="edge" d="M${x1} ${y1} C${x1 + bend} ${y1} ${x2 - bend} ${y2} ${x2 - 6} ${y2}" marker-end="url(#arrow)"/>`,
    ];
  });
  const boxes = nodes.map((node) => {
    const at = place.get(node.id) as { x: number; y: number };
    const status = node.status ?? "not run";
    const under = node.status ?? node.detail ?? status;
    return html`<g class="node step-${status.replace(/[^a-z]/g, "")}" data-node="${node.id}">
<title>${node.label} (${node.id}): ${under}</title>
<rect x="${at.x}" y="${at.y}" width="${NODE.width}" height="${NODE.height}" rx="6"/>
<text x="${at.x + 10}" y="${at.y + 20}" class="label">${shorten(node.label)}</text>
<text x="${at.x + 10}" y="${at.y + 38}" class="state">${shorten(under)}</text>
</g>`;
  });
  // Drawn at its own size, never scaled down (labels stay readable): a graph wider than the window
  // scrolls inside its own region, as wide tables do.
  return html`<figure class="graph">
<div class="scroll" role="region" tabindex="0" aria-label="Graph (scrolls sideways when wider than the window)">
<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${title}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z"/></marker></defs>
${lines}
${boxes}
</svg>
</div>
<figcaption>${title}</figcaption>
</figure>`;
}
