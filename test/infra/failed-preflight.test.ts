import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { createTempDir } from "../helpers/temp.js";
import { scaled } from "../helpers/wait.js";

// A failed preflight ends the run at once: the program, run in a process of its own as Pulumi runs it, loads
// none of its components (no docker, kubernetes or random SDK, nothing to start a provider for), has nothing
// left pending, and the process ends by itself once the doctor has answered. (How fast: `npm run bench -- stack`.)

const ROOT = path.join(import.meta.dirname, "..", "..");
const traces = await createTempDir("kh-preflight-trace");

for (const stack of ["local", "hybrid"]) {
  describe(`stack ${stack}, Docker down`, () => {
    it("ends with the doctor's message, having loaded none of the program's components", async () => {
      const trace = path.join(traces, `${stack}.txt`);
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [
          "--import",
          "tsx",
          `--import=${path.join(ROOT, "test", "helpers", "module-trace.mjs")}`,
          path.join(ROOT, "test", "infra", "failed-preflight.child.ts"),
          stack,
        ],
        { cwd: ROOT, env: { ...process.env, MODULE_TRACE_FILE: trace }, timeout: scaled(60_000) },
      );
      expect(JSON.parse(stdout)).toMatchObject({
        name: "PreflightError",
        message: expect.stringContaining("docker: Docker is not reachable"),
      });
      // It ended by itself (no timer or connection left holding it), after the doctor's answer.
      expect(stderr).toMatch(/^exited \d+ ms after the doctor's answer\n$/);
      const loaded = (await readFile(trace, "utf8"))
        .split("\n")
        .filter((line) => line.startsWith("file:"))
        .map((line) => path.relative(ROOT, fileURLToPath(line)));
      expect(loaded).toContain("infra/preflight.ts");
      const heavy = loaded.filter((file) =>
        /^(infra\/program\.ts|node_modules\/@pulumi\/(docker|kubernetes|random)\/)/.test(file),
      );
      expect(heavy).toEqual([]);
    });
  });
}
