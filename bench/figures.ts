import { readFileSync } from "node:fs";
import os from "node:os";

/**
 * A benchmark figure: a measured value beside its bare limit (or baseline) measured in the same run, their
 * ratio, and the goal the ratio is held to. Ratios are what count: the machine's load moves the values.
 */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The bare limit or baseline, same unit (or the target itself, for a latency goal). */
  readonly limit: number;
  /** value / limit. */
  readonly ratio: number;
  /** The goal for `ratio`, in words (">= 0.8", "<= 1"). */
  readonly goal: string;
  readonly met: boolean;
  /** What the limit is, and anything else a reader needs. */
  readonly note?: string;
}

export function figure(
  name: string,
  value: number,
  unit: string,
  limit: number,
  goal: { atLeast: number } | { atMost: number } | { between: readonly [number, number] },
  note?: string,
): Figure {
  const ratio = value / limit;
  const [text, met] =
    "atLeast" in goal
      ? [`>= ${goal.atLeast}`, ratio >= goal.atLeast]
      : "atMost" in goal
        ? [`<= ${goal.atMost}`, ratio <= goal.atMost]
        : [`${goal.between[0]}..${goal.between[1]}`, ratio >= goal.between[0] && ratio <= goal.between[1]];
  return { name, value, unit, limit, ratio, goal: text, met, ...(note ? { note } : {}) };
}

/** The figure with a second condition its goal also needs (stated in `goal`). */
export function alsoHolding(condition: boolean, goal: string, f: Figure): Figure {
  return { ...f, goal, met: f.met && condition };
}

/** The value at percentile p (0-100) of values, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile of no values");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

/**
 * CPU seconds used by this process's finished children (cutime + cstime of /proc/self/stat: children
 * that exited and were waited for, as Node does for every child); null where there is no /proc.
 */
export function childrenCpuSeconds(): number | null {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // After the command name, which is in parentheses and may hold spaces: fields 3 onwards.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}

/** Linux's USER_HZ, the unit of /proc's CPU times (100 on every architecture Node ships for). */
const CLOCK_TICKS_PER_SECOND = 100;

/** The machine the figures come from. */
export function machine(): { cores: number; load: number[]; node: string; platform: string } {
  return {
    cores: os.availableParallelism(),
    load: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

const number = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

/** The figures as a table: value, bare limit, ratio, goal, met. */
export function formatFigures(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${number(f.value)} ${f.unit}`,
    `${number(f.limit)} ${f.unit}`,
    f.ratio.toFixed(2),
    f.goal,
    f.met ? "yes" : "NO",
  ]);
  const head = ["figure", "value", "limit / baseline", "ratio", "goal", "met"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
  const notes = figures.filter((f) => f.note).map((f) => `  ${f.name}: ${f.note}`);
  return [line(head), ...rows.map(line), ...(notes.length ? ["", ...notes] : [])].join("\n");
}
