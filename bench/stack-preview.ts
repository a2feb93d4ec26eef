import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { type Figure, figure, median } from "./figures.js";

/**
 * The Pulumi program's own part of a `pulumi preview`, per stack (cluster with a stub config), under Pulumi's mocks (no engine runs on
 * this machine, so none of the engine's or the providers' time is in it): a fresh `node --import tsx` that
 * loads the entry as Pulumi does and declares every resource; the figure is the time from before the SDK is
 * loaded to the last registration (median of RUNS), against the goal of 2 s, the whole process's beside it. And how long a failed preflight
 * (Docker down) keeps the process after the doctor's answer, against 3 s. The bare baseline: the same node
 * with tsx running nothing.
 */
const RUNS = 3;
const ROOT = path.join(import.meta.dirname, "..");
const exec = promisify(execFile);

async function timed(args: string[]): Promise<{ ms: number; stdout: string; stderr: string }> {
  const started = performance.now();
  const { stdout, stderr } = await exec(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT });
  return { ms: performance.now() - started, stdout, stderr };
}

export interface StackPreviewResult {
  readonly bareMs: number;
  readonly stacks: { stack: string; processMs: number; programMs: number; registrations: number }[];
  readonly failedPreflight: { stack: string; afterAnswerMs: number; processMs: number }[];
  readonly figures: Figure[];
}

async function previewOf(stack: string) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const { ms, stdout } = await timed([path.join(ROOT, "bench", "stack-preview.child.ts"), stack]);
    runs.push({ ms, ...(JSON.parse(stdout) as { programMs: number; registrations: number }) });
  }
  return {
    stack,
    processMs: median(runs.map((r) => r.ms)),
    programMs: median(runs.map((r) => r.programMs)),
    registrations: runs[0]?.registrations ?? 0,
  };
}

async function failedPreflightOf(stack: string) {
  const child = path.join(ROOT, "test", "infra", "failed-preflight.child.ts");
  const { ms, stderr } = await timed([child, stack]);
  const afterAnswerMs = Number(/exited (\d+) ms after/.exec(stderr)?.[1] ?? Number.NaN);
  return { stack, afterAnswerMs, processMs: ms };
}

export async function runStackPreviewBench(): Promise<StackPreviewResult> {
  const bare = [];
  for (let i = 0; i < RUNS; i++) bare.push((await timed(["-e", "0"])).ms);
  const bareMs = median(bare);
  const stacks = [await previewOf("local"), await previewOf("hybrid"), await previewOf("cluster")];
  const failedPreflight = [await failedPreflightOf("local"), await failedPreflightOf("hybrid")];
  const figures = [
    ...stacks.map((s) =>
      figure(
        `preview ${s.stack} (mocks)`,
        s.programMs,
        "ms",
        2000,
        { atMost: 1 },
        `the program with the SDK's load, goal 2 s; the whole process ${s.processMs.toFixed(0)} ms, bare node+tsx ${bareMs.toFixed(0)} ms`,
      ),
    ),
    ...failedPreflight.map((f) =>
      figure(
        `failed preflight ${f.stack}`,
        f.afterAnswerMs,
        "ms",
        3000,
        { atMost: 1 },
        "process end after the doctor's answer; goal 3 s",
      ),
    ),
  ];
  return { bareMs, stacks, failedPreflight, figures };
}

export function formatStackPreviewBench(result: StackPreviewResult): string {
  const lines = [
    "Pulumi program under mocks (no engine, no providers): a fresh node --import tsx per run",
    `  bare node --import tsx -e 0: ${result.bareMs.toFixed(0)} ms`,
    ...result.stacks.map(
      (s) =>
        `  preview ${s.stack.padEnd(6)} process ${s.processMs.toFixed(0)} ms, program ${s.programMs.toFixed(0)} ms, ${s.registrations} registrations`,
    ),
    ...result.failedPreflight.map(
      (f) =>
        `  failed preflight ${f.stack.padEnd(6)} process ${f.processMs.toFixed(0)} ms, ended ${f.afterAnswerMs} ms after the doctor's answer`,
    ),
  ];
  return lines.join("\n");
}
