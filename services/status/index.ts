export * from "./containers.js";
export * from "./executions.js";
export * from "./kubernetes.js";
export * from "./minikube.js";
export * from "./parts.js";
export * from "./queue.js";
export * from "./report.js";
