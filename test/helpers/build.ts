import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";

const root = path.join(import.meta.dirname, "..", "..");
const require = createRequire(import.meta.url);

/** tsc -p tsconfig.build.json (incremental: seconds when little changed), so dist/ is the code in the tree. */
export async function buildDist(): Promise<void> {
  const tsc = require.resolve("typescript/bin/tsc");
  await promisify(execFile)(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root }).catch(
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(`the build (tsc -p tsconfig.build.json) failed:\n${error.stdout}${error.stderr}`);
    },
  );
}
