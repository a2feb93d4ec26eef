import { visitStrings } from "./values.js";

/**
 * KeeperHub template references: `{{@<nodeId>:<Label>.<path>}}` refers to an earlier node's output.
 * Resolution is by node id; the label is for people (it is matched against the node's label so that a
 * label containing dots still splits correctly). The path is optional (`{{@n:Label}}` is the whole
 * output); segments are separated by dots, and `[0]` indexes arrays (`items[0].name` = `items.0.name`).
 *
 * A field that is exactly one template takes the referenced value with its type; a template inside a
 * longer string is replaced by the value as text (objects and arrays as JSON, null/undefined as "").
 */

/** One `{{@…}}` occurrence in a string. */
export interface TemplateReference {
  /** The full text, braces included. */
  readonly raw: string;
  readonly nodeId: string;
  /** Everything after the colon: label, then optionally `.path`. */
  readonly rest: string;
  /** Offset of `raw` in the scanned string. */
  readonly index: number;
}

// nodeId: anything but ':' and braces; rest: anything up to the closing braces.
const TEMPLATE = /\{\{\s*@([^:{}\s]+):([^{}]*?)\s*\}\}/g;

/** Every template reference in `text`, in order. */
export function findReferences(text: string): TemplateReference[] {
  return [...text.matchAll(TEMPLATE)].map((match) => ({
    raw: match[0],
    nodeId: match[1] as string,
    rest: match[2] as string,
    index: match.index,
  }));
}

/** Every template reference anywhere in a config value (strings inside objects and arrays too). */
export function configReferences(value: unknown): TemplateReference[] {
  const references: TemplateReference[] = [];
  visitStrings(value, "config", (text) => {
    references.push(...findReferences(text));
  });
  return references;
}

/**
 * Whether a reference's label part names the node's label (`Label`, `Label.path`, `Label[0]`). Run time
 * tolerates a renamed label (resolution is by id), so this is checked when a workflow is saved: a
 * misspelt label there is a mistake the author wants to hear about. A node without a label matches any.
 */
export function labelMatches(reference: TemplateReference, label: string): boolean {
  if (label === "") return true;
  const { rest } = reference;
  return rest === label || rest.startsWith(`${label}.`) || rest.startsWith(`${label}[`);
}

/** Splits `rest` (`Label.path`) into path segments, using the node's known label when it matches. */
export function pathOf(rest: string, label: string | undefined): string[] {
  let pathText: string;
  if (
    label !== undefined &&
    (rest === label || rest.startsWith(`${label}.`) || rest.startsWith(`${label}[`))
  ) {
    pathText = rest.slice(label.length);
  } else {
    // Unknown or renamed label: the label ends at the first dot or bracket.
    const cut = rest.search(/[.[]/);
    pathText = cut === -1 ? "" : rest.slice(cut);
  }
  return pathText
    .replace(/\[\s*["']?([^\]"']*)["']?\s*\]/g, ".$1")
    .split(".")
    .map((segment) => segment.trim())
    .filter((segment) => segment.length > 0);
}

/** Thrown when a reference cannot be resolved; the engine turns it into a step error. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

/** What templates resolve against: outputs of nodes that finished, and labels for splitting paths. */
export interface TemplateScope {
  /** Output of a node that has run; `has` is false for a node that did not run or has no output. */
  readonly outputs: ReadonlyMap<string, unknown>;
  /** Label of a node id, when the node exists. */
  labelOf(nodeId: string): string | undefined;
}

/** Reads an own property path; undefined when any step is missing. Never walks the prototype chain. */
export function getPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== "object") return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** The value one reference points at. Throws TemplateError when the node has not run. */
export function resolveReference(reference: TemplateReference, scope: TemplateScope): unknown {
  const label = scope.labelOf(reference.nodeId);
  if (!scope.outputs.has(reference.nodeId)) {
    const who =
      label === undefined ? `unknown node "${reference.nodeId}"` : `node "${reference.nodeId}" (${label})`;
    throw new TemplateError(`${reference.raw} refers to ${who}, which has not run or has no output`);
  }
  return getPath(scope.outputs.get(reference.nodeId), pathOf(reference.rest, label));
}

/** A value as it appears inside a longer string. */
export function stringifyValue(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Resolves the templates in one string: an exact single template keeps the value's type. */
export function resolveString(text: string, scope: TemplateScope): unknown {
  const references = findReferences(text);
  if (references.length === 0) return text;
  const only = references[0];
  if (references.length === 1 && only && only.raw === text.trim()) return resolveReference(only, scope);
  let result = "";
  let last = 0;
  for (const reference of references) {
    result += text.slice(last, reference.index) + stringifyValue(resolveReference(reference, scope));
    last = reference.index + reference.raw.length;
  }
  return result + text.slice(last);
}

/**
 * Resolves templates everywhere in a config value (through objects and arrays), returning a new value;
 * keys listed in `skipKeys` (top level only) are copied unresolved.
 */
export function resolveTemplates(
  value: unknown,
  scope: TemplateScope,
  skipKeys: readonly string[] = [],
): unknown {
  const walk = (item: unknown): unknown => {
    if (typeof item === "string") return resolveString(item, scope);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === "object") {
      return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, walk(inner)]));
    }
    return item;
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) return walk(value);
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, skipKeys.includes(key) ? inner : walk(inner)]),
  );
}
