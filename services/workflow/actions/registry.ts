import type { TemplateScope } from "../templates.js";

/** What an action sees while it runs one step. */
export interface ActionContext {
  /** Aborted on step timeout, run timeout or cancellation: pass it to fetch and other I/O. */
  readonly signal: AbortSignal;
  readonly nodeId: string;
  readonly label: string;
  /** Outputs of nodes that have finished, for actions that resolve references themselves (Condition). */
  readonly scope: TemplateScope;
}

export interface ActionDefinition {
  /**
   * Runs one step with its config (templates already resolved, except `rawFields`); the resolved
   * value is the step's output. Throwing makes the step fail with the error's message.
   */
  run(config: Record<string, unknown>, context: ActionContext): Promise<unknown>;
  /**
   * Checks a config at workflow validation time (before templates are resolved); throws an Error
   * whose message names the bad field. Optional.
   */
  validate?(config: Record<string, unknown>): void;
  /**
   * The config as it may be recorded in the step log, with secrets masked (e.g. an Authorization
   * header). Optional; default: recorded as is.
   */
  redact?(config: Record<string, unknown>): Record<string, unknown>;
  /** Top-level config fields the engine leaves unresolved, for the action to interpret. */
  readonly rawFields?: readonly string[];
  /**
   * Flow control: after the step succeeded, why its descendants must not run (a closed gate, reported
   * to each of them as the reason they were skipped), or null to let them run. `node` names the step.
   * Optional; default: always open.
   */
  gate?(output: unknown, node: string): string | null;
}

/** Action types by name (`HTTP Request`, `Condition`, plugin types). */
export class ActionRegistry {
  readonly #actions = new Map<string, ActionDefinition>();

  /** Adds an action type; registering a type twice is an error (two plugins would silently clash). */
  register(type: string, action: ActionDefinition): this {
    if (!type.trim()) throw new Error("action type must be a non-empty string");
    if (this.#actions.has(type)) throw new Error(`action type "${type}" is already registered`);
    this.#actions.set(type, action);
    return this;
  }

  has(type: string): boolean {
    return this.#actions.has(type);
  }

  /** The action for a type; throws an Error naming the type and the known ones when it is missing. */
  get(type: string): ActionDefinition {
    const action = this.#actions.get(type);
    if (!action) {
      throw new Error(`unknown action type "${type}" (known: ${this.types().join(", ")})`);
    }
    return action;
  }

  types(): string[] {
    return [...this.#actions.keys()].sort();
  }
}

/** A step failure that still carries an output (e.g. an HTTP Request's non-2xx response), recorded with the error. */
export class StepError extends Error {
  override name = "StepError";
  readonly output: unknown;
  constructor(message: string, options: { output?: unknown; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.output = options.output;
  }
}

/**
 * The process-wide registry the runner uses. The built-in actions are added when actions/index.ts is
 * loaded (the engine imports it); plugins add theirs with registerAction.
 */
export const actionRegistry: ActionRegistry = new ActionRegistry();

/** Adds an action type to the process-wide registry: the one call a plugin makes. */
export function registerAction(type: string, action: ActionDefinition): void {
  actionRegistry.register(type, action);
}
