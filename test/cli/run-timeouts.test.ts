import { describe, expect, it } from "vitest";
import { resolveTimeouts } from "../../services/cli/commands/run.js";
import { ConfigError } from "../../services/core/config.js";

describe("khctl run timeouts", () => {
  it("default to 60 s per step and 300 s per run", () => {
    expect(resolveTimeouts({}, {})).toEqual({ stepTimeoutMs: 60_000, runTimeoutMs: 300_000 });
  });

  it("end the run 10 s before JOB_ACTIVE_DEADLINE, so the runner records the timeout itself", () => {
    expect(resolveTimeouts({}, { JOB_ACTIVE_DEADLINE: "120" })).toEqual({
      stepTimeoutMs: 60_000,
      runTimeoutMs: 110_000,
    });
    expect(resolveTimeouts({}, { JOB_ACTIVE_DEADLINE: "5" }).runTimeoutMs).toBe(1_000);
  });

  it("take env over the defaults and flags over env; 0 means none", () => {
    const env = { STEP_TIMEOUT_SECONDS: "5", RUN_TIMEOUT_SECONDS: "0", JOB_ACTIVE_DEADLINE: "120" };
    expect(resolveTimeouts({}, env)).toEqual({ stepTimeoutMs: 5_000, runTimeoutMs: 0 });
    expect(resolveTimeouts({ stepTimeout: "1.5", runTimeout: "30" }, env)).toEqual({
      stepTimeoutMs: 1_500,
      runTimeoutMs: 30_000,
    });
  });

  it("name the bad setting", () => {
    expect(() => resolveTimeouts({}, { STEP_TIMEOUT_SECONDS: "soon" })).toThrow(ConfigError);
    expect(() => resolveTimeouts({}, { STEP_TIMEOUT_SECONDS: "soon" })).toThrow(
      'STEP_TIMEOUT_SECONDS must be a number of seconds (0 for none), got "soon"',
    );
    expect(() => resolveTimeouts({ runTimeout: "-1" }, {})).toThrow(
      "--run-timeout must be a number of seconds",
    );
  });
});
