import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ENV_SETTINGS,
  EXECUTOR_SETTINGS,
  FLAG_SETTINGS,
  type NumberSetting,
  SPAWNER_SETTINGS,
  STALE_RUN_SETTINGS,
} from "../../services/contracts/settings.js";
import { ConfigError } from "../../services/core/errors.js";
import {
  describeRange,
  MAX_TIMER_MS,
  parseSetting,
  readSettings,
  shortRange,
} from "../../services/core/settings.js";

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

  it("docs/configuration.md's range tables state every setting's range, flag and default as defined", () => {
    const ranges = TABLE.slice(TABLE.indexOf("## Valid ranges")).split("\n");
    for (const setting of ENV_SETTINGS) {
      const row = ranges.find((line) => line.startsWith(`| \`${setting.env}\` |`));
      const flag = setting.flag ? `\`${setting.flag.split(" ")[0]}\`` : "—";
      expect(row, setting.env).toBe(`| \`${setting.env}\` | ${flag} | ${shortRange(setting)} |`);
    }
    for (const [key, setting] of Object.entries(FLAG_SETTINGS)) {
      const flag = `| \`${setting.flag.split(" ")[0]}\` |`;
      const row = ranges.find(
        (line) =>
          line.startsWith(flag) && line.endsWith(`| \`${setting.default}\` | ${shortRange(setting)} |`),
      );
      expect(row, key).toBeDefined();
    }
  });

  it("every setting has a floor and a ceiling: 0 only where it means something, never past a timer", () => {
    const all: NumberSetting[] = [...ENV_SETTINGS, ...Object.values(FLAG_SETTINGS)];
    for (const setting of all) {
      const name = setting.env ?? setting.flag;
      expect(setting.max, name).toBeGreaterThanOrEqual(setting.min);
      if (setting.unit === "seconds") expect(setting.max, name).toBeLessThanOrEqual(MAX_TIMER_MS / 1000);
      if (setting.unit === "ms") expect(setting.max, name).toBeLessThanOrEqual(MAX_TIMER_MS);
    }
    // An interval of 0.0001 s (an idle executor's ~341 transactions a second) is refused; 0 is "no passes".
    const interval = STALE_RUN_SETTINGS.reconcileIntervalSeconds;
    expect(parseSetting(interval, "0.0001")).toEqual({
      ok: false,
      problem: 'must be 0 (no passes) or a number of seconds from 1 to 3600, got "0.0001"',
    });
    expect(parseSetting(interval, "0")).toEqual({ ok: true, value: 0 });
    expect(parseSetting(interval, "3600")).toEqual({ ok: true, value: 3600 });
    expect(parseSetting(interval, "3601")).toMatchObject({ ok: false });
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

  it("refuses what is above the ceiling, 0 where 0 is invalid, and fractions of counts, in words", () => {
    const grace = STALE_RUN_SETTINGS.lostRunGraceSeconds;
    expect(parseSetting(grace, "86400")).toMatchObject({ ok: true });
    expect(parseSetting(grace, "86401")).toEqual({
      ok: false,
      problem: 'must be a number of seconds from 0 to 86400, got "86401"',
    });
    expect(parseSetting(SPAWNER_SETTINGS.concurrency, "0")).toMatchObject({ ok: false });
    expect(parseSetting(SPAWNER_SETTINGS.concurrency, "2.5")).toMatchObject({ ok: false });
    expect(parseSetting(SPAWNER_SETTINGS.concurrency, " 7 ")).toEqual({ ok: true, value: 7 });
    expect(describeRange(STALE_RUN_SETTINGS.pendingLimitSeconds)).toBe(
      "0 (never) or a number of seconds from 10 to 86400",
    );
    expect(describeRange(SPAWNER_SETTINGS.requestTimeoutMs)).toBe("a whole number of ms from 100 to 300000");
    expect(describeRange(EXECUTOR_SETTINGS.warmRunners)).toBe(
      "a whole number from 0 to 64 (0 = start each runner when its run begins)",
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
        'RECONCILE_INTERVAL_SECONDS must be 0 (no passes) or a number of seconds from 1 to 3600, got "often"',
      ),
    );
    expect(() => readSettings(STALE_RUN_SETTINGS, { EXECUTOR_LOST_RUN_SWEEP_SECONDS: "30" })).toThrow(
      /EXECUTOR_LOST_RUN_SWEEP_SECONDS is no longer read: use RECONCILE_INTERVAL_SECONDS/,
    );
  });
});
