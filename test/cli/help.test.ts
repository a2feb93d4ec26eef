import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { COMMAND_LIST, type CommandName } from "../../services/cli/command-list.js";
import { CLIENT_COMMANDS } from "../../services/cli/dev-discovery.js";
import { FOUND_BY_ITSELF } from "../../services/cli/env-help.js";
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

/** Every command loaded, to walk the tree. */
const fullProgram = await buildProgram();

describe("the help of the commands that find a running khctl dev (the real CLI process)", () => {
  /** Every runnable command path under `command`: `["workflow", "list"]`, `["trigger"]`, … */
  const leaves = (command: Command, prefix: string[] = []): string[][] => {
    const path = [...prefix, command.name()];
    const subs = command.commands.filter((sub) => sub.name() !== "help");
    return subs.length === 0 ? [path] : [path, ...subs.flatMap((sub) => leaves(sub, path))];
  };
  const clientPaths = fullProgram.commands
    .filter((command) => CLIENT_COMMANDS.has(command.name() as CommandName))
    .flatMap((command) => leaves(command));
  /** The Environment lines naming a connection variable those commands find by themselves. */
  const connectionLines = (help: string) =>
    help.split("\n").filter((line) => /^\s{2}(DATABASE_URL|SQS_QUEUE_URL)\s/.test(line));

  it("never call DATABASE_URL or SQS_QUEUE_URL required, and say they are found by themselves", async () => {
    let checked = 0;
    for (const args of clientPaths) {
      const result = await spawnCli([...args, "--help"], {}).result;
      expect(result.code, args.join(" ")).toBe(0);
      for (const line of connectionLines(result.stdout)) {
        expect(line, args.join(" ")).not.toContain("required");
        expect(line, args.join(" ")).toContain(`(${FOUND_BY_ITSELF})`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    expect(clientPaths).toContainEqual(["execution"]);
  });

  it("while the services a stack runs, which look nothing up, still require them", async () => {
    const result = await spawnCli(["dispatch", "--help"], {}).result;
    expect(connectionLines(result.stdout).join("\n")).toMatch(/DATABASE_URL\s+\(required\)/);
  });
});
