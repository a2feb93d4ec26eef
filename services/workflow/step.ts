import type { ActionDefinition } from "./actions/registry.js";
import { StepError } from "./actions/registry.js";
import type { TemplateScope } from "./templates.js";
import { MAX_VALUE_DEPTH, nestingProblem } from "./values.js";

/** How one step ended. */
export type StepOutcome =
  | { readonly status: "success"; readonly output: unknown }
  /** The action failed or timed out; `output` is set when the failure carries one (HTTP non-2xx). */
  | { readonly status: "error"; readonly error: string; readonly output?: unknown }
  /** The run was cancelled or timed out while this step ran. */
  | { readonly status: "cancelled"; readonly error: string };

/** Why a run was aborted; the reason carried by the run's AbortSignal. */
export class RunAbortedError extends Error {
  override name = "RunAbortedError";
  constructor(
    /** `cancelled`: an external signal (e.g. SIGTERM); `timeout`: the whole-run timeout. */
    readonly kind: "cancelled" | "timeout",
    message: string,
  ) {
    super(message);
  }
}

/** The message for an aborted run signal, whatever reason it was aborted with. */
export function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  if (typeof reason === "string" && reason) return reason;
  return "aborted";
}

export interface ExecuteStepOptions {
  /** The run's signal: aborted on cancellation or run timeout. */
  readonly runSignal: AbortSignal;
  /** This step's timeout in milliseconds; undefined or 0 for none. */
  readonly timeoutMs?: number;
  readonly nodeId: string;
  readonly label: string;
  readonly scope: TemplateScope;
}

/**
 * Runs one action with the step timeout, never longer: if the action ignores its signal, the step still
 * ends when the signal fires (the action's late result is dropped). Never throws.
 */
export async function executeStep(
  action: ActionDefinition,
  config: Record<string, unknown>,
  options: ExecuteStepOptions,
): Promise<StepOutcome> {
  const { runSignal, timeoutMs } = options;
  if (runSignal.aborted) return { status: "cancelled", error: abortMessage(runSignal) };
  const step = new AbortController();
  const onRunAbort = () => step.abort(runSignal.reason);
  runSignal.addEventListener("abort", onRunAbort, { once: true });
  const timer =
    timeoutMs && timeoutMs > 0
      ? setTimeout(() => step.abort(new Error(`step timed out after ${timeoutMs}ms`)), timeoutMs)
      : undefined;
  let stopWaiting = () => {};
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(step.signal.reason);
    step.signal.addEventListener("abort", onAbort, { once: true });
    stopWaiting = () => step.signal.removeEventListener("abort", onAbort);
  });
  aborted.catch(() => {});
  try {
    const output = await Promise.race([
      action.run(config, {
        signal: step.signal,
        nodeId: options.nodeId,
        label: options.label,
        scope: options.scope,
      }),
      aborted,
    ]);
    return { status: "success", output };
  } catch (error) {
    if (runSignal.aborted) return { status: "cancelled", error: abortMessage(runSignal) };
    if (step.signal.aborted) return { status: "error", error: abortMessage(step.signal) };
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof StepError && error.output !== undefined) {
      return { status: "error", error: message, output: error.output };
    }
    return { status: "error", error: message };
  } finally {
    clearTimeout(timer);
    stopWaiting();
    runSignal.removeEventListener("abort", onRunAbort);
  }
}

/** The most of a too-deep value's path an error names: its start says where it went deep. */
const MAX_PATH_CHARS = 120;

/**
 * Why a value a step produced or runs with cannot be kept, or null: nested deeper than MAX_VALUE_DEPTH,
 * the limit workflow configs and run inputs have (values.ts). Checked before anything recursive (JSON
 * serialisation for the step log, templates of later steps) touches the value.
 */
export function nestingFailure(value: unknown, what: "output" | "input"): string | null {
  const problem = nestingProblem(value, what);
  if (!problem) return null;
  const at =
    problem.path.length > MAX_PATH_CHARS ? `${problem.path.slice(0, MAX_PATH_CHARS)}…` : problem.path;
  return `${what} nested more than ${MAX_VALUE_DEPTH} levels deep (at ${at})`;
}

/**
 * The outcome with its output bounded in depth: a step whose output nests too deep fails without it (a
 * failed step like any other: its descendants are skipped, other branches go on).
 */
export function boundedOutcome(outcome: StepOutcome): StepOutcome {
  if (outcome.status === "cancelled" || outcome.output === undefined) return outcome;
  const problem = nestingFailure(outcome.output, "output");
  if (!problem) return outcome;
  return { status: "error", error: outcome.status === "error" ? `${outcome.error}; ${problem}` : problem };
}
