export * from "./database-gate.js";
export * from "./decide.js";
export * from "./intake.js";
export * from "./launcher.js";
