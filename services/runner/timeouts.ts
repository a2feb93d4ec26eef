import { JOB_SETTINGS, RUNNER_SETTINGS } from "../contracts/settings.js";
import { readSettings } from "../core/settings.js";

/** The runner's timeouts, ms; 0 for none. */
export interface RunTimeouts {
  readonly stepTimeoutMs: number;
  readonly runTimeoutMs: number;
}

/**
 * The timeouts `khctl run` uses (contracts/settings.ts RUNNER_SETTINGS): the overrides (its flags), then
 * env, then defaults: step 60 s; run JOB_ACTIVE_DEADLINE - 10 s when that is set (the run records its own
 * timeout before Kubernetes kills the pod), else 300 s. The executor and the spawner call it with the
 * runner's env to know how long a live run can last. ConfigError names a malformed variable.
 */
export function resolveRunnerTimeouts(
  env: NodeJS.ProcessEnv,
  overrides: { stepTimeoutMs?: number; runTimeoutMs?: number } = {},
): RunTimeouts {
  const settings = readSettings(RUNNER_SETTINGS, env);
  const { jobActiveDeadlineSeconds } = readSettings(JOB_SETTINGS, env);
  const runSet = Boolean(env[RUNNER_SETTINGS.runTimeoutSeconds.env]);
  const deadlineSet = Boolean(env[JOB_SETTINGS.jobActiveDeadlineSeconds.env]);
  const run = runSet
    ? settings.runTimeoutSeconds * 1000
    : deadlineSet
      ? Math.max(1000, (jobActiveDeadlineSeconds - 10) * 1000)
      : settings.runTimeoutSeconds * 1000;
  return {
    stepTimeoutMs: overrides.stepTimeoutMs ?? Math.round(settings.stepTimeoutSeconds * 1000),
    runTimeoutMs: overrides.runTimeoutMs ?? Math.round(run),
  };
}
