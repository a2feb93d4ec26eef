import { createActionRegistry } from "../../services/workflow/actions/index.js";
import type { ActionContext, ActionRegistry } from "../../services/workflow/actions/registry.js";

/** Small builders for workflow definitions in KeeperHub's node/edge format. */
export const trigger = (
  id = "t",
  config: Record<string, unknown> = { triggerType: "Manual" },
  label = "Start",
) => ({
  id,
  type: "trigger",
  position: { x: 0, y: 0 },
  data: { type: "trigger", label, config },
});

export const action = (
  id: string,
  actionType: string,
  config: Record<string, unknown> = {},
  extra: { label?: string; enabled?: boolean } = {},
) => ({
  id,
  type: "action",
  data: {
    type: "action",
    label: extra.label ?? id.toUpperCase(),
    ...(extra.enabled === undefined ? {} : { enabled: extra.enabled }),
    config: { actionType, ...config },
  },
});

/** edges("t->a", "a->b") */
export const edges = (...pairs: string[]) =>
  pairs.map((pair) => {
    const [source, target] = pair.split("->") as [string, string];
    return { id: `${source}-${target}`, source, target };
  });

export const workflow = (nodes: unknown[], edgeList: unknown[], name = "test workflow") => ({
  name,
  nodes,
  edges: edgeList,
});

/** A one-shot latch tests wait on: resolves once open() is called. */
export function latch<T = void>(): { open: (value?: T) => void; opened: Promise<T> } {
  let open!: (value?: T) => void;
  const opened = new Promise<T>((resolve) => {
    open = (value?: T) => resolve(value as T);
  });
  return { open, opened };
}

/**
 * A registry with the built-ins plus test actions:
 * - `Echo`: outputs its (resolved) config without actionType.
 * - `Fail`: throws config.message.
 * - `Hook`: calls the given hook with the config and context, and outputs what it returns.
 */
export function testRegistry(
  hook: (config: Record<string, unknown>, context: ActionContext) => Promise<unknown> = async () => ({}),
): ActionRegistry {
  return createActionRegistry()
    .register("Echo", {
      async run(config) {
        const { actionType: _, ...rest } = config;
        return rest;
      },
    })
    .register("Fail", {
      async run(config) {
        throw new Error(String(config.message ?? "failed on purpose"));
      },
    })
    .register("Hook", { run: (config, context) => hook(config, context) });
}
