export * from "./cluster.js";
export * from "./cluster-specs.js";
export * from "./existing.js";
export * from "./image-loader.js";
export * from "./observe.js";
export * from "./scheduler.js";
export * from "./specs.js";
