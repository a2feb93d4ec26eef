export * from "./cluster.js";
export * from "./observe.js";
export * from "./scheduler.js";
export * from "./specs.js";
