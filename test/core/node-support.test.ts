import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { compileCacheDir } from "../../services/cli/compile-cache.js";
import {
  isSupportedNode,
  SUPPORTED_NODE_RANGE,
  unsupportedNodeMessage,
} from "../../services/core/node-support.js";
import { CLI_ENTRY } from "../helpers/cli-process.js";

const root = path.join(import.meta.dirname, "..", "..");
const packageJson = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const pulumiYaml = readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
const nodeargs = /^\s*nodeargs:\s*"([^"]*)"/m.exec(pulumiYaml)?.[1] ?? "";

/** Runs `args` with `node`, reporting its exit code and output (a failing exit is an answer, not an error). */
async function runNode(node: string, args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(node, args, { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** This Node, claiming to be `version` for the whole process (a preload that runs before the entry). */
const posingAs = (version: string) => [
  "--import",
  `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${version}"})`,
];

/** The machine's own node when it is one khctl refuses (Node 20 here), else undefined. */
const oldNode = (() => {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    try {
      const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim();
      if (!isSupportedNode(version)) return { path: candidate, version };
    } catch {}
  }
  return undefined;
})();

describe("supported Node versions", () => {
  it("package.json engines states the range the entries enforce", () => {
    expect(packageJson.engines.node).toBe(SUPPORTED_NODE_RANGE);
  });

  it.each([
    ["20.20.2", false],
    ["22.12.0", false],
    ["22.13.0", true],
    ["v22.23.5", true],
    ["23.11.0", false],
    ["24.0.0", true],
    ["25.2.1", false],
    ["26.0.0", true],
    ["27.1.0", true],
  ])("%s supported: %s", (version, supported) => {
    expect(isSupportedNode(version)).toBe(supported);
  });

  it("this Node, which runs the suite, is supported", () => {
    expect(isSupportedNode(process.versions.node)).toBe(true);
  });

  it("khctl on an old Node: one line naming it, the supported lines and how to get one; exit 1", async () => {
    const result = await runNode(process.execPath, [...posingAs("20.20.2"), CLI_ENTRY, "--help"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`khctl: ${unsupportedNodeMessage("20.20.2")}\n`);
    expect(result.stderr).toMatch(
      /Node 20\.20\.2 is not supported.*22\.13.*24.*26.*nvm install 24.*fnm use.*volta install node@24/,
    );
  });

  it.runIf(oldNode)("khctl on the machine's own old Node says the same", async () => {
    const old = oldNode as { path: string; version: string };
    const result = await runNode(old.path, [CLI_ENTRY, "status"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`khctl: ${unsupportedNodeMessage(old.version)}\n`);
  });

  it("the Pulumi program: Pulumi.yaml's nodeargs load the check before Pulumi's harness", async () => {
    expect(nodeargs.split(" ")).toEqual(["--import", "tsx", "--import", "./infra/supported-node.ts"]);
    const old = await runNode(process.execPath, [...posingAs("22.12.0"), ...nodeargs.split(" "), "-e", "0"]);
    expect(old.code).toBe(1);
    expect(old.stderr).toBe(`keeperhub: ${unsupportedNodeMessage("22.12.0")}\n`);
    const current = await runNode(process.execPath, [...nodeargs.split(" "), "-e", "console.log('ran')"]);
    expect(current).toMatchObject({ code: 0, stdout: "ran\n" });
  });

  it(".nvmrc and .node-version name a supported line", () => {
    for (const file of [".nvmrc", ".node-version"]) {
      expect(isSupportedNode(readFileSync(path.join(root, file), "utf8").trim()), file).toBe(true);
    }
  });
});

describe("the compile cache", () => {
  it("lives in the user's cache directory, never the repository or the shared temp dir", () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: "/home/u/.xdg" })).toBe(
      "/home/u/.xdg/keeperhub/node-compile-cache",
    );
    expect(compileCacheDir({})).toMatch(/\/\.cache\/keeperhub\/node-compile-cache$/);
  });
});
