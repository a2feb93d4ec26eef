import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * `npm run bench [-- name ...]`: runs the benchmark modules (all, or those named), prints each one's
 * table, and writes the figures as JSON to bench/results/ (<timestamp>.json and latest.json, gitignored)
 * for comparison between commits. To add a benchmark, add an entry to BENCHES.
 */
interface BenchModule {
  readonly name: string;
  /** Runs the benchmark; returns its figures (written as JSON) and the table printed for people. */
  run(): Promise<{ result: unknown; table: string }>;
}

const BENCHES: BenchModule[] = [
  {
    name: "cli",
    async run() {
      const { runCliBench, formatCliBench } = await import("./cli.js");
      const result = await runCliBench();
      return { result, table: formatCliBench(result) };
    },
  },
  {
    name: "dispatch",
    async run() {
      const { runDispatchBench, formatDispatchBench } = await import("./dispatch.js");
      const result = await runDispatchBench();
      return { result, table: formatDispatchBench(result) };
    },
  },
  {
    name: "spawner",
    async run() {
      const { runSpawnerBench, formatSpawnerBench } = await import("./spawner.js");
      const result = await runSpawnerBench();
      return { result, table: formatSpawnerBench(result) };
    },
  },
];

const wanted = process.argv.slice(2);
const selected = wanted.length ? BENCHES.filter((bench) => wanted.includes(bench.name)) : BENCHES;
if (selected.length === 0) {
  console.error(`no such benchmark: ${wanted.join(", ")} (have: ${BENCHES.map((b) => b.name).join(", ")})`);
  process.exit(2);
}

const results: Record<string, unknown> = {};
const failures: string[] = [];
for (const bench of selected) {
  const started = performance.now();
  process.stderr.write(`running ${bench.name}…\n`);
  try {
    const { result, table } = await bench.run();
    results[bench.name] = result;
    console.log(`${table}\n  (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  } catch (error) {
    failures.push(bench.name);
    console.error(`${bench.name} failed: ${error instanceof Error ? error.stack : String(error)}`);
  }
}

const dir = path.join(import.meta.dirname, "results");
await mkdir(dir, { recursive: true });
const record = { at: new Date().toISOString(), node: process.version, results };
const stamp = record.at.replace(/[:.]/g, "-");
await writeFile(path.join(dir, `${stamp}.json`), `${JSON.stringify(record, null, 2)}\n`);
await writeFile(path.join(dir, "latest.json"), `${JSON.stringify(record, null, 2)}\n`);
console.log(`results: bench/results/${stamp}.json`);
if (failures.length) process.exitCode = 1;
