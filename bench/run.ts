import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Figure, formatFigures, machine } from "./figures.js";

/**
 * `npm run bench [-- name ...] [--compare <file>]`: runs the benchmark modules (all, or those named),
 * prints each one's own table and then every figure beside its bare limit, and writes the record to
 * bench/results/<timestamp>.json and bench/results/latest.json (gitignored): the machine (cores, load,
 * Node) and one entry per figure. `--compare` prints each figure's change against an earlier record.
 * To add a benchmark, add an entry to BENCHES.
 */
interface BenchModule {
  readonly name: string;
  run(): Promise<{ figures: Figure[]; table: string }>;
}

const BENCHES: BenchModule[] = [
  {
    name: "cli",
    async run() {
      const { runCliBench, formatCliBench } = await import("./cli.js");
      const result = await runCliBench();
      return { figures: result.figures, table: formatCliBench(result) };
    },
  },
  {
    name: "dispatch",
    async run() {
      const { runDispatchBench, formatDispatchBench } = await import("./dispatch.js");
      const result = await runDispatchBench();
      return { figures: result.figures, table: formatDispatchBench(result) };
    },
  },
  {
    name: "catch-up",
    async run() {
      const { runCatchUpBench, formatCatchUpBench } = await import("./catch-up.js");
      const result = await runCatchUpBench();
      return { figures: result.figures, table: formatCatchUpBench(result) };
    },
  },
  {
    name: "spawner",
    async run() {
      const { runSpawnerBench, formatSpawnerBench } = await import("./spawner.js");
      const result = await runSpawnerBench();
      return { figures: result.figures, table: formatSpawnerBench(result) };
    },
  },
  {
    name: "executor",
    async run() {
      const { runExecutorBench, formatExecutorBench } = await import("./executor.js");
      const result = await runExecutorBench();
      return { figures: result.figures, table: formatExecutorBench(result) };
    },
  },
  {
    name: "console",
    async run() {
      const { runConsoleBench, formatConsoleBench } = await import("./console.js");
      const result = await runConsoleBench();
      return { figures: result.figures, table: formatConsoleBench(result) };
    },
  },
  {
    name: "stack",
    async run() {
      const { runStackPreviewBench, formatStackPreviewBench } = await import("./stack-preview.js");
      const result = await runStackPreviewBench();
      return { figures: result.figures, table: formatStackPreviewBench(result) };
    },
  },
  {
    name: "kills",
    async run() {
      const { runKillsBench, formatKillsBench } = await import("./kills.js");
      const result = await runKillsBench();
      return { figures: result.figures, table: formatKillsBench(result) };
    },
  },
  {
    name: "stop",
    async run() {
      const { runStopBench, formatStopBench } = await import("./stop.js");
      const result = await runStopBench();
      return { figures: result.figures, table: formatStopBench(result) };
    },
  },
  {
    name: "runner",
    async run() {
      const { runRunnerBench, formatRunnerBench } = await import("./runner.js");
      const result = await runRunnerBench();
      return { figures: result.figures, table: formatRunnerBench(result) };
    },
  },
  {
    name: "pod-start",
    async run() {
      const { runPodStartBench, formatPodStartBench } = await import("./pod-start.js");
      const result = await runPodStartBench();
      return { figures: result.figures, table: formatPodStartBench(result) };
    },
  },
  {
    name: "hybrid-memory",
    async run() {
      const { runHybridMemoryBench, formatHybridMemoryBench } = await import("./hybrid-memory.js");
      const result = await runHybridMemoryBench();
      return { figures: result.figures, table: formatHybridMemoryBench(result) };
    },
  },
  {
    name: "rollout",
    async run() {
      const { runRolloutBench, formatRolloutBench } = await import("./rollout.js");
      const result = await runRolloutBench();
      return { figures: result.figures, table: formatRolloutBench(result) };
    },
  },
  {
    name: "cluster",
    async run() {
      const { runClusterBench, formatClusterBench } = await import("./cluster.js");
      const result = await runClusterBench();
      return { figures: result.figures, table: formatClusterBench(result) };
    },
  },
];

export interface BenchRecord {
  readonly at: string;
  readonly machine: ReturnType<typeof machine>;
  readonly figures: Figure[];
}

/** Each figure's change against the same-named figure of an earlier record. */
export function formatComparison(current: readonly Figure[], earlier: BenchRecord): string {
  const before = new Map(earlier.figures.map((f) => [f.name, f]));
  const lines = current.map((f) => {
    const old = before.get(f.name);
    if (!old) return `  ${f.name}: new`;
    const change = (now: number, then: number) =>
      then === 0 ? "n/a" : `${now >= then ? "+" : ""}${(((now - then) / then) * 100).toFixed(0)}%`;
    return `  ${f.name.padEnd(20)} ratio ${old.ratio.toFixed(2)} -> ${f.ratio.toFixed(2)} (${change(f.ratio, old.ratio)}), value ${change(f.value, old.value)}${old.met === f.met ? "" : f.met ? ", now met" : ", no longer met"}`;
  });
  return [
    `compared with ${earlier.at} (${earlier.machine.cores} cores, load ${earlier.machine.load.join(" ")}, ${earlier.machine.node}):`,
    ...lines,
  ].join("\n");
}

async function readRecord(file: string): Promise<BenchRecord> {
  const record = JSON.parse(await readFile(file, "utf8")) as Partial<BenchRecord>;
  if (!Array.isArray(record.figures) || !record.machine || !record.at) {
    throw new Error(`${file} is not a bench record (it has no figures)`);
  }
  return record as BenchRecord;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { compare: { type: "string" } },
  });
  const selected = positionals.length ? BENCHES.filter((bench) => positionals.includes(bench.name)) : BENCHES;
  const unknown = positionals.filter((name) => !BENCHES.some((bench) => bench.name === name));
  if (unknown.length) {
    console.error(
      `no such benchmark: ${unknown.join(", ")} (have: ${BENCHES.map((b) => b.name).join(", ")})`,
    );
    return 2;
  }
  // Read before running, so a wrong path fails in a second rather than after the runs.
  const earlier = values.compare ? await readRecord(values.compare) : undefined;
  const startMachine = machine();
  const figures: Figure[] = [];
  const failures: string[] = [];
  for (const bench of selected) {
    const started = performance.now();
    process.stderr.write(`running ${bench.name}…\n`);
    try {
      const result = await bench.run();
      figures.push(...result.figures);
      console.log(`${result.table}\n  (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
    } catch (error) {
      failures.push(bench.name);
      console.error(`${bench.name} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
  }
  console.log(formatFigures(figures));
  // The load before the runs is the one that tells whether the machine was idle.
  const record: BenchRecord = { at: new Date().toISOString(), machine: startMachine, figures };
  console.log(
    `\nmachine: ${record.machine.cores} cores, load ${record.machine.load.join(" ")} at start, Node ${record.machine.node}`,
  );
  if (earlier) console.log(`\n${formatComparison(figures, earlier)}`);
  const dir = path.join(import.meta.dirname, "results");
  await mkdir(dir, { recursive: true });
  const stamp = record.at.replace(/[:.]/g, "-");
  const text = `${JSON.stringify(record, null, 2)}\n`;
  await writeFile(path.join(dir, `${stamp}.json`), text);
  await writeFile(path.join(dir, "latest.json"), text);
  console.log(`results: bench/results/${stamp}.json (and latest.json)`);
  return failures.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = await main();
