import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterFile } from "./after-file.js";

/**
 * A new directory for the calling test file, removed when the file ends. It lives under the test run's
 * own temp dir (TMPDIR, set by global-setup.ts), which the run's teardown removes with whatever is left,
 * so nothing a test or its processes write to a temp dir outlives the run.
 */
export async function createTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  afterFile(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
