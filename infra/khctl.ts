import path from "node:path";
import { fileURLToPath } from "node:url";

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
