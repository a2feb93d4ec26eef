import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, symlink } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type CliResult, spawnCli } from "../helpers/cli-process.js";
import { createTempDir } from "../helpers/temp.js";

/**
 * bin/khctl, the fast way the README teaches (export PATH="$PWD/bin:$PATH"): started by name from PATH,
 * as a shell starts it (its shebang finds node on PATH), it is the same khctl as the built entry.
 */

const root = path.join(import.meta.dirname, "..", "..");
const dir = await createTempDir("kh-bin");

/** `khctl <args>` looked up on PATH, whose first folder is `binDir` (then this node's). */
async function khctlOnPath(binDir: string, args: string[]): Promise<CliResult> {
  const child = spawn("khctl", args, {
    cwd: dir,
    env: {
      ...process.env,
      PATH: [binDir, path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "close");
  return { code: code as number, stdout, stderr };
}

describe("bin/khctl on PATH (the real processes)", () => {
  it("answers --help and --version exactly as the built entry does, from any folder", async () => {
    for (const args of [["--help"], ["--version"], ["workflow", "list", "--help"]]) {
      const viaBin = await khctlOnPath(path.join(root, "bin"), args);
      const viaEntry = await spawnCli(args, {}).result;
      expect(viaBin).toEqual(viaEntry);
      expect(viaBin.code).toBe(0);
    }
  });

  it("works through a symlink elsewhere (e.g. ~/bin/khctl), finding the checkout's dist/", async () => {
    const links = path.join(dir, "links");
    await mkdir(links);
    await symlink(path.join(root, "bin", "khctl"), path.join(links, "khctl"));
    const result = await khctlOnPath(links, ["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("in a checkout that is not built: one line saying how to build it, exit 1", async () => {
    const unbuilt = path.join(dir, "unbuilt", "bin");
    await mkdir(unbuilt, { recursive: true });
    await copyFile(path.join(root, "bin", "khctl"), path.join(unbuilt, "khctl"));
    const result = await khctlOnPath(unbuilt, ["--help"]);
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: "khctl: this checkout is not built (no dist/): run npm install, or npm run build\n",
    });
  });
});
