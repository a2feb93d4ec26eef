import path from "node:path";
import { fileURLToPath } from "node:url";
import * as command from "@pulumi/command";

/** The repository root (where package.json and Pulumi.yaml live), found from this file. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Quotes one argument for /bin/sh. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The shell command that runs `khctl <args>` from the checkout, with tsx rather than dist/, so the
 * program always runs the source it was deployed from (no stale build). Run it with `dir: REPO_ROOT`.
 */
export function khctl(args: readonly string[]): string {
  return ["node", "--import", "tsx", "services/cli/main.ts", ...args].map(shellQuote).join(" ");
}

/**
 * `khctl <args> --json` for reading a report: its exit status says only "something failed", which the
 * JSON says too, so the command always succeeds and the program reads the report (or, with no JSON,
 * what went wrong on stderr).
 */
export function khctlReport(args: readonly string[]): string {
  return `${khctl([...args, "--json"])} || true`;
}

/** The invoke that runs a read-only command on this machine on every preview and update. */
export const RUN_TOKEN = "command:local:run";

export interface RunOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a read-only shell command on this machine from the checkout, on every preview and update (an
 * invoke, not a resource: it changes nothing, so it is not recorded). Its output is parsed, not logged.
 */
export async function runOnHost(script: string, environment?: Record<string, string>): Promise<RunOutput> {
  const result = await command.local.run({
    command: script,
    dir: REPO_ROOT,
    ...(environment ? { environment } : {}),
    logging: command.types.enums.local.Logging.None,
  });
  return { stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

/** The first lines of a command's stderr, for an error message. */
export function excerpt(text: string, lines = 3): string {
  return text.trim().split("\n").slice(0, lines).join(" / ").slice(0, 400);
}
