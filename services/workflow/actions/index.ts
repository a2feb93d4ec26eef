import { conditionAction } from "./condition.js";
import { httpRequestAction } from "./http-request.js";
import { ActionRegistry, actionRegistry } from "./registry.js";

export { conditionAction } from "./condition.js";
export { HTTP_METHODS, httpRequestAction } from "./http-request.js";
export {
  type ActionContext,
  type ActionDefinition,
  ActionRegistry,
  actionRegistry,
  registerAction,
  StepError,
} from "./registry.js";

/** Adds the built-in actions (`HTTP Request`, `Condition`) to a registry. */
export function registerBuiltinActions(registry: ActionRegistry): ActionRegistry {
  return registry.register("HTTP Request", httpRequestAction).register("Condition", conditionAction);
}

/** A fresh registry with the built-ins, for tests and embedders that want isolation. */
export function createActionRegistry(): ActionRegistry {
  return registerBuiltinActions(new ActionRegistry());
}

registerBuiltinActions(actionRegistry);
