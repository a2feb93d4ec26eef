import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ENV_SETTINGS,
  FLAG_SETTINGS,
  type NumberSetting,
  SPAWNER_SETTINGS,
  STALE_RUN_SETTINGS,
} from "../../services/contracts/settings.js";
import { ConfigError } from "../../services/core/errors.js";
import { describeRange, MAX_TIMER_MS, parseSetting, readSettings } from "../../services/core/settings.js";

const TABLE = readFileSync(path.join(import.meta.dirname, "..", "..", "docs", "configuration.md"), "utf8");

/** docs/configuration.md's settings table: the third cell of the row whose first cell names the variable. */
function readmeDefault(name: string): string | undefined {
  const row = TABLE.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
  return row?.split("|")[3]?.trim();
}

describe("settings (contracts/settings.ts)", () => {
  it("docs/configuration.md's settings table states every variable's default as defined", () => {
    for (const setting of ENV_SETTINGS) {
      const cell = readmeDefault(setting.env);
      expect(cell, `docs/configuration.md row for ${setting.env}`).toBeDefined();
      expect(cell, setting.env).toContain(`\`${setting.default}\``);
    }
  });

  it("each default is within its own range", () => {
    const all: NumberSetting[] = [...ENV_SETTINGS, ...Object.values(FLAG_SETTINGS)];
    for (const setting of all) {
      expect(parseSetting(setting, String(setting.default)), setting.env ?? setting.flag).toEqual({
        ok: true,
        value: setting.default,
      });
    }
  });

  it("refuses what a timer cannot wait, 0 where 0 is invalid, and fractions of counts, in words", () => {
    const grace = STALE_RUN_SETTINGS.lostRunGraceSeconds;
    expect(parseSetting(grace, String(Math.floor(MAX_TIMER_MS / 1000)))).toMatchObject({ ok: true });
    expect(parseSetting(grace, "3000000")).toEqual({
      ok: false,
      problem: 'must be a number of seconds from 0 to 2147483, got "3000000"',
    });
    expect(parseSetting(SPAWNER_SETTINGS.concurrency, "0")).toMatchObject({ ok: false });
    expect(parseSetting(SPAWNER_SETTINGS.concurrency, "2.5")).toMatchObject({ ok: false });
    expect(parseSetting(SPAWNER_SETTINGS.concurrency, " 7 ")).toEqual({ ok: true, value: 7 });
    expect(describeRange(STALE_RUN_SETTINGS.pendingLimitSeconds)).toBe(
      "a number of seconds from 0 to 2147483 (0 = never)",
    );
    expect(describeRange(SPAWNER_SETTINGS.requestTimeoutMs)).toBe(
      `a whole number of ms from 1 to ${MAX_TIMER_MS}`,
    );
  });

  it("reads a group from the environment: defaults when unset or empty, one line naming a bad variable", () => {
    expect(
      readSettings(STALE_RUN_SETTINGS, { LOST_RUN_GRACE_SECONDS: "", PENDING_LIMIT_SECONDS: "0" }),
    ).toEqual({
      lostRunGraceSeconds: 60,
      pendingLimitSeconds: 0,
      reconcileIntervalSeconds: 15,
    });
    expect(() => readSettings(STALE_RUN_SETTINGS, { RECONCILE_INTERVAL_SECONDS: "often" })).toThrow(
      new ConfigError(
        'RECONCILE_INTERVAL_SECONDS must be a number of seconds from 0 to 2147483 (0 = no passes), got "often"',
      ),
    );
    expect(() => readSettings(STALE_RUN_SETTINGS, { EXECUTOR_LOST_RUN_SWEEP_SECONDS: "30" })).toThrow(
      /EXECUTOR_LOST_RUN_SWEEP_SECONDS is no longer read: use RECONCILE_INTERVAL_SECONDS/,
    );
  });
});
