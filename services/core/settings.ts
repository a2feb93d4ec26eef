import * as z from "zod";
import { type NumberSetting, REPLACED_SETTINGS } from "../contracts/settings.js";
import { ConfigError } from "./errors.js";

/**
 * Reading the numeric settings defined in contracts/settings.ts: one zod schema per setting (and per
 * group of them), one wording for every error, whether the value came from a flag or the environment.
 */

/** The longest a Node timer can wait: setTimeout turns a larger delay into 1 ms (with only a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The largest valid value: its own ceiling, and for durations never more than a timer can wait. */
export function maxOf(setting: NumberSetting): number {
  const timerBound =
    setting.unit === "seconds"
      ? Math.floor(MAX_TIMER_MS / 1000)
      : setting.unit === "ms"
        ? MAX_TIMER_MS
        : Number.POSITIVE_INFINITY;
  return Math.min(setting.max, timerBound);
}

/** 0 is valid besides a range that starts above it: the setting says what 0 means ("off", "none"). */
export const zeroAside = (setting: NumberSetting): boolean => setting.zero !== undefined && setting.min > 0;

/**
 * "a whole number from 1 to 100", "a number of seconds from 0 to 3600 (0 = none)", "0 (no passes) or a
 * number of seconds from 1 to 3600", …
 */
export function describeRange(setting: NumberSetting): string {
  const noun = setting.integer ? "a whole number" : "a number";
  const unit = { seconds: " of seconds", ms: " of ms", bytes: " of bytes", count: "", port: "" }[
    setting.unit
  ];
  const range = `${noun}${unit} from ${setting.min} to ${maxOf(setting)}`;
  if (zeroAside(setting)) return `0 (${setting.zero}) or ${range}`;
  return `${range}${setting.zero ? ` (0 = ${setting.zero})` : ""}`;
}

/**
 * The range in short, for --help and docs/configuration.md: "1-100", "0.1-3600 s", "0 (no passes) or
 * 1-3600 s".
 */
export function shortRange(setting: NumberSetting): string {
  const unit = { seconds: " s", ms: " ms", bytes: " bytes", count: "", port: "" }[setting.unit];
  const range = `${setting.min}-${maxOf(setting)}${unit}`;
  return zeroAside(setting) ? `0 (${setting.zero}) or ${range}` : range;
}

/** Whether `value` is one of the setting's valid values. */
export function withinRange(setting: NumberSetting, value: number): boolean {
  if (!Number.isFinite(value) || (setting.integer && !Number.isInteger(value))) return false;
  if (value === 0 && zeroAside(setting)) return true;
  return value >= setting.min && value <= maxOf(setting);
}

/** The schema of one setting's raw text (as env or a flag gives it): a number within its range. */
export function settingSchema(setting: NumberSetting): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .transform((text) => (text === "" ? Number.NaN : Number(text)))
    .refine((value) => withinRange(setting, value), { message: `must be ${describeRange(setting)}` });
}

/** Parses one value; the problem is worded to follow the name of its source ("--x" or "X"). */
export function parseSetting(
  setting: NumberSetting,
  raw: string,
): { ok: true; value: number } | { ok: false; problem: string } {
  const result = settingSchema(setting).safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problem: `must be ${describeRange(setting)}, got "${raw}"` };
}

type Values<G extends Record<string, NumberSetting>> = { readonly [K in keyof G]: number };

/**
 * A group of settings from the environment alone (an unset or empty variable gives the default);
 * ConfigError names the first bad variable. The commands read flags and env with cli/settings.ts.
 */
export function readSettings<G extends Record<string, NumberSetting>>(
  group: G,
  env: NodeJS.ProcessEnv = process.env,
): Values<G> {
  rejectReplacedSettings(env);
  const values: Record<string, number> = {};
  for (const [key, setting] of Object.entries(group)) {
    const raw = setting.env ? env[setting.env] : undefined;
    if (raw === undefined || raw === "") {
      values[key] = setting.default;
      continue;
    }
    const parsed = parseSetting(setting, raw);
    if (!parsed.ok) throw new ConfigError(`${setting.env} ${parsed.problem}`);
    values[key] = parsed.value;
  }
  return Object.freeze(values) as Values<G>;
}

/** A variable that an earlier version read and this one would ignore: refused, naming what replaced it. */
export function rejectReplacedSettings(env: NodeJS.ProcessEnv = process.env): void {
  for (const [old, replacement] of Object.entries(REPLACED_SETTINGS)) {
    if (env[old])
      throw new ConfigError(`${old} is no longer read: use ${replacement} (see khctl <command> --help)`);
  }
}
