export * from "./message.js";
export * from "./names.js";
