import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { CommanderError } from "commander";
import { vi } from "vitest";
import { CliError } from "../../services/cli/errors.js";
import { buildProgram } from "../../services/cli/program.js";
import { ConfigError } from "../../services/core/config.js";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs khctl in this process, the way main.ts does (exit codes 0/1/2, `khctl: message` on stderr), with
 * stdout and stderr captured. Fast; the spawned variant below proves the real entry point.
 */
export async function runCliInProcess(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const log = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => {
    stdout += `${parts.join(" ")}\n`;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const program = await buildProgram();
  const overrideExit = (command: typeof program): void => {
    command.exitOverride();
    command.configureOutput({ writeOut: (text) => (stdout += text), writeErr: (text) => (stderr += text) });
    for (const sub of command.commands) overrideExit(sub);
  };
  overrideExit(program);
  let code = 0;
  try {
    await program.parseAsync(["node", "khctl", ...args]);
  } catch (error) {
    if (error instanceof CommanderError) code = error.exitCode === 0 ? 0 : 2;
    else if (error instanceof CliError || error instanceof ConfigError) {
      stderr += `khctl: ${error.message}\n`;
      code = error instanceof CliError ? error.exitCode : 1;
    } else {
      stderr += `khctl: ${error instanceof Error ? error.message : String(error)}\n`;
      code = 1;
    }
  } finally {
    out.mockRestore();
    log.mockRestore();
    err.mockRestore();
  }
  return { code, stdout, stderr };
}

const root = path.join(import.meta.dirname, "..", "..");

/** Starts the real CLI (`node --import tsx services/cli/main.ts …`) as a child process. */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): ChildProcess & { result: Promise<CliResult> } {
  const child = spawn(process.execPath, ["--import", "tsx", "services/cli/main.ts", ...args], {
    cwd: root,
    // An env value of undefined removes that variable from the child's environment.
    env: Object.fromEntries(
      Object.entries({ ...process.env, LOG_LEVEL: "warn", ...env }).filter(
        ([, value]) => value !== undefined,
      ),
    ),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const result = once(child, "exit").then(([code]) => ({ code: code as number, stdout, stderr }));
  return Object.assign(child, { result });
}
