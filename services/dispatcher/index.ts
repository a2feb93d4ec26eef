export * from "./dispatcher.js";
export * from "./outbox.js";
export * from "./slots.js";
export * from "./trigger.js";
