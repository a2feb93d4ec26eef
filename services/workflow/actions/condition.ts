import { checkCondition, evaluateCondition } from "../expression.js";
import type { ActionDefinition } from "./registry.js";

/**
 * `Condition`: evaluates `condition` (see expression.ts) and outputs `{result}`. Its gate closes when the
 * result is falsy: the engine then skips the node's subtree. Template references in the condition are bound as values.
 * A boolean `condition` (as KeeperHub stores a constant one) is taken as is.
 */
export const conditionAction: ActionDefinition = {
  rawFields: ["condition"],
  validate(config) {
    if (typeof config.condition === "boolean") return;
    if (typeof config.condition !== "string" || !config.condition.trim()) {
      throw new Error('"condition" must be a non-empty expression');
    }
    checkCondition(config.condition);
  },
  async run(config, context) {
    if (typeof config.condition === "boolean") return { result: config.condition };
    if (typeof config.condition !== "string") throw new Error('"condition" must be a string expression');
    return { result: Boolean(evaluateCondition(config.condition, context.scope)) };
  },
  gate(output, node) {
    return (output as { result?: unknown } | null)?.result ? null : `condition of ${node} was false`;
  },
};
