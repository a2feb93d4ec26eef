import { ENV, RUNNER_ENV } from "../contracts/names.js";
import { ConfigError } from "../core/config.js";
import { DEFAULT_RUN_TIMEOUT_MS, DEFAULT_STEP_TIMEOUT_MS } from "./run-execution.js";

/** The runner's timeouts, ms; 0 for none. */
export interface RunTimeouts {
  readonly stepTimeoutMs: number;
  readonly runTimeoutMs: number;
}

/**
 * A number of seconds (0 = none) as ms; undefined when unset or empty. A malformed value throws the
 * error `invalid` makes of a message that names `source`.
 */
export function timeoutSecondsToMs(
  value: string | undefined,
  source: string,
  invalid: (message: string) => Error = (message) => new ConfigError(message),
): number | undefined {
  if (value === undefined || value === "") return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw invalid(`${source} must be a number of seconds (0 for none), got "${value}"`);
  }
  return Math.round(seconds * 1000);
}

/**
 * The timeouts `khctl run` uses: the overrides (its flags), then env, then defaults: step 60 s; run
 * JOB_ACTIVE_DEADLINE − 10 s when that is set (the run records its own timeout before Kubernetes kills
 * the pod), else 300 s. The executor calls it with its children's env to know how long a live run can
 * last. ConfigError names a malformed variable.
 */
export function resolveRunnerTimeouts(
  env: NodeJS.ProcessEnv,
  overrides: { stepTimeoutMs?: number; runTimeoutMs?: number } = {},
): RunTimeouts {
  const step =
    overrides.stepTimeoutMs ??
    timeoutSecondsToMs(env[RUNNER_ENV.stepTimeoutSeconds], RUNNER_ENV.stepTimeoutSeconds) ??
    DEFAULT_STEP_TIMEOUT_MS;
  const deadline = timeoutSecondsToMs(env[ENV.jobActiveDeadline], ENV.jobActiveDeadline);
  const run =
    overrides.runTimeoutMs ??
    timeoutSecondsToMs(env[RUNNER_ENV.runTimeoutSeconds], RUNNER_ENV.runTimeoutSeconds) ??
    (deadline ? Math.max(1000, deadline - 10_000) : DEFAULT_RUN_TIMEOUT_MS);
  return { stepTimeoutMs: step, runTimeoutMs: run };
}
