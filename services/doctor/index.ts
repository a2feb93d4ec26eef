export * from "./checks.js";
export * from "./docker.js";
export * from "./exec.js";
