import { spawnSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * CLI start-up: how long `khctl --help` and `khctl --version` take (the built entry, as `npx khctl` runs
 * it), next to a bare `node -e 0` in the same run, so the ratio stays meaningful on a busy machine. The
 * target is under 300 ms on an idle machine. Needs dist/ (npm run build). Run alone: `npx tsx bench/cli.ts`.
 */

export interface CliBenchResult {
  readonly name: "cli";
  readonly runs: number;
  /** Median wall time of each command, ms. */
  readonly nodeMs: number;
  readonly helpMs: number;
  readonly versionMs: number;
  /** help and version median divided by node's. */
  readonly helpRatio: number;
  readonly versionRatio: number;
}

const entry = path.join(import.meta.dirname, "..", "dist", "services", "cli", "main.js");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median wall time of `node <args>`, ms; fails if the command does. */
function time(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    times.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`node ${args.join(" ")} failed: ${result.stderr}`);
  }
  return median(times);
}

export async function runCliBench(options: { runs?: number } = {}): Promise<CliBenchResult> {
  const runs = options.runs ?? 15;
  // Interleaved rounds would be fairer still; medians of 15 are steady enough here.
  const nodeMs = time(["-e", "0"], runs);
  const helpMs = time([entry, "--help"], runs);
  const versionMs = time([entry, "--version"], runs);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    name: "cli",
    runs,
    nodeMs: round(nodeMs),
    helpMs: round(helpMs),
    versionMs: round(versionMs),
    helpRatio: round(helpMs / nodeMs),
    versionRatio: round(versionMs / nodeMs),
  };
}

export function formatCliBench(result: CliBenchResult): string {
  return [
    `CLI start-up (median of ${result.runs})`,
    `  node -e 0        ${result.nodeMs} ms`,
    `  khctl --help     ${result.helpMs} ms  (${result.helpRatio}x node)`,
    `  khctl --version  ${result.versionMs} ms  (${result.versionRatio}x node)`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(formatCliBench(await runCliBench()));
}
