import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { resolveTimeouts } from "../../services/cli/commands/run.js";
import { addSettingOptions } from "../../services/cli/settings.js";
import { RUNNER_SETTINGS } from "../../services/contracts/settings.js";
import { ConfigError } from "../../services/core/config.js";
import { resolveRunnerTimeouts } from "../../services/runner/timeouts.js";

/** `khctl run`'s timeout flags as given on a command line. */
function runFlags(...args: string[]): Command {
  const command = addSettingOptions(new Command("run").exitOverride(), RUNNER_SETTINGS);
  return command.parse(args, { from: "user" });
}

describe("khctl run timeouts", () => {
  it("default to 60 s per step and 300 s per run", () => {
    expect(resolveRunnerTimeouts({})).toEqual({ stepTimeoutMs: 60_000, runTimeoutMs: 300_000 });
  });

  it("end the run 10 s before JOB_ACTIVE_DEADLINE, so the runner records the timeout itself", () => {
    expect(resolveRunnerTimeouts({ JOB_ACTIVE_DEADLINE: "120" })).toEqual({
      stepTimeoutMs: 60_000,
      runTimeoutMs: 110_000,
    });
    expect(resolveRunnerTimeouts({ JOB_ACTIVE_DEADLINE: "5" }).runTimeoutMs).toBe(1_000);
  });

  it("take env over the defaults and flags over env; 0 means none", () => {
    const env = { STEP_TIMEOUT_SECONDS: "5", RUN_TIMEOUT_SECONDS: "0", JOB_ACTIVE_DEADLINE: "120" };
    expect(resolveTimeouts(runFlags(), env)).toEqual({ stepTimeoutMs: 5_000, runTimeoutMs: 0 });
    expect(resolveTimeouts(runFlags("--step-timeout", "1.5", "--run-timeout", "30"), env)).toEqual({
      stepTimeoutMs: 1_500,
      runTimeoutMs: 30_000,
    });
  });

  it("refuse a timeout above its ceiling (a day; far below what a timer can wait), by flag or variable", () => {
    expect(() => resolveRunnerTimeouts({ RUN_TIMEOUT_SECONDS: "3000000" })).toThrow(
      'RUN_TIMEOUT_SECONDS must be 0 (none) or a number of seconds from 1 to 86400, got "3000000"',
    );
    expect(() => resolveTimeouts(runFlags("--step-timeout", "3000000"), {})).toThrow(
      /^--step-timeout must be/,
    );
  });

  it("name the bad setting", () => {
    expect(() => resolveRunnerTimeouts({ STEP_TIMEOUT_SECONDS: "soon" })).toThrow(ConfigError);
    expect(() => resolveRunnerTimeouts({ STEP_TIMEOUT_SECONDS: "soon" })).toThrow(
      'STEP_TIMEOUT_SECONDS must be 0 (none) or a number of seconds from 0.1 to 86400, got "soon"',
    );
    expect(() => resolveTimeouts(runFlags("--run-timeout", "-1"), {})).toThrow(
      '--run-timeout must be 0 (none) or a number of seconds from 1 to 86400, got "-1"',
    );
  });
});
