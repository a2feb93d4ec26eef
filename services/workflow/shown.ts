import { type ActionDefinition, type ActionRegistry, actionRegistry } from "./actions/index.js";
import { MASK, maskSecrets, maskText } from "./secrets.js";

/**
 * What any view may show of a workflow's values: the one masking rule (secrets.ts) applied the same way
 * for the step log the engine records, `khctl` tables and `--json`, `khctl logs`, and the console. Only
 * `--show-secrets` reveals what is stored as it is (a workflow's definition, a run's input); step inputs
 * and outputs are recorded masked, so nothing can reveal those.
 */

/** Whether a view shows stored values as they are (`--show-secrets`) or masked (the default). */
export interface ShowOptions {
  readonly showSecrets?: boolean;
}

/** A value as views show it: secret-named fields and URL secrets masked, at any depth. */
export function shownValue<T>(value: T, options: ShowOptions = {}): T {
  return options.showSecrets ? value : (maskSecrets(value) as T);
}

/** A message (an error, a log line) as views show it: URL secrets in it masked. */
export function shownText(text: string, options?: ShowOptions): string;
export function shownText(text: string | null, options?: ShowOptions): string | null;
export function shownText(text: string | null, options: ShowOptions = {}): string | null {
  return text === null || options.showSecrets ? text : maskText(text);
}

/**
 * An action's config as recorded and shown: its own masking first (an HTTP Request's headers, query and
 * body given as JSON strings), then the general rule.
 */
export function shownConfig(config: unknown, action?: ActionDefinition): unknown {
  const redacted =
    action?.redact && config !== null && typeof config === "object" && !Array.isArray(config)
      ? action.redact(config as Record<string, unknown>)
      : config;
  return maskSecrets(redacted);
}

type StoredNode = { data?: { type?: unknown; config?: { actionType?: unknown } } };

/** A stored definition's nodes as views show them: each action's config masked by its own action's rule. */
export function shownNodes(
  nodes: readonly unknown[],
  options: ShowOptions = {},
  registry: ActionRegistry = actionRegistry,
): unknown[] {
  if (options.showSecrets) return [...nodes];
  return nodes.map((node) => {
    const data = (node as StoredNode | null)?.data;
    if (!data || typeof data !== "object" || !("config" in data)) return maskSecrets(node);
    const type = data.config?.actionType;
    const action = typeof type === "string" && registry.has(type) ? registry.get(type) : undefined;
    return maskSecrets({ ...(node as object), data: { ...data, config: shownConfig(data.config, action) } });
  });
}

/** The mask as it reads inside a URL's query (URLSearchParams encodes the brackets). */
const MASK_IN_URL = encodeURIComponent(MASK);

/**
 * The first node whose config still holds the mask (a definition printed without `--show-secrets`, given
 * back to be saved), or undefined: saving it would replace the secret with the mask.
 */
export function nodeHoldingMask<N extends { data: { config: unknown } }>(nodes: readonly N[]): N | undefined {
  return nodes.find((node) => {
    const text = JSON.stringify(node.data.config) ?? "";
    return text.includes(MASK) || text.includes(MASK_IN_URL);
  });
}
