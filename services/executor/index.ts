export * from "./child.js";
export * from "./executor.js";
export * from "./handler.js";
export * from "./lost-runs.js";
export * from "./trigger.js";
export * from "./wait.js";
