export * from "./child.js";
export * from "./executor.js";
export * from "./process-launcher.js";
export * from "./stale-runs.js";
