import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../../infra/config.js";
import { nextCommands } from "../../infra/program.js";
import { type CliProcess, spawnCli } from "../helpers/cli-process.js";
import { describeProcess, listProcesses } from "../helpers/processes.js";
import { createTempDir } from "../helpers/temp.js";
import { until } from "../helpers/wait.js";

// Every khctl line a stack prints after `pulumi up` (nextCommands), run with the built khctl against the
// embedded default (a `khctl dev` of this file's own, found by the commands as a stack's exports would
// point them at a stack): each one exists, takes its flags, and runs.

const ROOT = path.join(import.meta.dirname, "..", "..");
const dataDir = await createTempDir("kh-next-commands");
/** A second terminal of this checkout: no connection settings, khctl dev found through its data dir. */
const terminal = {
  KH_DATA_DIR: dataDir,
  DATABASE_URL: undefined,
  SQS_QUEUE_URL: undefined,
  AWS_ENDPOINT_URL: undefined,
};
const FREE_PORTS = ["--port", "0", "--sqs-port", "0", "--console-port", "0", "--demo-api-port", "0"];

let dev: CliProcess;

beforeAll(async () => {
  dev = spawnCli(["dev", ...FREE_PORTS], terminal);
  await dev.waitForOutput("Waiting for the next minute", 60_000);
}, 90_000);

/** The processes this file started that are still alive: every one inherits its KH_DATA_DIR. */
async function leftOver(): Promise<string[]> {
  return (await listProcesses())
    .filter((info) => info.environ.split("\0").includes(`KH_DATA_DIR=${dataDir}`))
    .map(describeProcess);
}

afterAll(async () => {
  dev?.kill("SIGINT");
  await dev?.result;
  // Nothing this file started outlives it: the executor's runner children end just after dev.
  await until("the processes of this file ending", async () => (await leftOver()).length === 0);
});

/** The khctl arguments of each `npx khctl …` line, for a stack. */
function khctlLines(stack: string): string[][] {
  return nextCommands(parseStackConfig({}, stack), stack)
    .filter((line) => line.startsWith("npx khctl "))
    .map((line) => line.slice("npx khctl ".length).split(" "));
}

for (const stack of ["local", "hybrid"]) {
  describe(`stack ${stack}: the khctl lines of nextCommands`, () => {
    it("names only files that exist", () => {
      const files = khctlLines(stack).flatMap((args) =>
        args.flatMap((arg, i) => (args[i - 1] === "--file" ? [arg] : [])),
      );
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(existsSync(path.join(ROOT, file)), file).toBe(true);
    });

    it("each runs: workflow create, then trigger --wait on what it created, status, console", async () => {
      const lines = khctlLines(stack);
      expect(lines.map((args) => args[0])).toEqual(["status", "console", "workflow", "trigger"]);
      let workflowId = "";
      for (const args of lines) {
        if (args[0] === "console") {
          // A server: it must come up (on a free port: a test never takes the default one), then stop.
          const server = spawnCli([...args, "--port", "0"], terminal);
          await server.waitForOutput("Ctrl-C stops it.");
          const url = /KeeperHub console: (http:\/\/127\.0\.0\.1:\d+) /.exec(server.output("stdout"))?.[1];
          expect((await fetch(`${url}/workflows`)).status, server.output()).toBe(200);
          server.kill("SIGINT");
          const stopped = await server.result;
          expect(stopped.code, `${server.signalCode} ${server.output()}`).toBe(0);
          continue;
        }
        const argv = args.map((arg) => (arg === "<workflowId>" ? workflowId : arg));
        const result = await spawnCli(argv, terminal).result;
        const said = `khctl ${argv.join(" ")}: ${result.stdout}${result.stderr}`;
        // 2 is a usage error (an unknown verb or flag); 1 may be the report's verdict (no Docker here for
        // `status --profile`, or the example's public site out of reach for the run), never a bad line.
        expect(result.code, said).not.toBe(2);
        expect(result.stderr, said).not.toMatch(
          /unknown (command|option)|too many arguments|missing required/,
        );
        if (args[0] === "workflow") {
          expect(result.code, said).toBe(0);
          workflowId = /\b([0-9a-z]{21})\b/.exec(result.stdout)?.[1] ?? "";
          expect(workflowId, said).not.toBe("");
        }
        // It ran to an end: the execution and its verdict (success, or the step's error offline).
        if (args[0] === "trigger")
          expect(result.stdout, said).toMatch(
            /^Execution +[0-9a-z]{21}\n[\s\S]*^(Status +success|Error +node)/m,
          );
      }
      // Both stacks print the same `workflow create`; names are unique, so the next stack starts clean.
      const removed = await spawnCli(["workflow", "delete", workflowId, "--yes"], terminal).result;
      expect(removed.code, removed.stderr).toBe(0);
    }, 120_000);
  });
}
