export * from "./child.js";
export * from "./executor.js";
export * from "./handler.js";
