import { findUnstorable } from "../core/text.js";

/**
 * Walking the values of a workflow (configs are free-form JSON) without recursion, with a depth limit, and
 * the text Postgres can store: the workflow is saved as jsonb, and its step inputs and outputs too.
 */

/** How deep a node's config may nest (objects and arrays). */
export const MAX_VALUE_DEPTH = 64;

/** A value nested deeper than MAX_VALUE_DEPTH, or text that cannot be stored; `path` says where. */
export class ValueError extends Error {
  override name = "ValueError";
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/**
 * Calls `visit` with every string in `value` (object keys included) and its path (`config.a[2].b`),
 * breadth-first; throws ValueError when the value nests deeper than `maxDepth`.
 */
export function visitStrings(
  value: unknown,
  root: string,
  visit: (text: string, path: string) => void,
  maxDepth = MAX_VALUE_DEPTH,
): void {
  const queue: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  for (let head = 0; head < queue.length; head++) {
    const item = queue[head] as { value: unknown; path: string; depth: number };
    if (typeof item.value === "string") {
      visit(item.value, item.path);
      continue;
    }
    if (item.value === null || typeof item.value !== "object") continue;
    if (item.depth >= maxDepth) throw new ValueError(item.path, `${tooDeep(maxDepth)}; flatten it`);
    if (Array.isArray(item.value)) {
      item.value.forEach((inner, index) => {
        queue.push({ value: inner, path: `${item.path}[${index}]`, depth: item.depth + 1 });
      });
      continue;
    }
    for (const [key, inner] of Object.entries(item.value)) {
      const path = `${item.path}.${key}`;
      visit(key, `${path} (key)`);
      queue.push({ value: inner, path, depth: item.depth + 1 });
    }
  }
}

const tooDeep = (maxDepth: number) => `nested more than ${maxDepth} levels deep`;

/** One level of a value being walked by nestingProblem; the chain of parents gives its path when needed. */
interface Level {
  readonly value: object;
  readonly depth: number;
  readonly parent: Level | null;
  readonly segment: string;
}

const pathOf = (level: Level): string => {
  const segments: string[] = [];
  for (let at: Level | null = level; at; at = at.parent) segments.push(at.segment);
  return segments.reverse().join("");
};

/**
 * Where `value` nests deeper than `maxDepth` objects and arrays (a ValueError naming the first such path,
 * `root.a[2].b`), or null when it does not. Iterative and without building a path per value, so values of
 * any depth and size (a step's parsed HTTP response) are checked before anything recursive touches them
 * (JSON.stringify overflows the stack a few thousand levels down).
 */
export function nestingProblem(value: unknown, root: string, maxDepth = MAX_VALUE_DEPTH): ValueError | null {
  if (value === null || typeof value !== "object") return null;
  const stack: Level[] = [{ value, depth: 0, parent: null, segment: root }];
  for (let level = stack.pop(); level; level = stack.pop()) {
    if (level.depth >= maxDepth) return new ValueError(pathOf(level), tooDeep(maxDepth));
    const isArray = Array.isArray(level.value);
    for (const [key, inner] of Object.entries(level.value)) {
      if (inner === null || typeof inner !== "object") continue;
      const segment = isArray ? `[${key}]` : `.${key}`;
      stack.push({ value: inner, depth: level.depth + 1, parent: level, segment });
    }
  }
  return null;
}

/** Throws ValueError when `text` holds a character Postgres cannot store (core/text.ts). */
export function checkStorableText(text: string, path: string): void {
  const found = findUnstorable(text);
  if (found)
    throw new ValueError(path, `contains ${found.what} at character ${found.index}, which cannot be stored`);
}
