/** The workflow model and engine: what the runner, the CLI and plugins import. */
export {
  type ActionContext,
  type ActionDefinition,
  ActionRegistry,
  actionRegistry,
  createActionRegistry,
  registerAction,
  StepError,
} from "./actions/index.js";
export {
  describeNode,
  TRIGGER_KINDS,
  type ValidateOptions,
  validateWorkflow,
  type WorkflowDefinition,
  type WorkflowEdge,
  type WorkflowNode,
  WorkflowValidationError,
} from "./definition.js";
export {
  type RunWorkflowOptions,
  runWorkflow,
  type StepEndEvent,
  type StepStartEvent,
  type WorkflowRunResult,
} from "./engine.js";
export { checkCondition, ExpressionError, evaluateExpression } from "./expression.js";
export { resolveTemplates, TemplateError } from "./templates.js";
