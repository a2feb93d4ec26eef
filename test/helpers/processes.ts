import { readdir, readFile } from "node:fs/promises";

/** A process as /proc shows it: its command line's arguments and its environment as one text. */
export interface ProcessInfo {
  readonly pid: number;
  readonly argv: readonly string[];
  /** NUL-separated NAME=value entries; empty when /proc does not let us read them. */
  readonly environ: string;
}

/**
 * The processes of this machine other than this one, from /proc (the tests' way to see what a test left
 * running). One that ends while it is read is skipped.
 */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (!cmdline) continue;
    const environ = await readFile(`/proc/${entry}/environ`, "utf8").catch(() => "");
    found.push({ pid: Number(entry), argv: cmdline.split("\0").filter(Boolean), environ });
  }
  return found;
}

/** A process's command line as a shell would show it, after its pid. */
export const describeProcess = (info: ProcessInfo): string => `${info.pid}: ${info.argv.join(" ")}`;

/** Pids of the warm runners (`khctl run --id-from-stdin`) started with `databaseUrl` in their environment. */
export async function warmRunnerPids(databaseUrl: string): Promise<number[]> {
  return (await listProcesses())
    .filter((info) => info.argv.includes("--id-from-stdin") && info.environ.includes(databaseUrl))
    .map((info) => info.pid);
}
