import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const root = path.join(import.meta.dirname, "..", "..");

/**
 * `npm run build` (tsc, incremental: seconds when little changed; then the runner's bundle), so dist/ is
 * the code in the tree, built the way the image and `npm install` build it.
 */
export async function buildDist(): Promise<void> {
  await promisify(execFile)("npm", ["run", "--silent", "build"], { cwd: root }).catch(
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(`the build (npm run build) failed:\n${error.stdout}${error.stderr}`);
    },
  );
}
