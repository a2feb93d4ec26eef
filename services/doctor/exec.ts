import { execFile } from "node:child_process";

/** Runs a program (no shell) and resolves its stdout; rejects with the first line of stderr, or why it could not start. */
export type Exec = (
  file: string,
  args: readonly string[],
  options?: { timeoutMs?: number },
) => Promise<string>;

export const exec: Exec = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { timeout: options.timeoutMs ?? 10_000, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return reject(new Error(`${file} is not installed (not found on PATH)`));
        if (error.killed) return reject(new Error(`${file} ${args.join(" ")} did not answer in time`));
        const line = stderr.split("\n").find((l) => l.trim()) ?? error.message;
        reject(new Error(line.trim()));
      },
    );
  });
