import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { it } from "vitest";
import { scaled } from "../helpers/wait.js";

/**
 * Debian's chromium for the browser tests, driven by playwright-core (no browser download; .ci/run installs
 * chromium). Without it a browser test file is skipped, except in CI, where that is a failure.
 */

/** CHROMIUM_PATH, else Debian's chromium. */
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const haveChromium = existsSync(CHROMIUM);
/** Where screenshots go (gitignored). */
export const ARTIFACTS = path.join(import.meta.dirname, "..", "..", ".artifacts", "console");

/** A test that fails in CI when chromium is missing (call at a browser test file's top level). */
export function requireChromiumInCi(): void {
  it.runIf(!haveChromium && process.env.CI)("CI has chromium for the browser tests", () => {
    throw new Error(
      `no browser at ${CHROMIUM}: .ci/run installs Debian's chromium (apt-get install chromium)`,
    );
  });
}

/** Starts chromium, with the screenshot directory in place. */
export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, timeout: scaled(20_000) });
}
