export {
  DEFAULT_RUN_TIMEOUT_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  type RunExecutionOptions,
  type RunExecutionResult,
  type RunWorkflowNowOptions,
  runExecution,
  runWorkflowNow,
} from "./run-execution.js";
