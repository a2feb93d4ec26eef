import { CommanderError } from "commander";
import { vi } from "vitest";
import { CliError } from "../../services/cli/errors.js";
import { buildProgram } from "../../services/cli/program.js";
import { ConfigError } from "../../services/core/config.js";
import type { CliResult } from "../helpers/cli-process.js";

/**
 * Runs khctl in this process, the way main.ts does (exit codes 0/1/2, `khctl: message` on stderr), with
 * stdout and stderr captured. Fast; spawnCli (test/helpers/cli-process.ts) proves the real entry point.
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
