import { type Command, Option } from "commander";
import type { NumberSetting } from "../contracts/settings.js";
import { ConfigError } from "../core/errors.js";
import { parseSetting, rejectReplacedSettings, shortRange, zeroAside } from "../core/settings.js";
import { CliError } from "./errors.js";

/**
 * The one way a command reads its numeric settings (contracts/settings.ts): the flag, else its
 * environment variable (commander's Option.env), else the default. A bad value is refused with one line
 * that names where it came from: a flag is a usage error (exit 2), a variable a configuration error
 * (exit 1).
 */

/** The option of a setting that has a flag, for `command.addOption()`: help shows its variable and default. */
export function settingOption(setting: NumberSetting): Option {
  if (!setting.flag) throw new Error(`${setting.env} has no flag`);
  // A 0 outside the range is explained by the range itself (shortRange).
  const zero = setting.zero && !zeroAside(setting) ? `; 0 = ${setting.zero}` : "";
  const option = new Option(
    setting.flag,
    `${setting.summary} (default ${setting.default}${zero}; ${shortRange(setting)})`,
  );
  return setting.env ? option.env(setting.env) : option;
}

/** Adds the options of every setting of `group` that has a flag. */
export function addSettingOptions(command: Command, group: Record<string, NumberSetting>): Command {
  for (const setting of Object.values(group)) if (setting.flag) command.addOption(settingOption(setting));
  return command;
}

type Values<G extends Record<string, NumberSetting>> = { readonly [K in keyof G]: number };

/** The values of `group` for the command being run (see above). */
export function commandSettings<G extends Record<string, NumberSetting>>(
  command: Command,
  group: G,
): Values<G> {
  rejectReplacedSettings(process.env);
  const values: Record<string, number> = {};
  for (const [key, setting] of Object.entries(group)) values[key] = readSetting(command, setting);
  return Object.freeze(values) as Values<G>;
}

function readSetting(command: Command, setting: NumberSetting): number {
  const fromFlag = setting.flag ? flagValue(command, setting.flag) : undefined;
  const raw = fromFlag?.value ?? (setting.env ? process.env[setting.env] : undefined);
  if (raw === undefined || raw === "") return setting.default;
  const parsed = parseSetting(setting, raw);
  if (parsed.ok) return parsed.value;
  if (fromFlag?.source === "cli") {
    throw new CliError(`${setting.flag?.split(" ")[0]} ${parsed.problem}`, 2);
  }
  throw new ConfigError(`${setting.env} ${parsed.problem}`);
}

function flagValue(command: Command, flag: string): { value: string; source: string } | undefined {
  const key = new Option(flag).attributeName();
  const value = command.getOptionValue(key) as string | undefined;
  if (value === undefined) return undefined;
  return { value, source: command.getOptionValueSource(key) ?? "cli" };
}

/**
 * The flag's value when it was given on the command line (validated), else undefined: for a setting
 * whose variable and default another module resolves (`khctl run`'s timeouts, runner/timeouts.ts).
 */
export function flagSetting(command: Command, setting: NumberSetting): number | undefined {
  const given = setting.flag ? flagValue(command, setting.flag) : undefined;
  if (given?.source !== "cli") return undefined;
  return readSetting(command, setting);
}
