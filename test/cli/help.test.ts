import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_LIST } from "../../services/cli/command-list.js";
import { buildProgram, COMMAND_NAMES, commandOf } from "../../services/cli/program.js";
import { spawnCli } from "../helpers/cli-process.js";

const { version } = JSON.parse(
  await readFile(path.join(import.meta.dirname, "..", "..", "package.json"), "utf8"),
) as { version: string };

describe("khctl --help and --version (the real CLI process)", () => {
  it("--version prints package.json's version", async () => {
    const result = await spawnCli(["--version"], {}).result;
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("--help lists every command, with its arguments and summary, without loading them", async () => {
    const result = await spawnCli(["--help"], {}).result;
    expect(result.code).toBe(0);
    for (const name of COMMAND_NAMES) {
      expect(result.stdout).toContain(`  ${COMMAND_LIST[name].term} `);
    }
    expect(result.stdout).toContain("-V, --version");
  });

  it("an unknown verb is a usage error that suggests the nearest command", async () => {
    const result = await spawnCli(["trigerr"], {}).result;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("(Did you mean trigger?)");
  });
});

describe("the command list the top-level help prints", () => {
  it("matches every command's own term and description", async () => {
    const program = await buildProgram();
    const help = program.createHelp();
    const actual = Object.fromEntries(
      program.commands.map((command) => [
        command.name(),
        { term: help.subcommandTerm(command), summary: command.description() },
      ]),
    );
    expect(actual).toEqual(COMMAND_LIST);
  });

  it("an argv loads only the command it names (help <verb> included)", () => {
    expect(commandOf(["node", "khctl", "trigger", "x"])).toBe("trigger");
    expect(commandOf(["node", "khctl", "help", "status"])).toBe("status");
    expect(commandOf(["node", "khctl", "--help"])).toBeUndefined();
  });
});
